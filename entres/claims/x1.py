"""X-1 (ours): does Residual Alignment survive entangled skips? (protocol v2)

Each entangled family F (orthogonal, permutation, sparse) is compared with the identity, one row per RA
claim, each an **equivalence** question: the difference F − identity of one primary measure lies inside
±δ (``protocol.decide`` direction 0: supported = RA survives, contradicted = the family differs by more than
δ, inconclusive otherwise). δ is the smallest effect of interest of the claim's own page: a difference the RA
pages would not count as an effect against chance does not count as losing RA.

| row | primary measure (per network) | δ (the RA page's) |
|---|---|---|
| RA-1 line | κ_line = 1 − (1 − lin)/(1 − lin₀) (:mod:`ra1`) | 0.5 |
| RA-2 across depth | across-depth overlap ÷ C/d, U and V (:mod:`ra2`) | 1 (× chance) |
| RA-3 rank | numerical rank (ε = 1e-2), mean over inputs and blocks (:mod:`ra3`) | 1 (one rank) |
| RA-4 exponent | α of σ̄₁ ∝ L^−α fitted on depth means (:mod:`ra4`), on the depths both families have | 0.25 |

RA-1 line and RA-2 across-depth overlap are the primaries of the RA-1 and RA-2 pages' sturdier parts (the
step-length CV is driven by the first steps; within-block alignment averages poorly determined directions);
the other parts are shown as secondary. Coordinate-dependent measures are compared in the untangled frame
(h_l → P_l⁻¹ h_l, J_l → P_l⁻¹ J_l P_{l−1}), where a permutation-skip network is its identity twin relabelled;
the raw frame is a robustness setting. RA-4's depth sweep is measured in the raw frame (σ₁ is unchanged by an
orthogonal change of frame). The gate covers every network of both families a row compares.
"""
from __future__ import annotations

import math

import pandas as pd
from scipy import stats as st

from . import page as page_mod
from . import protocol, ra1, ra2, ra4, ra_common, records
from .ra_common import ACCURACY_ONLY_GATE, Reading

CLAIM = "X-1"
NOTEBOOK = "x1_entangled_ra"
REFERENCE = "identity"
PRIMARY_FRAME = "untangled"
DELTA_RANK = 1.0  # the rank bound is one integer: one rank more already changes the RA-3 reading
DELTA_SCALES = (0.5, 2.0)  # robustness: half and twice δ
ROWS = {  # row -> (primary column, δ, name, secondary columns)
    "RA-1 line": ("kappa_line_mean", ra1.DELTA, "κ_line", {"κ_steps": "kappa_steps_mean", "lin": "lin_mean"}),
    "RA-2 across depth": ("overlap_x_all_mean", ra2.DELTA, "across-depth overlap ÷ C/d",
                          {"within-block |uᵀv| ÷ chance": "within_x_all_mean"}),
    "RA-3 rank": ("rank", DELTA_RANK, "numerical rank (ε = 1e-2)", {"top-C energy": "energy_top_c"}),
}
RA_SIGN = {"RA-1 line": +1, "RA-2 across depth": +1, "RA-3 rank": -1}  # the direction of "more RA"
ALTERNATIVE_COLUMNS = {  # row -> {label: column}
    "RA-1 line": {"aggregation: median": "kappa_line_median"},
    "RA-2 across depth": {"aggregation: median": "overlap_x_all_median", "scope: later half": "overlap_x_late_mean"},
    "RA-3 rank": {"aggregation: median": "rank_median_blocks", "scope: later half": "rank_late"},
}


# ---------------------------------------------------------------------------------------------
# Per network (one frame)

def network_table(traj_runs: list[dict], jac_runs: list[dict], frame: str, null_draws: int = 2000) -> pd.DataFrame:
    """One row per network of one frame: regime, the RA-1 measures (:func:`ra1.network_measures`) and the
    RA-2/3 measures (:func:`ra2.jacobian_measures`, and the rank over the later half and as a median)."""
    keys = ["dataset", "skip", "depth", "seed"]
    traj = pd.DataFrame([ra1.network_measures(r, null_draws) for r in traj_runs])
    jac = pd.DataFrame([{**ra2.jacobian_measures(r), **rank_measures(r)} for r in jac_runs])
    shared = [c for c in jac.columns if c in traj.columns and c not in keys]
    table = traj.merge(jac.drop(columns=shared), on=keys)
    table["frame"] = frame
    return table


