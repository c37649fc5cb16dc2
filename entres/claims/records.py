"""Filed verdicts: each claim page files its rows; the dashboard and ``entres claims`` read them back.

A protocol-v2 row holds the primary effect and the rule that reads it (so the verdict can be recomputed
from the file alone and a hand-edited verdict is caught), the regime gate's outcome, the robustness of the
verdict, a caveat, and what a reader needs beside it. Files are deterministic (no timestamps of their own)
and written atomically.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from .. import results, settings
from . import protocol
from .registry import CLAIMS

PROTOCOL = 2


class ClaimsFileError(ValueError):
    """A claims file that cannot be read or whose content does not follow from itself."""


def claims_folder() -> Path:
    """Where verdicts are filed: the run folder ``entres run`` names (``ENTRES_CLAIMS_DIR``), else
    ``<results>/claims`` (:func:`entres.results.claims_root`)."""
    return results.claims_root()


def _r(x, digits: int = 4):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def row(label: str, effect: protocol.Effect, gate: dict, *, seeds: int, test_acc: float | None = None,
        robustness: dict[str, str] | None = None, caveat: str = "", secondary: dict | None = None,
        scope: str = "") -> dict:
    """One verdict row (protocol v2). ``gate`` is :meth:`protocol.Gate.check`'s result over every network
    the row compares; ``robustness`` maps alternative settings to the verdict under them; ``secondary``
    maps other measures to (estimate, lo, hi): shown, not voted."""
    verdict = effect.verdict(gate["passed"])
    stability, depends = protocol.stability(robustness or {}, verdict)
    needed = None
    if verdict == protocol.INCONCLUSIVE:
        needed = protocol.seeds_needed(effect.sd, effect.delta, effect.groups)
    return {"dataset": label, "verdict": verdict, "primary": effect.as_dict(), "seeds": int(seeds),
            "test_acc": _r(test_acc), "min_train_acc": _r(gate["min_train_acc"]),
            "gate": {k: gate[k] for k in ("passed", "rule", "min_terminal_steps", "failing", "networks")},
            "robustness": dict(robustness or {}), "stability": stability, "depends_on": depends,
            "caveat": caveat, "seeds_needed": needed, "scope": scope,
            "secondary": {k: [_r(v) for v in est] for k, est in (secondary or {}).items()}}


def recomputed_verdict(r: dict) -> str:
    """The verdict that a v2 row's stored primary effect, δ and gate imply."""
    p = r["primary"]
    nan = float("nan")
    return protocol.decide(nan if p["lo"] is None else p["lo"], nan if p["hi"] is None else p["hi"],
                           p["direction"], p["null"] or 0.0, p["delta"], r["gate"]["passed"])


def check_payload(payload, path: Path | str = "") -> None:
    """Raise :class:`ClaimsFileError` naming ``path`` unless ``payload`` is a well-formed claims record whose
    verdicts follow from its stored effects."""
    where = f"{path}: " if path else ""
    if not isinstance(payload, dict) or not isinstance(payload.get("rows"), list):
        raise ClaimsFileError(f"{where}not a claims record (needs an object with a 'rows' list)")
    if payload.get("claim") not in CLAIMS:
        raise ClaimsFileError(f"{where}unknown claim {payload.get('claim')!r}; valid: {', '.join(CLAIMS)}")
    for i, r in enumerate(payload["rows"]):
        if not isinstance(r, dict) or r.get("verdict") not in protocol.VERDICTS + ("not yet run",):
            raise ClaimsFileError(f"{where}row {i}: verdict must be one of {', '.join(protocol.VERDICTS)}")
        if payload.get("protocol") == PROTOCOL:
            try:
                expected = recomputed_verdict(r)
            except (KeyError, TypeError, ValueError) as err:
                raise ClaimsFileError(f"{where}row {i} ({r.get('dataset')}): malformed primary effect ({err})") from err
            if expected != r["verdict"]:
                raise ClaimsFileError(f"{where}row {i} ({r.get('dataset')}): filed verdict {r['verdict']!r} does not "
                                      f"follow from its stored effect (recomputed: {expected!r})")


def read(path: Path) -> dict:
    """A claims file, checked (:func:`check_payload`)."""
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ClaimsFileError(f"{path}: not readable JSON ({err})") from err
    check_payload(payload, path)
    return payload


def record_verdict(claim_id: str, profile: str, rows: list[dict], notebook: str | None = None,
                   computed_from: dict | None = None) -> Path:
    """File the verdict rows of ``claim_id`` computed under ``profile``.

    A notebook other than the claim's own (e.g. the conv-net page) files its rows apart, under its
    name. ``computed_from`` is :func:`provenance_stamp` of the results behind the rows. Parameters
    the command line overrode (``ENTRES_RUN_OVERRIDES``, JSON) are recorded with the rows.
    """
    if claim_id not in CLAIMS:
        raise ValueError(f"unknown claim {claim_id!r}; valid: {', '.join(CLAIMS)}")
    own = notebook is None or notebook == CLAIMS[claim_id].notebook
    name = f"{claim_id}.{profile}.json" if own else f"{claim_id}+{notebook}.{profile}.json"
    v2 = bool(rows) and all("primary" in r for r in rows)
    payload = {"claim": claim_id, "profile": profile, "notebook": CLAIMS[claim_id].notebook if own else notebook,
               "rows": rows}
    if v2:
        payload["protocol"] = PROTOCOL
    if computed_from:
        payload["computed_from"] = computed_from
    overrides = settings.run_overrides()
    if overrides:
        payload["overrides"] = overrides
    check_payload(payload)
    return results.write_json(claims_folder() / name, payload)


