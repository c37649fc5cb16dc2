"""The ERM-4 page: orthogonal residuals in RNNs favour time-variant over time-invariant tasks (protocol v2).

The claim is an interaction: orthogonal helps on time-variant tasks *and* hurts on time-invariant ones. The
primary test is therefore the interaction per seed,

    I_s = mean over variant tasks of (orth − id)_{task, s} − mean over invariant tasks of (orth − id)_{task, s},

with a one-sample t CI over seeds (the seed pairs the two families: same data and initial weights), claimed > 0,
δ = 0.5 percentage points (:mod:`entres.claims.erm`). The separate differences on each kind are shown, not voted.

Regime: a task can show a difference of δ either way only if every family's mean test accuracy lies strictly
between chance + margin and 1 − margin (margin = δ by default). Tasks outside are left out of the interaction;
if a kind has no task left, the row is *not in regime* and the interaction over all tasks is reported. No
train-accuracy gate: the claim is about which tasks a mapping suits, not about networks that fit their data.
"""
from __future__ import annotations

import pandas as pd

from .. import sequences
from ..experiments import erm as experiment
from . import erm, protocol, records
from .page import PageResult

REFERENCE, OTHER = "identity", "orthogonal"


def task_regime(table: pd.DataFrame, margin: float) -> pd.DataFrame:
    """Per task: its kind, chance, each family's mean test accuracy, and whether every family is strictly between
    chance + margin and 1 − margin (``in regime``), with the reason when not."""
    rows = []
    for task, g in table.groupby("task", sort=False):
        chance = float(g.chance.iloc[0])
        means = g.groupby("skip").test_acc.mean()
        why = [f"{s} at the ceiling, {m:.3f}" for s, m in means.items() if m >= 1 - margin] + \
              [f"{s} at chance, {m:.3f}" for s, m in means.items() if m <= chance + margin]
        rows.append({"task": task, "kind": sequences.TASKS[task], "chance": chance, **means.to_dict(),
                     "in regime": not why, "why not": "; ".join(why)})
    return pd.DataFrame(rows)


def paired_differences(table: pd.DataFrame) -> pd.DataFrame:
    """(orthogonal − identity) test accuracy per task and seed (the seed pairs the networks)."""
    wide = table.pivot_table(index=["task", "seed"], columns="skip", values="test_acc").reset_index()
    wide["diff"] = wide[OTHER] - wide[REFERENCE]
    wide["kind"] = wide["task"].map(sequences.TASKS)
    return wide[["task", "kind", "seed", "diff"]]


def by_seed(diffs: pd.DataFrame, tasks) -> pd.DataFrame:
    """Per seed: the mean difference over the variant and over the invariant tasks among ``tasks``, and the
    interaction (variant − invariant)."""
    d = diffs[diffs.task.isin(list(tasks))]
    out = d.groupby(["seed", "kind"])["diff"].mean().unstack().reindex(columns=["variant", "invariant"])
    out["interaction"] = out["variant"] - out["invariant"]
    return out


def interaction_effect(diffs: pd.DataFrame, tasks, delta: float) -> protocol.Effect:
    """The primary effect: the interaction, one value per seed, one-sample t over seeds, claimed > 0."""
    return protocol.mean_effect("interaction: (orth − id) on variant − (orth − id) on invariant",
                                by_seed(diffs, tasks)["interaction"], +1, 0.0, delta)


def kind_effects(diffs: pd.DataFrame, tasks, delta: float) -> dict[str, protocol.Effect]:
    """The separate differences (secondary): orth − id on variant tasks (claimed > 0), on invariant (< 0)."""
    s = by_seed(diffs, tasks)
    return {"variant": protocol.mean_effect("orth − id, variant tasks", s["variant"], +1, 0.0, delta),
            "invariant": protocol.mean_effect("orth − id, invariant tasks", s["invariant"], -1, 0.0, delta)}


def regime_gate(table: pd.DataFrame, regime: pd.DataFrame, margin: float) -> dict:
    """Passed when at least one task of each kind is in regime; the record's shape of :meth:`protocol.Gate.check`."""
    kinds_left = set(regime.loc[regime["in regime"], "kind"])
    return {"passed": {"variant", "invariant"} <= kinds_left,
            "rule": (f"each task enters only if every family's mean test accuracy lies strictly between chance + {margin:g} "
                     f"and 1 − {margin:g}; at least one time-variant and one time-invariant task must enter"),
            "min_train_acc": float(table.train_acc.min()), "min_terminal_steps": None,
            "failing": int((~regime["in regime"]).sum()), "networks": len(table)}


def decide_row(table: pd.DataFrame, delta: float, margin: float):
    """Effect, gate and the tasks behind it under one setting (δ, margin)."""
    regime = task_regime(table, margin)
    gate = regime_gate(table, regime, margin)
    tasks = regime.loc[regime["in regime"], "task"] if gate["passed"] else regime.task
    diffs = paired_differences(table)
    return interaction_effect(diffs, tasks, delta), gate, list(tasks), regime


def robustness_grid(table: pd.DataFrame, delta: float, margin: float) -> list[dict]:
    """The interaction's verdict with δ halved and doubled and the task margin at 0 and at 2δ."""
    from dataclasses import replace

    effect, gate, _, _ = decide_row(table, delta, margin)
    grid = [erm.alternative("primary", effect, gate)]
    grid += [erm.alternative(f"δ = {f * delta:g}", replace(effect, delta=f * delta), gate) for f in (0.5, 2.0)]
    for m in (0.0, 2 * delta):
        if m != margin:
            e, g, _, _ = decide_row(table, delta, m)
            grid.append(erm.alternative(f"task margin = {m:g}", e, g))
    return grid