def rank_measures(record: dict) -> dict:
    """Rank of the blocks (mean over inputs) over the later half, and the median over blocks of the per-block
    median rank."""
    blocks = record["arrays"]["blocks"]
    return {"rank_late": ra_common.block_stat([b["rank"] for b in blocks], "later half"),
            "rank_median_blocks": ra_common.aggregate([b.get("rank_median", b["rank"]) for b in blocks], "median")}


# ---------------------------------------------------------------------------------------------
# Rows at the main depth (RA-1 … RA-3)

def _reading(label: str, column: str, delta: float, family: str, gate=protocol.RA_GATE) -> Reading:
    return Reading(label, column, delta, (family, REFERENCE), direction=0, gate=gate)


def measure_row(tables: dict[str, pd.DataFrame], family: str, row: str) -> tuple[dict, list[dict]]:
    """The equivalence row ``row`` of ``family`` against the identity, and its robustness lines."""
    column, delta, name, secondary_cols = ROWS[row]
    t = tables[PRIMARY_FRAME]
    label = f"{family}: {row}"
    effect_name = f"{name}, {family} − {REFERENCE} ({PRIMARY_FRAME} frame)"
    primary = _reading("primary", column, delta, family)
    effect, gate = primary.effect(t, effect_name), primary.gate_check(t)
    readings = [(primary.but(lbl, column=col), t) for lbl, col in ALTERNATIVE_COLUMNS[row].items()]
    readings += [(primary.but(f"frame: {f}"), tables[f]) for f in tables if f != PRIMARY_FRAME]
    readings += [(primary.but(f"δ = {k:g}×", delta=k * delta), t) for k in DELTA_SCALES]
    readings += [(primary.but("gate: accuracy only", gate=ACCURACY_ONLY_GATE), t)]
    verdicts, details = {}, [ra_common.detail_line("primary", effect, gate)]
    for reading, table in readings:
        e, g = reading.effect(table, effect_name), reading.gate_check(table)
        verdicts[reading.label] = e.verdict(g["passed"])
        details.append(ra_common.detail_line(reading.label, e, g))
    secondary = {f"{REFERENCE}: {name}": ra_common.secondary_mean(t, column, REFERENCE),
                 f"{family}: {name}": ra_common.secondary_mean(t, column, family)}
    for sname, col in secondary_cols.items():
        d = protocol.difference_effect(sname, t.loc[t.skip == family, col], t.loc[t.skip == REFERENCE, col])
        secondary[f"{sname}, {family} − {REFERENCE}"] = (d.estimate, d.lo, d.hi)
    fam = t[t.skip == family]
    out = records.row(label, effect, gate, seeds=int(min((t.skip == family).sum(), (t.skip == REFERENCE).sum())),
                      test_acc=float(fam.test_acc.mean()), robustness=verdicts, secondary=secondary,
                      scope=f"depth {int(t.depth.iloc[0])}, all blocks, {PRIMARY_FRAME} frame",
                      caveat=ra_common.caveat(gate, effect, details, *_notes(family, row, effect)))
    return out, details


def _notes(family: str, row: str, effect: protocol.Effect) -> list[str]:
    notes = []
    if min(RA_SIGN[row] * effect.lo, RA_SIGN[row] * effect.hi) > effect.delta:  # wholly beyond δ, towards more RA
        notes.append(f"the {family} family differs from the identity in the direction of more RA, not less")
    if family == "permutation":
        notes.append("a permutation-skip network is an identity network with its units relabelled, so in the "
                     "untangled frame equivalence is expected (a built-in check of the frame)")
    if row == "RA-1 line":
        notes.append("lin₀ uses each network's mean step-length profile")
    return notes


