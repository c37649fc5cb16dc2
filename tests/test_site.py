"""The built website as a reader meets it, in headless Chromium (run after `make site`)."""
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from entres import claims

SITE = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(not (SITE / "index.html").exists(), reason="site not built (make site)"),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
# every claim's own page, and the conv-net page that tests RA-1/2/4 a second time
CLAIM_PAGES = sorted({c.notebook for c in claims.CLAIMS.values() if c.notebook} | {"ra_conv"})


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def open_page(browser, name, width=1300):
    page = browser.new_page(viewport={"width": width, "height": 1000})
    outside = []
    page.on("request", lambda r: None if r.url.startswith(("file://", "data:")) else outside.append(r.url))
    page.goto((SITE / f"{name}.html").as_uri())
    page.wait_for_load_state("load")
    return page, outside


def test_internal_links_resolve():
    """Every relative link of every built page points to a file that exists, and to an anchor on it."""
    import re
    from html.parser import HTMLParser
    from urllib.parse import unquote, urlsplit

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.hrefs, self.ids = [], set()

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if attrs.get("id"):
                self.ids.add(attrs["id"])
            if tag == "a" and attrs.get("href"):
                self.hrefs.append(attrs["href"])

    parsed = {}
    for page in SITE.glob("*.html"):
        parsed[page] = Links()
        parsed[page].feed(page.read_text())
    broken = []
    for page, links in parsed.items():
        for href in links.hrefs:
            parts = urlsplit(href)
            if parts.scheme or href.startswith(("mailto:", "//")) or re.match(r"^#?$", href):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                broken.append(f"{page.name} -> {href}")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else set()
                if parts.fragment not in ids:
                    broken.append(f"{page.name} -> {href} (no such anchor)")
    assert broken == [], broken
    assert sum(len(p.hrefs) for p in parsed.values()) > 100


def test_every_page_loads_offline_without_errors(browser):
    pages = sorted(p.stem for p in SITE.glob("*.html") if p.stem not in ("genindex", "search"))
    assert {"intro", "methods", "dashboard", *CLAIM_PAGES} <= set(pages)
    for name in pages:
        page, outside = open_page(browser, name)
        text = page.inner_text("main")
        assert outside == [], f"{name} requested {outside}"
        assert "Traceback" not in text and "Error" not in page.locator(".output.traceback").all_inner_texts()
        assert page.locator(".output.error, .output.traceback").count() == 0, name
        page.close()


def test_claim_pages_show_verdict_and_figure(browser):
    for name in CLAIM_PAGES:
        page, _ = open_page(browser, name)
        assert "verdict" in page.inner_text("main"), name
        assert page.locator("main img").count() >= 1, name
        page.close()


def test_math_is_typeset_locally(browser):
    page, outside = open_page(browser, "methods")
    page.wait_for_selector("mjx-container", timeout=15000)
    assert page.locator("mjx-container").count() > 10 and outside == []
    page.close()


def test_dashboard_links_reach_claim_pages(browser):
    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page, _ = open_page(browser, "dashboard")
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    links = page.locator("table.claims-dashboard a")
    assert links.count() >= len(CLAIM_PAGES)
    for i in range(links.count()):
        claim_id = links.nth(i).inner_text()
        target = browser.new_page()
        target.goto(SITE.as_uri() + "/" + links.nth(i).get_attribute("href"))
        assert claim_id in target.title(), (claim_id, target.title())
        target.close()
    page.close()
    page, _ = open_page(browser, CLAIM_PAGES[0])
    page.wait_for_selector("mjx-container", timeout=15000)
    page.screenshot(path=str(shots / f"{CLAIM_PAGES[0]}.png"), full_page=True)
    page.close()


# --------------------------------------------------------------------------------------------------
# The website as a reader meets it: badges, stamps, folded code, figures, columns that fit, the dashboard

SHOTS = ROOT / "_build" / "screenshots"
COMMITTED_CLAIMS = ROOT / "data" / "results" / "claims"  # the tests' own results folder is an empty one
READER_WIDTH = 1280
# two claim pages a reader meets early: a Residual Alignment page and an Entangled Residual Mappings page
SAMPLE_PAGES = ["ra1_line", "erm_cnn"]


def _v1_pages() -> set[str]:
    """Claim pages whose filed verdicts are still on protocol v1 (their conversion, badge included, is pending)."""
    import json

    pages = set()
    for path in COMMITTED_CLAIMS.glob("*.book.json"):
        payload = json.loads(path.read_text())
        if payload.get("protocol") != 2:
            pages.add(payload.get("notebook"))
    return pages


def claim_page_params():
    pending = _v1_pages()
    return [pytest.param(name, marks=pytest.mark.xfail(reason="page not yet on protocol v2", strict=False))
            if name in pending else name for name in CLAIM_PAGES]