def provenance_stamp(records: list[dict]) -> dict:
    """What a page's numbers were computed from: result count, code commits, date range, devices."""
    prov = [r.get("provenance", {}) for r in records]
    dates = sorted(p["date"][:10] for p in prov if p.get("date"))
    return {"results": len(records),
            "commits": sorted({p.get("git_commit", "unknown")[:7] for p in prov}),
            "first_date": dates[0] if dates else None, "last_date": dates[-1] if dates else None,
            "devices": sorted({p.get("device", "unknown") for p in prov})}


def stamp_text(stamp: dict) -> str:
    """One line for the top of a claim page."""
    if not stamp or not stamp.get("results"):
        return "No results behind this page yet."
    dates = stamp["first_date"] if stamp["first_date"] == stamp["last_date"] else \
        f"{stamp['first_date']} to {stamp['last_date']}"
    commits = ", ".join(stamp["commits"][:4]) + (f" and {len(stamp['commits']) - 4} more" if len(stamp["commits"]) > 4 else "")
    return (f"Computed from {stamp['results']} cached results made by commit(s) {commits}, {dates}, "
            f"on {'; '.join(stamp['devices'])}.")


def _effect_text(r: dict) -> str:
    if "primary" in r:
        p = r["primary"]
        ci = "" if p["lo"] is None else f" [{p['lo']:.3g}, {p['hi']:.3g}]"
        return f"{p['name']}: {p['estimate']:.3g}{ci}" if p["estimate"] is not None else p["name"]
    return "; ".join(f"{k} {v[0]:.3g} [{v[1]:.3g}, {v[2]:.3g}]" if None not in v else f"{k} {v[0]}"
                     for k, v in r.get("effects", {}).items())


def load_verdicts(profiles: tuple[str, ...] = ("paper", "book"), folder: Path | None = None,
                  strict: bool = True) -> pd.DataFrame:
    """One row per claim row: the filed verdict of the first profile in ``profiles`` that has one.

    Every file read is checked; with ``strict`` a bad file raises :class:`ClaimsFileError` naming it,
    otherwise its claim shows the verdict "unreadable" and the error in ``problem``.
    """
    folder = Path(folder) if folder else claims_folder()
    rows = []
    for claim in CLAIMS.values():
        stems = [claim.id] + sorted({p.name.rsplit(".", 2)[0] for p in folder.glob(f"{claim.id}+*.json")})
        base = {"claim": claim.id, "text": claim.text}
        records, problems = [], []
        for stem in stems:
            found = [folder / f"{stem}.{profile}.json" for profile in profiles]
            found = [path for path in found if path.exists()]
            if not found:
                continue
            try:
                records.append(read(found[0]))
            except ClaimsFileError as err:
                if strict:
                    raise
                problems.append(str(err))
        for problem in problems:
            rows.append({**base, "notebook": claim.notebook or "", "dataset": "", "verdict": "unreadable",
                         "problem": problem})
        if not records and not problems:
            rows.append({**base, "notebook": claim.notebook or "", "dataset": "", "verdict": "not yet run"})
        for record in records:
            for r in record["rows"]:
                rows.append({**base, "notebook": record["notebook"] or "", "dataset": r["dataset"],
                             "verdict": r["verdict"], "effect": _effect_text(r), "seeds": r.get("seeds"),
                             "profile": record["profile"], "test_acc": r.get("test_acc"),
                             "train_acc": r.get("min_train_acc", r.get("train_acc")),
                             "min_train_acc": r.get("min_train_acc", r.get("train_acc")),
                             "stability": r.get("stability", ""), "caveat": r.get("caveat", ""),
                             "delta": (r.get("primary") or {}).get("delta"),
                             "seeds_needed": r.get("seeds_needed"),
                             "protocol": record.get("protocol", 1),
                             "overrides": record.get("overrides")})
    columns = ["claim", "text", "notebook", "dataset", "verdict", "effect", "seeds", "profile", "test_acc",
               "train_acc", "min_train_acc", "stability", "caveat", "delta", "seeds_needed", "protocol",
               "overrides", "problem"]
    return pd.DataFrame(rows).reindex(columns=columns)


def verdicts_text(table: pd.DataFrame) -> str:
    """The claims table as plain text (nbval); ``entres claims`` has its own wrapped layout."""
    cols = ["claim", "dataset", "verdict", "effect", "seeds", "profile"]
    shown = table[cols].astype(object).where(table[cols].notna(), "")
    shown["seeds"] = [str(int(s)) if s != "" else "" for s in shown["seeds"]]
    widths = {c: max(len(c), shown[c].astype(str).str.len().max()) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols).rstrip()]
    lines += ["  ".join(str(v).ljust(widths[c]) for c, v in zip(cols, r)).rstrip() for r in shown.itertuples(index=False)]
    return "\n".join(lines)