def per_task(table: pd.DataFrame, delta: float) -> pd.DataFrame:
    """Per task, Welch CI of orthogonal − identity (shown, not voted)."""
    rows = []
    for task, g in table.groupby("task", sort=False):
        e = protocol.difference_effect("", g.loc[g.skip == OTHER, "test_acc"], g.loc[g.skip == REFERENCE, "test_acc"],
                                       +1, delta)
        rows.append({"task": task, "kind": sequences.TASKS[task], "orth − id": e.estimate, "lo": e.lo, "hi": e.hi,
                     "reading at δ": erm.reading(e)})
    return pd.DataFrame(rows)


def page(profile: str, tasks=("seq-motif", "seq-majority", "smnist", "seq-position", "seq-recall"),
         skips=(REFERENCE, OTHER), seeds=(0, 1, 2), width: int = 64, epochs: int = 12, batch_size: int = 128,
         lr: float = 0.02, momentum: float = 0.9, grad_clip: float = 1.0, n_train: int = 9000,
         delta: float = erm.DELTA, margin: float | None = None, file: bool = True) -> PageResult:
    """Train or load every RNN, decide ERM-4 on the interaction, file it, return what the page shows."""
    if not {REFERENCE, OTHER} <= set(skips):
        raise ValueError(f"ERM-4 compares {REFERENCE} and {OTHER}; skips must include both, got {list(skips)}")
    margin = delta if margin is None else margin
    runs = experiment.runs(list(tasks), list(skips), list(seeds), width=width, epochs=epochs, batch_size=batch_size,
                           lr=lr, momentum=momentum, grad_clip=grad_clip, n_train=n_train)
    table = erm.accuracy_table(runs)
    compared = table[table.skip.isin((REFERENCE, OTHER))]
    effect, gate, used, regime = decide_row(compared, delta, margin)
    diffs = paired_differences(compared)
    kinds = kind_effects(diffs, used, delta)
    grid = robustness_grid(compared, delta, margin)
    caveat = _caveat(compared, regime, effect, gate)
    row = records.row("sequence suite", effect, gate, seeds=len(seeds),
                      test_acc=float(compared.loc[compared.skip == REFERENCE, "test_acc"].mean()),
                      robustness=erm.robustness_verdicts(grid[1:]), caveat=caveat,
                      secondary={f"orth − id, {k} tasks": (e.estimate, e.lo, e.hi) for k, e in kinds.items()},
                      scope=f"tasks: {', '.join(used)}")
    stamp = records.provenance_stamp(runs)
    if file:
        records.record_verdict("ERM-4", profile, [row], notebook="erm4_rnn", computed_from=stamp)
    result = PageResult(claim="ERM-4", rows=[row], networks=table, runs={"main": runs},
                        robustness=pd.DataFrame(grid), stamp=stamp,
                        extra={"regime": regime, "per_task": per_task(compared, delta),
                               "by_seed": by_seed(diffs, used).reset_index(), "kinds": kinds, "effect": effect,
                               "tasks_used": used, "margin": margin})
    result.values = values(result, delta)
    return result


def _caveat(table, regime, effect, gate) -> str:
    out = regime[~regime["in regime"]]
    recall = table[(table.task == "seq-recall") & (table.skip == REFERENCE)]
    text = "With E = I the cell is a pure integrator, a weak baseline for tasks that depend on when something happened"
    if len(recall):
        failed = int((recall.test_acc < 0.9).sum())
        text += f" (the identity stays below 0.9 on seq-recall in {failed} of {len(recall)} seeds)"
    text += "."
    if len(out):
        text += " Out of regime: " + "; ".join(f"{r.task} ({r['why not']})" for _, r in out.iterrows()) + "."
    if not gate["passed"]:
        text += f" Over all tasks the interaction reads {erm.ungated_verdict(effect)} ({erm.power_text(effect)})."
    return text


def values(result: PageResult, delta: float) -> dict:
    """Numbers and sentences the page's prose quotes."""
    row, regime, e = result.rows[0], result.extra["regime"], result.extra["effect"]
    out = regime[~regime["in regime"]]
    kinds = result.extra["kinds"]
    v = {"verdict": row["verdict"], "stability": row["stability"], "interaction": erm.effect_text(e),
         "ungated": erm.ungated_verdict(e), "power": erm.power_text(e),
         "delta_points": f"{100 * delta:g}", "margin_points": f"{100 * result.extra['margin']:g}",
         "variant": erm.effect_text(kinds["variant"]), "invariant": erm.effect_text(kinds["invariant"]),
         "variant_reading": kinds["variant"].verdict(), "invariant_reading": kinds["invariant"].verdict(),
         "out_of_regime": ", ".join(f"{r.task} ({r['why not']})" for _, r in out.iterrows()) or "none",
         "tasks_used": ", ".join(result.extra["tasks_used"]),
         "min_train_acc": float(result.networks.train_acc.min())}
    pt = result.extra["per_task"]
    v["orth_above_text"] = f"{int((pt['orth − id'] > 0).sum())} of {len(pt)}"
    recall = result.networks[(result.networks.task == "seq-recall") & (result.networks.skip == REFERENCE)]
    v["recall_identity_failed"] = f"{int((recall.test_acc < 0.9).sum())} of {len(recall)}" if len(recall) else "none"
    return v