# ---------------------------------------------------------------------------------------------
# RA-4: the exponent per family, fitted on depth means

def alpha_difference(family: pd.DataFrame, reference: pd.DataFrame, delta: float = ra4.DELTA_ALPHA,
                     name: str = "") -> tuple[protocol.Effect, dict]:
    """α_family − α_identity, each fitted on its own depth means (:func:`ra4.power_law_effect`), with a
    Welch–Satterthwaite t CI from the two fits' standard errors (k − 2 df each); equivalence to 0 within δ."""
    fits = {}
    for key, table in (("family", family), ("reference", reference)):
        effect, fit = ra4.power_law_effect(table, delta)
        df = fit["levels"] - 2
        se = (effect.hi - effect.lo) / (2 * st.t.ppf(0.5 + protocol.LEVEL / 2, df)) if df > 0 else math.nan
        fits[key] = {"alpha": effect.estimate, "lo": effect.lo, "hi": effect.hi, "se": se, "df": df, "fit": fit}
    f, r = fits["family"], fits["reference"]
    diff = f["alpha"] - r["alpha"]
    se = math.sqrt(f["se"] ** 2 + r["se"] ** 2)
    if math.isfinite(se) and se > 0:
        df = se ** 4 / (f["se"] ** 4 / f["df"] + r["se"] ** 4 / r["df"])
        half = st.t.ppf(0.5 + protocol.LEVEL / 2, df) * se
        lo, hi = diff - half, diff + half
    elif se == 0:  # both laws exact on their depth means
        lo = hi = diff
    else:
        lo = hi = math.nan
    levels = min(f["fit"]["levels"], r["fit"]["levels"])
    effect = protocol.Effect(name or "α (fit on depth means), family − identity", diff, lo, hi, 0, 0.0, delta,
                             "two fits on depth means, Welch–Satterthwaite t", levels)
    return effect, fits


def _common(table: pd.DataFrame, depths) -> pd.DataFrame:
    return table[table.depth.isin(depths)].reset_index(drop=True)


def alpha_row(depth_runs: list[dict], family: str, delta: float = ra4.DELTA_ALPHA) -> tuple[dict, list[dict], dict]:
    """The RA-4 equivalence row of ``family``: Δα on the depths both families have; gate over every network."""
    runs = {s: [r for r in depth_runs if r["config"]["skip"] == s] for s in (family, REFERENCE)}
    settings = {"primary": {}, "aggregation: median over blocks": {"aggregation": "median"},
                f"scope: {ra4.LATE_HALF}": {"scope": ra4.LATE_HALF}, "depths: all of each family": {"all_depths": True},
                **{f"δ = {k:g}×": {"delta": k * delta} for k in DELTA_SCALES},
                "gate: accuracy only": {"gate": ACCURACY_ONLY_GATE}}
    name = f"α (fit on depth means), {family} − {REFERENCE}"
    verdicts, details, shown = {}, [], {}
    for label, s in settings.items():
        tables = {k: ra4.network_table(v, s.get("scope", ra4.ALL), s.get("aggregation", "mean")) for k, v in runs.items()}
        if not s.get("all_depths"):
            common = sorted(set(tables[family].depth) & set(tables[REFERENCE].depth))
            tables = {k: _common(t, common) for k, t in tables.items()}
        effect, fits = alpha_difference(tables[family], tables[REFERENCE], s.get("delta", delta), name)
        gate = s.get("gate", protocol.RA_GATE).check(pd.concat(tables.values(), ignore_index=True))
        details.append(ra_common.detail_line(label, effect, gate))
        if label == "primary":
            shown = {"effect": effect, "gate": gate, "fits": fits, "tables": tables}
        else:
            verdicts[label] = effect.verdict(gate["passed"])
    effect, gate, fits, tables = shown["effect"], shown["gate"], shown["fits"], shown["tables"]
    depths = sorted(set(tables[family].depth))
    lof = {k: fits[k]["fit"]["lack_of_fit"] for k in fits}
    secondary = {f"α {family}": (fits["family"]["alpha"], fits["family"]["lo"], fits["family"]["hi"]),
                 f"α {REFERENCE}": (fits["reference"]["alpha"], fits["reference"]["lo"], fits["reference"]["hi"]),
                 f"lack of fit F ({family})": (lof["family"]["F"], None, None),
                 f"lack of fit F ({REFERENCE})": (lof["reference"]["F"], None, None)}
    note = f"depths {', '.join(map(str, depths))} (those both families trained), {len(depths) - 2} df per fit"
    row = records.row(f"{family}: RA-4 exponent", effect, gate,
                      seeds=int(tables[family].groupby("depth").size().min()) if len(tables[family]) else 0,
                      test_acc=float(tables[family].test_acc.mean()), robustness=verdicts, secondary=secondary,
                      scope=f"depths {depths}, all blocks, raw frame",
                      caveat=ra_common.caveat(gate, effect, details, note))
    return row, details, shown