def fits_column(page) -> tuple[bool, str]:
    """The page does not scroll sideways and nothing in the main column sticks out of it (content wider than
    the column must scroll inside its own box)."""
    return page.evaluate("""() => {
        const doc = document.documentElement;
        if (doc.scrollWidth > doc.clientWidth + 1) return [false, `page ${doc.scrollWidth} > ${doc.clientWidth}`];
        const main = document.querySelector('main') || document.body;
        if (main.scrollWidth > main.clientWidth + 1) return [false, `main ${main.scrollWidth} > ${main.clientWidth}`];
        const right = main.getBoundingClientRect().right;
        for (const el of main.querySelectorAll('table, img, pre, figure, .cell_output')) {
            let box = el.parentElement, clipped = false;
            while (box && box !== main) {
                const o = getComputedStyle(box).overflowX;
                if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
                box = box.parentElement;
            }
            if (!clipped && el.getBoundingClientRect().right > right + 1)
                return [false, `${el.tagName}.${el.className} ends at ${el.getBoundingClientRect().right} > ${right}`];
        }
        return [true, ''];
    }""")


@pytest.mark.parametrize("name", claim_page_params())
def test_claim_page_top_shows_badge_and_stamp(browser, name):
    """A verdict badge and the provenance stamp, in the page's first screen, above the first code output."""
    page, _ = open_page(browser, name)
    badges = page.locator("main .verdict-badge")
    assert badges.count() >= 1, f"{name}: no verdict badge"
    assert badges.first.is_visible()
    assert badges.first.bounding_box()["y"] < 700, f"{name}: badge not near the top"
    text = page.inner_text("main")
    assert "Computed from" in text and "commit" in text, f"{name}: no provenance stamp"
    page.close()


@pytest.mark.parametrize("name", CLAIM_PAGES)
def test_claim_page_shows_no_code_or_bookkeeping(browser, name):
    """Code is folded (outputs shown), the parameters cells and NBVAL markers are not on the page."""
    page, _ = open_page(browser, name)
    visible_inputs = [i for i in page.locator("main .cell .cell_input").all() if i.is_visible()]
    assert visible_inputs == [], f"{name}: {len(visible_inputs)} code cells shown unfolded"
    for hidden in page.locator("main .tag_injected-parameters, main .tag_parameters").all():
        assert not hidden.is_visible(), f"{name}: a parameters cell is visible"
    assert "NBVAL" not in page.inner_text("main"), name
    page.close()


@pytest.mark.parametrize("name", claim_page_params())
def test_figures_are_numbered_captioned_and_described(browser, name):
    page, _ = open_page(browser, name)
    images = page.locator("main img").all()
    assert images, name
    for img in images:
        assert (img.get_attribute("alt") or "").strip(), f"{name}: an image without alt text"
    figures = page.locator("main figure").all()
    assert len(figures) == len(images), f"{name}: {len(images) - len(figures)} images outside a captioned figure"
    for fig in figures:
        caption = fig.locator("figcaption").inner_text().strip()
        assert caption.startswith("Fig"), f"{name}: figure caption not numbered: {caption[:60]!r}"
        assert len(caption) > 20, f"{name}: caption too short: {caption!r}"
    page.close()


@pytest.mark.parametrize("name", ["dashboard", "reproducibility", *SAMPLE_PAGES])
def test_main_column_fits_at_1280px(browser, name):
    page, _ = open_page(browser, name, width=READER_WIDTH)
    ok, why = fits_column(page)
    assert ok, f"{name}: {why}"
    page.close()


def test_dashboard_shows_counts_legend_and_one_row_per_verdict(browser):
    from entres import claims

    page, _ = open_page(browser, "dashboard", width=READER_WIDTH)
    tiles = page.locator(".dash-count")
    words = [t.locator(".verdict-badge").inner_text() for t in tiles.all()]
    assert words[:6] == ["supported", "contradicted", "negligible", "inconclusive", "not in regime", "not yet run"]
    numbers = [int(t.locator(".n").inner_text()) for t in tiles.all()]
    rows = page.locator("table.claims-dashboard tbody tr:not(.claim-head):not(.caveat)")
    assert sum(numbers) == rows.count() == len(claims.load_verdicts(folder=COMMITTED_CLAIMS))
    # the counts come first: above the table
    assert tiles.first.bounding_box()["y"] < page.locator("table.claims-dashboard").bounding_box()["y"]
    legend = page.locator("dl.verdict-legend dt")
    assert legend.count() == 5
    assert page.locator('a[href$="methods.html#statistics-and-verdicts-protocol-v2"]').count() >= 1
    # every row has its verdict badge and a 4-digit train accuracy where one is filed
    for row in rows.all():
        assert row.locator(".verdict-badge").count() == 1
    text = page.inner_text("main")
    assert "NBVAL" not in text and "print(" not in text  # the nbval text version stays off the page
    page.close()


def test_screenshots_for_review(browser):
    """Full-page screenshots of the dashboard and two claim pages at a reader's width (for a person to look at)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in ["dashboard", *SAMPLE_PAGES]:
        page, _ = open_page(browser, name, width=READER_WIDTH)
        if page.locator("mjx-container").count() == 0 and "$" in page.content():
            page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        page.close()
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
