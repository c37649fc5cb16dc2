"""What a claim page gets back from its one library call, and how it is shown.

A claim module's ``page(profile=..., **parameters)`` returns a :class:`PageResult`: it has computed
(or read from the cache) every run, built the tables, decided and filed the verdict rows. The notebook
only shows ``result.summary``, ``result.robustness`` and figures, and quotes ``result.values``.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import pandas as pd

from . import protocol, records

BADGE_COLOURS = {protocol.SUPPORTED: "#1a7f37", protocol.CONTRADICTED: "#cf222e", protocol.NEGLIGIBLE: "#6e7781",
                 protocol.INCONCLUSIVE: "#9a6700", protocol.NOT_IN_REGIME: "#8250df", "not yet run": "#57606a"}


@dataclass
class PageResult:
    """Everything a claim page shows. ``rows`` are the filed verdict rows (:func:`records.row`)."""

    claim: str
    rows: list[dict]
    networks: pd.DataFrame                      # one row per trained network
    runs: dict[str, list] = field(default_factory=dict)  # cached records by role, for figures
    robustness: pd.DataFrame | None = None      # verdict per row under each alternative setting
    values: dict = field(default_factory=dict)  # numbers the prose quotes (glued by :func:`glue_values`)
    stamp: dict = field(default_factory=dict)   # records.provenance_stamp of every result used
    extra: dict = field(default_factory=dict)   # page-specific tables (fits, per-task tables, …)

    @property
    def summary(self) -> pd.DataFrame:
        return summary_table(self.rows)


def summary_table(rows: list[dict]) -> pd.DataFrame:
    """One line per verdict row: the primary effect with its CI against null and δ, the gate, the verdict."""
    out = []
    for r in rows:
        p = r["primary"]
        out.append({"row": r["dataset"], "primary effect": p["name"], "estimate": p["estimate"],
                    "95% CI": _ci(p), "null": p["null"], "δ": p["delta"], "networks": r["seeds"],
                    "min train acc": r["min_train_acc"], "gate": "passed" if r["gate"]["passed"] else "failed",
                    "verdict": r["verdict"], "stability": r["stability"]})
    return pd.DataFrame(out)


def effect_text(p: dict, fmt: str = ".3f", ci: bool = True) -> str:
    """A filed primary effect as prose quotes it: "0.123 [0.100, 0.146]" (or the estimate alone, or "n/a"
    where the effect could not be estimated, e.g. a smoke run too small for it)."""
    if p.get("estimate") is None:
        return "n/a"
    if not ci or p.get("lo") is None:
        return f"{p['estimate']:{fmt}}"
    return f"{p['estimate']:{fmt}} [{p['lo']:{fmt}}, {p['hi']:{fmt}}]"


def _ci(p: dict) -> str:
    return "" if p["lo"] is None else f"[{p['lo']:.4g}, {p['hi']:.4g}]"


def badge_html(verdicts: list[str]) -> str:
    """Coloured verdict badges (one per distinct verdict, with counts) for the top of a claim page."""
    counts = pd.Series(verdicts).value_counts()
    spans = [f'<span class="verdict-badge" style="background:{BADGE_COLOURS.get(v, "#57606a")}">'
             f'{html.escape(v)}{f" × {n}" if len(verdicts) > 1 else ""}</span>' for v, n in counts.items()]
    return '<div class="verdict-badges">' + " ".join(spans) + "</div>"


def glue_header(result: PageResult, prefix: str) -> None:
    """Glue ``<prefix>_badge`` (HTML verdict badges) and ``<prefix>_stamp`` (where the numbers come from)."""
    from IPython.display import HTML
    from myst_nb import glue

    glue(f"{prefix}_badge", HTML(badge_html([r["verdict"] for r in result.rows])), display=False)
    glue(f"{prefix}_stamp", records.stamp_text(result.stamp), display=False)


def glue_values(result: PageResult, prefix: str) -> None:
    """Glue every entry of ``result.values`` as ``<prefix>_<name>`` (glue keys are global across the book)."""
    from myst_nb import glue

    for name in sorted(result.values):  # a fixed order: the glued outputs are part of the saved notebook
        glue(f"{prefix}_{name}", result.values[name], display=False)


def table_html(table: pd.DataFrame) -> str:
    """A compact HTML table that wraps to the page's column (class ``entres-table``); deterministic, so
    nbval can check it: floats to 4 significant digits, thousands with separators, missing values blank."""
    def cell(v):
        if isinstance(v, float):
            if not math.isfinite(v):
                return ""
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
        return "" if v is None else str(v)

    shown = table.astype(object).map(cell) if len(table) else table
    return shown.to_html(index=False, classes="entres-table", border=0, escape=True)


def show(table: pd.DataFrame) -> None:
    """Display ``table`` on a page as :func:`table_html` (instead of printing a wide text table)."""
    from IPython.display import HTML, display

    display(HTML(table_html(table)))