# ---------------------------------------------------------------------------------------------
# The page

def page(profile: str, dataset: str, skips: list[str], seeds: list[int], depth: int, width: int, epochs: int,
         batch_size: int, lr: float, weight_decay: float, n_train: int, n_samples: int, n_traj_samples: int,
         depths: list[int], depth_seeds: list[int], depth_limit: dict | None = None,
         null_draws: int = 2000) -> page_mod.PageResult:
    """Get the runs (cached, else computed) in both frames and the depth sweep, decide and file the X-1 rows."""
    from ..experiments import ra

    if REFERENCE not in skips:
        raise ValueError(f"X-1 compares every family with {REFERENCE!r}; skips must include it, got {skips}")
    depth_limit = depth_limit or {}
    options = dict(depth=depth, width=width, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                   n_train=n_train)
    tables, runs = {}, {}
    for frame in ra.FRAMES:
        extra = {} if frame == "raw" else {"frame": frame}
        runs[f"trajectory_{frame}"] = ra.trajectory_runs([dataset], skips, seeds, n_samples=n_traj_samples,
                                                         **options, **extra)
        runs[f"jacobian_{frame}"] = ra.jacobian_runs([dataset], skips, seeds, n_samples=n_samples, **options, **extra)
        tables[frame] = network_table(runs[f"trajectory_{frame}"], runs[f"jacobian_{frame}"], frame, null_draws)
    depth_options = {k: v for k, v in options.items() if k != "depth"}
    runs["depth"] = [r for s in skips for r in ra.jacobian_runs(
        [dataset], [s], depth_seeds, depths=[d for d in depths if d <= depth_limit.get(s, d)], n_samples=n_samples,
        **depth_options)]
    families = [s for s in skips if s != REFERENCE]
    rows, details, alpha = [], {}, {}
    for family in families:
        for row in ROWS:
            r, d = measure_row(tables, family, row)
            rows.append(r)
            details[r["dataset"]] = d
        r, d, alpha[family] = alpha_row(runs["depth"], family)
        rows.append(r)
        details[r["dataset"]] = d
    all_runs = [r for rs in runs.values() for r in rs]
    stamp = records.provenance_stamp(all_runs)
    records.record_verdict(CLAIM, profile, rows, notebook=NOTEBOOK, computed_from=stamp)
    networks = pd.concat(tables.values(), ignore_index=True)
    depth_table = pd.concat([ra4.network_table([r for r in runs["depth"] if r["config"]["skip"] == s]).assign(skip=s)
                             for s in skips], ignore_index=True)
    return page_mod.PageResult(CLAIM, rows, networks, runs=runs, robustness=ra_common.robustness_frame(details),
                               values=prose_values(rows, tables, alpha, depth_table, families), stamp=stamp,
                               extra={"accuracy": accuracy_table(tables["raw"]), "means": means_table(networks),
                                      "alphas": alpha_table(alpha, families), "depth_table": depth_table,
                                      "families": families})


