"""The prose of a claim page quotes computed results, it does not retype them.

A verdict typed into a Discussion goes stale the day the results change; the pages glue it from the code
cell that computes it (`{glue:text}` roles). Verdict words that state a rule rather than a result are listed
here, page by page.
"""
import json
import re

import pytest

from entres import profiles

RULE_STATEMENTS = {  # notebook -> phrases that state a rule (or v1's history), not a result
    "ra1_line": ["Where a family falls short the row is *not in regime*"],
    "ra2_alignment": ['v1 read the same numbers as\n  "contradicted"', "rows that fall short are *not in regime*"],
    "ra4_depth": ["is *not in regime*: its numbers are in the tables"],
    "ra5_no_skip": ['Why "not in regime"'],
    "ra6_generalisation": ["is *not in regime*, whatever its effect"],
}
VERDICT_WORD = re.compile(r"\b(supported|contradicted|inconclusive|negligible|not in regime)\b", re.IGNORECASE)
GLUE_ROLE = re.compile(r"\{glue:text\}`([^`:]+)(?::[^`]*)?`")


def _notebook(name):
    return json.loads(profiles.notebooks()[name].read_text())


def _discussion(nb) -> str:
    text, inside = [], False
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        if source.startswith("## "):
            inside = source.startswith("## Discussion")
        if inside:
            text.append(source)
    return "\n".join(text)


def _glued_keys(nb) -> set[str]:
    return {out["metadata"]["scrapbook"]["name"] for cell in nb["cells"] if cell["cell_type"] == "code"
            for out in cell.get("outputs", []) if "scrapbook" in out.get("metadata", {})}


@pytest.mark.parametrize("name", sorted(profiles.notebooks()))
def test_discussion_glues_its_verdicts(name):
    text = GLUE_ROLE.sub("", _discussion(_notebook(name)))
    for phrase in RULE_STATEMENTS.get(name, []):
        assert phrase in text, f"{name}: allow-listed phrase {phrase!r} is gone; drop it from RULE_STATEMENTS"
        text = text.replace(phrase, "")
    typed = [m.group(0) for m in VERDICT_WORD.finditer(text)]
    assert not typed, f"{name}: verdict typed into the Discussion ({typed}); glue it from the cell that computes it"


@pytest.mark.parametrize("name", sorted(profiles.notebooks()))
def test_every_glue_reference_has_a_value(name):
    nb = _notebook(name)
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    missing = set(GLUE_ROLE.findall(markdown)) - _glued_keys(nb)
    assert not missing, f"{name}: glue references without a value in the executed notebook: {sorted(missing)}"


def test_the_rule_catches_a_typed_verdict():
    text = GLUE_ROLE.sub("", "## Discussion\n\n* RA-4 is *inconclusive*; RA-1 is {glue:text}`ra_conv_ra1_verdict`.")
    assert [m.group(0) for m in VERDICT_WORD.finditer(text)] == ["inconclusive"]


# --- Prose that states a property of the code (a shared E, a skip's scale) must agree with the code ---------------

SHARED_E_STATEMENT = re.compile(r"(the same|one|a single|a shared|one shared)\s+(matrix\s+)?\$?E\$?\b|"
                                r"\bshare[sd]?\s+(one|the same|a single)\b", re.IGNORECASE)
KEEPS_SCALE_STATEMENT = re.compile(r"\b(keeps?|preserves?|retains?)\s+the identity's\s+(scale|norm)|norm[- ]preserving",
                                   re.IGNORECASE)
NEGATION = re.compile(r"\b(not|never|no)\b", re.IGNORECASE)


def _markdown(name) -> str:
    """The page's Markdown with glue roles removed (a glued sentence comes from the code, not from a typist)."""
    nb = _notebook(name)
    return GLUE_ROLE.sub("", "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"))


def _glued(name, key):
    for cell in _notebook(name)["cells"]:
        for out in cell.get("outputs", []):
            scrap = out.get("metadata", {}).get("scrapbook", {})
            if scrap.get("name") == key:
                return out["data"][scrap.get("mime_prefix", "") + "text/plain"].strip("'\"")
    return None


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;:])\s+|\n\s*[*-]\s+", text) if s.strip()]


def test_the_vit_page_says_what_the_code_does_about_a_shared_e():
    from entres.claims import erm_vit

    book = profiles.load("book")["erm_vit"]
    shared = erm_vit.residuals_share_e("orthogonal", book["seeds"], book["depth"], book["width"])
    if not shared:
        typed = [s for s in _sentences(_markdown("erm_vit")) if SHARED_E_STATEMENT.search(s) and not NEGATION.search(s)]
        assert not typed, f"erm_vit says the residuals share one E, the code draws two: {typed}"
    assert _glued("erm_vit", "erm_vit_shared_e_text") == erm_vit.shared_e_text(shared), \
        "the glued shared-E sentence is stale: re-execute erm_vit"


def test_the_cnn_page_says_what_the_code_does_about_the_sparse_scale():
    from entres.claims import erm_cnn

    book = profiles.load("book")["erm_cnn"]
    props = erm_cnn.matrix_properties("sparse", book["seeds"], book["depth"], book["width"])
    if not props["keeps identity scale"]:
        typed = [s for s in _sentences(_markdown("erm_cnn"))
                 if "sparse" in s.lower() and KEEPS_SCALE_STATEMENT.search(s) and not NEGATION.search(s)]
        assert not typed, f"erm_cnn says sparse skips keep the identity's scale; spectral norms " \
                          f"{props['spectral norm min']:.2f}–{props['spectral norm max']:.2f}: {typed}"
    assert _glued("erm_cnn", "erm_cnn_sparse_norm_range") == \
        f"{props['spectral norm min']:.1f}–{props['spectral norm max']:.1f}", "stale sparse norms: re-execute erm_cnn"


@pytest.mark.parametrize("text, caught", [
    ("Both residuals of every block are entangled with the same $E$, one choice.", True),
    ("The two residuals share one E.", True),
    ("The two residuals do not share one E.", False),
    ("Each block draws its own matrices.", False),
])
def test_the_shared_e_rule_catches_a_typed_statement(text, caught):
    found = [s for s in _sentences(text) if SHARED_E_STATEMENT.search(s) and not NEGATION.search(s)]
    assert bool(found) == caught


def test_the_scale_rule_catches_a_typed_statement():
    text = "The three families that keep the identity's scale (sparse, orthogonal, permutation) land close."
    assert [s for s in _sentences(text) if "sparse" in s.lower() and KEEPS_SCALE_STATEMENT.search(s)]
