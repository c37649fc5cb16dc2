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


def open_page(browser, name):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
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