def accuracy_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per family (main depth): networks, lowest train accuracy, fewest SGD steps held at the bar, test accuracy."""
    return table.groupby("skip", sort=False).agg(networks=("seed", "size"), min_train_acc=("train_acc", "min"),
                                                  min_terminal_steps=("terminal_steps", "min"),
                                                  test_acc=("test_acc", "mean")).reset_index()


MEANS = {"kappa_line_mean": "κ_line", "kappa_steps_mean": "κ_steps", "overlap_x_all_mean": "overlap ÷ C/d",
         "within_x_all_mean": "within ÷ chance", "rank": "rank", "energy_top_c": "top-C energy"}


def means_table(networks: pd.DataFrame) -> pd.DataFrame:
    """Mean over networks of each measure, per frame and family."""
    return (networks.groupby(["frame", "skip"], sort=False)[list(MEANS)].mean().rename(columns=MEANS).reset_index())


def alpha_table(alpha: dict, families: list[str]) -> pd.DataFrame:
    """Per family: α and the identity's α on the common depths, with CIs and lack of fit."""
    out = []
    for f in families:
        fits = alpha[f]["fits"]
        out.append({"family": f, "depths": ", ".join(map(str, sorted(set(alpha[f]["tables"][f].depth)))),
                    "α family": fits["family"]["alpha"], "CI family": _ci(fits["family"]),
                    "α identity": fits["reference"]["alpha"], "CI identity": _ci(fits["reference"]),
                    "LoF F family": fits["family"]["fit"]["lack_of_fit"]["F"],
                    "min train acc": alpha[f]["gate"]["min_train_acc"]})
    return pd.DataFrame(out)


def _ci(fit: dict) -> str:
    return "n/a" if not math.isfinite(fit["lo"]) else f"[{fit['lo']:.2f}, {fit['hi']:.2f}]"


def prose_values(rows: list[dict], tables: dict, alpha: dict, depth_table: pd.DataFrame, families: list[str]) -> dict:
    """Numbers the page's prose quotes (glued as ``x1_entangled_ra_<name>``)."""
    span = ra_common.span
    raw = tables["raw"]
    v = {"gate_steps": f"{protocol.RA_GATE.min_terminal_steps:,}",
         "terminal_steps": span(raw.terminal_steps, ",.0f"), "train_acc": span(raw.train_acc, ".4f"),
         "delta_kappa": f"{ra1.DELTA:g}", "delta_overlap": f"{ra2.DELTA:g}", "delta_rank": f"{DELTA_RANK:g}",
         "delta_alpha": f"{ra4.DELTA_ALPHA:g}"}
    verdicts = sorted({r["verdict"] for r in rows})
    v["verdicts"] = f"every row is {verdicts[0]}" if len(verdicts) == 1 else "verdicts " + ", ".join(verdicts)
    for s, g in raw.groupby("skip"):
        v[f"train_acc_{s}"] = span(g.train_acc, ".4f")
        v[f"test_acc_{s}"] = span(g.test_acc, ".3f")
    for s, g in depth_table.groupby("skip"):
        v[f"depth_train_acc_{s}"] = span(g.train_acc, ".3f")
    for r in rows:
        key = r["dataset"].replace(": ", "_").replace(" ", "_").replace("-", "")
        p = r["primary"]
        v[f"verdict_{key}"] = r["verdict"]
        v[f"if_in_regime_{key}"] = protocol.decide(math.nan if p["lo"] is None else p["lo"],
                                                   math.nan if p["hi"] is None else p["hi"], 0, 0.0, p["delta"], True)
        v[f"effect_{key}"] = f"{p['estimate']:.2f}" + ("" if p["lo"] is None else f" [{p['lo']:.2f}, {p['hi']:.2f}]")
        v[f"raw_{key}"] = r["robustness"].get("frame: raw", "n/a")
        v[f"accuracy_gate_{key}"] = r["robustness"].get("gate: accuracy only", "n/a")
    for f in families:
        fits = alpha[f]["fits"]
        v[f"alpha_{f}"] = f"{fits['family']['alpha']:.2f} {_ci(fits['family'])}"
        v[f"alpha_identity_vs_{f}"] = f"{fits['reference']['alpha']:.2f} {_ci(fits['reference'])}"
    return v
