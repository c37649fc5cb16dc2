"""The prose of a claim page quotes computed results, it does not retype them.

A verdict typed into a Discussion goes stale the day the results change; the pages glue it from the code
cell that computes it (`{glue:text}` roles). Verdict words that state a rule rather than a result are listed
here, page by page.
"""
import json
import re

import pytest

from entres import profiles

RULE_STATEMENTS = {
    "erm5_refinement": ["cannot be supported here"],  # the rule needs the identity to show the pattern first
    "ra1_line": ["is reported as inconclusive"],  # what the terminal-phase rule does
    "x1_entangled_ra": ["*supported* = within the margin"],  # defines the word for the glued list after it
}
VERDICT_WORD = re.compile(r"\b(supported|contradicted|inconclusive)\b", re.IGNORECASE)
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
