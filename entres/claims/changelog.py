"""The protocol change log: each row's verdict under protocol v1 (frozen in ``data/results/claims_v1/``) beside
its verdict under protocol v2 (``data/results/claims/``) and the rules of v2 that apply to it.

The rules are derived from the filed rows themselves (the gate a v2 row records, the null and fit its primary
effect names, how many measures v1 voted, how many rows v2 split it into), plus one reading per claim where v2
reads the claim's words differently (``READINGS``). Each rule kind has its principle (``PRINCIPLES``).
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import results
from . import protocol
from .dashboard import badge
from .registry import CLAIMS

# rule kind → why it is principled (each is a rule of the methods page's protocol v2 section)
PRINCIPLES = {
    "gate": "Residual Alignment and the ERM effects are claimed for trained networks; a network that is not in "
            "that state is no evidence either way, whichever family it belongs to.",
    "primary": "A verdict reads one effect fixed before the results; voting several measures lets any one of "
               "them decide and inflates the error rate.",
    "null": "An effect is read against what it would be if the claim were empty (chance, the no-skip control, "
            "the permutation skip), never against a round number without a source.",
    "fit": "The unit is the trained network: seeds are replicates of one depth, not points on the curve, so a "
           "fit uses one point per level and reports its lack of fit.",
    "delta": "A smallest effect of interest separates 'no effect that matters' (negligible) from 'too few "
             "networks' (inconclusive).",
    "split": "Where the paper states two properties (or the authors read a claim another way), each gets its own "
             "row instead of one verdict for both.",
    "reading": "The rule follows the claim's own words (e.g. 'at most C' is ≤ C; 'disappears without skips' "
               "compares with the no-skip control in the claimed direction).",
    "pending": "This page has not yet been moved to protocol v2; its v2 verdict is still v1's.",
}
RULE_TITLES = {"gate": "regime gate", "primary": "one primary test", "null": "null", "fit": "fit on level means",
               "delta": "δ", "split": "split", "reading": "reading", "pending": "not yet converted"}

# where v2 reads a claim's words differently from v1 (issue 19's audit findings, one line each)
READINGS = {
    "RA-1": "line and equal steps as two rows, each against chance (a random-direction walk with the network's "
            "own step lengths; random spacing on a line) instead of lin > 0.9, which no-skip networks also pass",
    "RA-2": "alignment as a multiple of chance (random vectors; C/d for subspaces) instead of τ = 0.5, which has "
            "no source",
    "RA-3": "'rank at most C' read as rank ≤ C (v1 tested rank − C < 0, so rank C could never count)",
    "RA-4": "power law fitted on depth means with lack of fit; the authors' readings (1/σ₁ linear in l; 1/σ̄₁ "
            "affine in L) tested beside it",
    "RA-5": "the rule runs the claimed way: alignment with skips minus without (v1: any measure moving the other "
            "way contradicted, e.g. the top-C energy of untrained no-skip networks)",
    "RA-6": "one difference, true − random labels, of the across-depth overlap, with δ = C/d (chance)",
    "RA-7": "NC1's fall from the first epoch, in decades, with δ = one decade",
    "ERM-4": "the claim as an interaction (orthogonal helps time-variant and hurts time-invariant tasks)",
    "ERM-5": "block updates and ∂L/∂h in the same coordinates (the v1 gradient cosine compared them across E)",
}


@dataclass(frozen=True)
class Filed:
    """One claims file: its stem (``RA-1`` or ``RA-1+ra_conv``), claim, page and rows."""

    stem: str
    claim: str
    notebook: str
    protocol: int
    rows: list


def _read_folder(folder: Path, profile: str) -> dict[str, Filed]:
    out = {}
    for path in sorted(Path(folder).glob(f"*.{profile}.json")):
        payload = json.loads(path.read_text())
        stem = path.name[: -len(f".{profile}.json")]
        out[stem] = Filed(stem, payload["claim"], payload.get("notebook") or "", payload.get("protocol", 1),
                          payload["rows"])
    return out


def _key(label: str) -> str:
    """What a v1 row label and the v2 rows it became share: the part before ':' or ' ('."""
    return label.split(":")[0].split(" (")[0].strip()


def match_rows(v1_rows: list[dict], v2_rows: list[dict]) -> list[tuple[dict | None, list[dict]]]:
    """Pair each v1 row with the v2 rows it became: same label, else the same label before ':' (a split),
    else the same label before ' ('; a file with one row on each side pairs them. Unpaired v2 rows are new
    (paired with ``None``)."""
    pairs, used = [], set()
    for r1 in v1_rows:
        exact = [i for i, r2 in enumerate(v2_rows) if r2["dataset"] == r1["dataset"] and i not in used]
        near = exact or [i for i, r2 in enumerate(v2_rows) if i not in used and _key(r2["dataset"]) == _key(r1["dataset"])]
        if not near and len(v1_rows) == 1:
            near = [i for i in range(len(v2_rows)) if i not in used]
        used.update(near)
        pairs.append((r1, [v2_rows[i] for i in near]))
    pairs += [(None, [r2]) for i, r2 in enumerate(v2_rows) if i not in used]
    return pairs


def rules(claim: str, v1: dict | None, v2: dict, siblings: int, converted: bool) -> list[tuple[str, str]]:
    """The v2 rules that apply to one row, as (kind, text), most decisive first."""
    if not converted:
        return [("pending", "page not yet on protocol v2")]
    out = []
    gate, primary = v2.get("gate") or {}, v2.get("primary") or {}
    name = primary.get("name", "")
    if v2["verdict"] == protocol.NOT_IN_REGIME:
        steps = gate.get("min_terminal_steps")
        held = f"; fewest steps held at the bar {steps:,}" if isinstance(steps, int) and "SGD" in gate.get("rule", "") else ""
        out.append(("gate", f"gate now on every family compared: {gate.get('rule', '')} "
                            f"(lowest train accuracy {v2.get('min_train_acc')}{held})"))
    if v2["verdict"] == protocol.NEGLIGIBLE:
        out.append(("delta", f"δ = {primary.get('delta'):g}: CI inside null ± δ, negligible"))
    if v2["verdict"] == protocol.INCONCLUSIVE and v2.get("seeds_needed"):
        out.append(("delta", f"δ = {primary.get('delta'):g}: inconclusive now means underpowered "
                             f"({v2['seeds_needed']} networks per group would resolve it)"))
    voted = len((v1 or {}).get("effects", {}))
    if voted > 1:
        out.append(("primary", f"one primary test ({name}) instead of a vote of {voted} measures "
                               f"({', '.join((v1 or {})['effects'])})"))
    if "− none" in name:
        out.append(("null", "null: the no-skip control"))
    elif "chance" in name or "C/d" in name:
        out.append(("null", "null: chance instead of a fixed threshold"))
    elif "random labels" in name:
        out.append(("null", "null: the random-label control"))
    elif "permutation" in name:
        out.append(("null", "null: the permutation skip (a relabelled identity) pooled with the identity"))
    if "means" in name and ("depth" in name or "per-K" in name):
        out.append(("fit", "fit on level means (one point per depth or class count), lack of fit reported"))
    if siblings > 1:
        out.append(("split", f"v1's row split into {siblings} rows"))
    if claim in READINGS:
        out.append(("reading", READINGS[claim]))
    return out


def change_log(profile: str = "book", v1_folder: Path | None = None, v2_folder: Path | None = None) -> pd.DataFrame:
    """One line per v2 row (and per v1 row that no longer exists): claim, page, v1 label and verdict, v2
    label and verdict, whether the verdict changed, and the rules that apply (``rules``: list of (kind, text))."""
    root = results.results_root()
    v1 = _read_folder(v1_folder or root / "claims_v1", profile)
    v2 = _read_folder(v2_folder or root / "claims", profile)
    lines = []
    order = {c: i for i, c in enumerate(CLAIMS)}
    for stem in sorted(set(v1) | set(v2), key=lambda s: (order.get(s.split("+")[0], 99), s)):
        old, new = v1.get(stem), v2.get(stem)
        claim = (new or old).claim
        notebook = (new or old).notebook
        converted = bool(new) and new.protocol == 2
        for r1, r2s in match_rows(old.rows if old else [], new.rows if new else []):
            if not r2s:
                lines.append({"claim": claim, "notebook": notebook, "v1_row": r1["dataset"],
                              "v1": r1["verdict"], "v2_row": "(dropped)", "v2": "", "changed": True,
                              "rules": []})
            for r2 in r2s:
                lines.append({"claim": claim, "notebook": notebook, "v1_row": r1["dataset"] if r1 else "(new)",
                              "v1": r1["verdict"] if r1 else "", "v2_row": r2["dataset"], "v2": r2["verdict"],
                              "changed": r1 is None or r1["verdict"] != r2["verdict"],
                              "rules": rules(claim, r1, r2, len(r2s), converted)})
    columns = ["claim", "notebook", "v1_row", "v1", "v2_row", "v2", "changed", "rules"]
    return pd.DataFrame(lines, columns=columns)  # the columns also when a profile has no filed verdicts


def summary(log: pd.DataFrame) -> dict[str, int]:
    """Counts a reader quotes: rows under each protocol, verdicts changed, rows not yet converted."""
    pending = log["rules"].map(lambda rs: any(k == "pending" for k, _ in rs))
    old = log[log["v1"] != ""].drop_duplicates(["claim", "notebook", "v1_row"])
    return {"v1_rows": len(old),
            "v2_rows": int((log["v2"] != "").sum()), "changed": int((log["changed"] & (log["v2"] != "")).sum()),
            "pending": int(pending.sum())}


def change_log_html(log: pd.DataFrame, methods_href: str = "methods.html#statistics-and-verdicts-protocol-v2") -> str:
    """The change log as one table (v1 row and verdict, v2 row and verdict, the rules), grouped by page."""
    head = "<thead><tr><th>claim</th><th>v1 row → v1 verdict</th><th>v2 row → v2 verdict</th><th>rules of v2</th></tr></thead>"
    body = []
    for r in log.itertuples(index=False):
        link = f'<a href="{r.notebook}.html">{r.claim}</a>' if r.notebook else r.claim
        v1 = f"{html.escape(r.v1_row)}<br>{badge(r.v1)}" if r.v1 else html.escape(r.v1_row)
        v2 = f"{html.escape(r.v2_row)}<br>{badge(r.v2)}" if r.v2 else html.escape(r.v2_row)
        items = "".join(f"<li><b>{RULE_TITLES[k]}</b>: {html.escape(t)}</li>" for k, t in r.rules)
        body.append(f"<tr><td>{link}</td><td>{v1}</td><td>{v2}</td>"
                    f"<td class='rules'><ul class='simple'>{items}</ul></td></tr>")
    return f'<table class="change-log">{head}<tbody>{"".join(body)}</tbody></table>'


def principles_html(methods_href: str = "methods.html#statistics-and-verdicts-protocol-v2") -> str:
    """Why each kind of rule is principled, one line each, linking to the protocol."""
    items = "".join(f"<dt><b>{RULE_TITLES[k]}</b></dt><dd>{html.escape(t)}</dd>" for k, t in PRINCIPLES.items())
    return (f'<dl class="verdict-legend">{items}</dl><p>Each rule is written out on the '
            f'<a href="{methods_href}">methods page (protocol v2)</a>.</p>')


def change_log_text(log: pd.DataFrame) -> str:
    """Plain text of the change log (nbval)."""
    return "\n".join(f"{r.claim} | {r.v1_row} → {r.v1 or '-'} | {r.v2_row} → {r.v2 or '-'} | "
                     + "; ".join(k for k, _ in r.rules) for r in log.itertuples(index=False))
