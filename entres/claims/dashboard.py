"""The claims dashboard: verdict counts, a legend of the verdict words, and one compact row per claim row.

Everything is read from the filed verdicts (:func:`~entres.claims.records.load_verdicts`); the notebook only displays what
these functions return. The HTML is a fragment styled by ``book/_static/entres.css``.
"""
from __future__ import annotations

import html
import math

import pandas as pd

from . import protocol
from .page import BADGE_COLOURS

NOT_YET_RUN = "not yet run"
# the order a reader meets the verdict words in, everywhere
VERDICT_ORDER = (protocol.SUPPORTED, protocol.CONTRADICTED, protocol.NEGLIGIBLE, protocol.INCONCLUSIVE,
                 protocol.NOT_IN_REGIME, NOT_YET_RUN)
PROTOCOL_ANCHOR = "methods.html#statistics-and-verdicts-protocol-v2"

LEGEND = {
    protocol.SUPPORTED: "the 95% CI of the primary effect excludes the null on the claimed side and is not "
                        "inside null ± δ",
    protocol.CONTRADICTED: "the CI excludes the null on the other side and is not inside null ± δ",
    protocol.NEGLIGIBLE: "the CI lies inside null ± δ: whatever the effect is, it is too small to matter",
    protocol.INCONCLUSIVE: "neither: too few networks (the claim page says how many a power analysis asks for)",
    protocol.NOT_IN_REGIME: "a network the row compares is not in the state the claim is about (regime gate); "
                            "the effect is shown, not judged",
}
CAVEAT_PREVIEW = 110  # characters of a caveat shown before the reader opens it


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def counts(table: pd.DataFrame) -> dict[str, int]:
    """Rows per verdict, in ``VERDICT_ORDER`` (every word present, zeros included), then any other
    verdict found (e.g. "unreadable")."""
    found = table["verdict"].value_counts()
    out = {v: int(found.get(v, 0)) for v in VERDICT_ORDER}
    out.update({v: int(n) for v, n in found.items() if v not in out})
    return out


def badge(verdict: str) -> str:
    """One verdict as a coloured badge."""
    colour = BADGE_COLOURS.get(verdict, "#57606a")
    return f'<span class="verdict-badge" style="background:{colour}">{html.escape(verdict)}</span>'


def counts_html(table: pd.DataFrame) -> str:
    """The counts a reader sees first: one tile per verdict word, and what they are counted over."""
    tiles = "".join(f'<div class="dash-count"><span class="n">{n}</span>{badge(v)}</div>'
                    for v, n in counts(table).items())
    total = (f'<p class="dash-total"><b>{len(table)}</b> verdict rows from <b>{table["claim"].nunique()}</b> '
             f'claims (a claim tested on several datasets, readings or networks has a row for each).</p>')
    return total + f'<div class="dash-counts">{tiles}</div>'


def legend_html(methods_href: str = PROTOCOL_ANCHOR) -> str:
    """The five verdict words, one line each, and where the protocol is written down."""
    items = "".join(f"<dt>{badge(v)}</dt><dd>{html.escape(text)}</dd>" for v, text in LEGEND.items())
    return (f'<dl class="verdict-legend">{items}</dl>'
            f'<p>The rules are those of <a href="{methods_href}">verdict protocol v2</a> (methods page); '
            f'δ is the smallest effect of interest each claim page states with its reason.</p>')


def split_effect(effect: str) -> tuple[str, str]:
    """``"name: 0.9 [0.8, 1.0]"`` → (name, value [CI]); an effect without a name gives ("", effect)."""
    if not isinstance(effect, str) or not effect:
        return "", ""
    name, sep, value = effect.rpartition(": ")
    if not sep or ";" in value:
        return "", effect
    return name, value


def _number(x, digits: int) -> str:
    return "" if _missing(x) else f"{float(x):.{digits}f}"


def _delta(x) -> str:
    return "" if _missing(x) else f"{float(x):.3g}"


def _stability(r) -> str:
    text = "" if _missing(r.stability) else str(r.stability)
    css = "stability-depends" if text.startswith("depends") else ""
    return f'<span class="{css}">{html.escape(text)}</span>' if css else html.escape(text)


def _caveat(text: str) -> str:
    text = " ".join(str(text).split())
    if len(text) <= CAVEAT_PREVIEW:
        return html.escape(text)
    cut = text[:CAVEAT_PREVIEW].rsplit(" ", 1)[0]
    return f"<details><summary>{html.escape(cut)} …</summary>{html.escape(text)}</details>"


def _effect_cell(r) -> str:
    if _missing(r.effect) or not r.effect:
        return ""
    name, value = split_effect(r.effect)
    if r.protocol != 2:  # a page not yet converted: its v1 effects, not a primary test
        short = value if len(value) <= 80 else value[:80].rsplit(" ", 1)[0] + " …"
        return (f'<span class="effect-name v1">protocol v1 (several measures)</span>'
                f'<span title="{html.escape(value)}">{html.escape(short)}</span>')
    label = f'<span class="effect-name">{html.escape(name)}</span>' if name else ""
    return f'{label}<span class="effect-value">{html.escape(value)}</span>'


def rows_html(table: pd.DataFrame) -> str:
    """One compact row per claim row, grouped under a line per claim and page (its ID links to the page);
    a row's caveat is a small line under it (opened by a click when long)."""
    head = ("<thead><tr><th>row</th><th>verdict</th><th>primary effect [95% CI]</th><th>δ</th>"
            "<th title='lowest train accuracy over every network the row compares'>min train acc</th>"
            "<th>stability</th></tr></thead>")
    body, group = [], None
    for r in table.itertuples(index=False):
        if (r.claim, r.notebook) != group:
            group = (r.claim, r.notebook)
            link = f'<a href="{r.notebook}.html">{r.claim}</a>' if r.notebook else r.claim
            body.append(f'<tr class="claim-head"><td colspan="6">{link} '
                        f'<span class="claim-text">{html.escape(str(r.text))}</span></td></tr>')
        body.append(f"<tr><td>{html.escape(str(r.dataset or ''))}</td><td>{badge(r.verdict)}</td>"
                    f"<td>{_effect_cell(r)}</td><td class='num'>{_delta(r.delta)}</td>"
                    f"<td class='num'>{_number(r.min_train_acc, 4)}</td><td>{_stability(r)}</td></tr>")
        caveat = getattr(r, "caveat", "") if not _missing(getattr(r, "caveat", "")) else ""
        problem = getattr(r, "problem", "")
        note = caveat or ("" if _missing(problem) else problem)
        if note:
            body.append(f'<tr class="caveat"><td></td><td colspan="5">{_caveat(note)}</td></tr>')
    return f'<table class="claims-dashboard">{head}<tbody>{"".join(body)}</tbody></table>'


def dashboard_html(table: pd.DataFrame, methods_href: str = PROTOCOL_ANCHOR) -> str:
    """The whole dashboard: counts, legend, rows."""
    return counts_html(table) + legend_html(methods_href) + rows_html(table)


def dashboard_text(table: pd.DataFrame) -> str:
    """Plain text of the same content (checked by nbval, not shown): counts, then one line per row."""
    lines = ["counts: " + ", ".join(f"{v} {n}" for v, n in counts(table).items())]
    for r in table.itertuples(index=False):
        lines.append(" | ".join([r.claim, str(r.dataset or ""), r.verdict,
                                 "" if _missing(r.effect) else str(r.effect), f"δ {_delta(r.delta)}",
                                 f"min train acc {_number(r.min_train_acc, 4)}",
                                 "" if _missing(r.stability) else str(r.stability)]))
    return "\n".join(lines)
