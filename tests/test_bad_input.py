"""The bad-input battery (issue 6): every wrong request fails at once, says what is wrong and what is
valid, exits non-zero from the CLI, and leaves no result file behind.

Data-file damage (missing, truncated, checksum) is in test_data.py, corrupt or foreign result files in
test_results.py, unknown models and mappings in test_models.py / test_mappings.py; this file covers the
paths a reader takes: the CLI with notebook parameters, and the Python API of experiments and training.
"""
import pytest

from entres import claims, cli, experiments
from entres.sweep import run_sweep
from entres.train import TrainConfig

CLI_CASES = [
    (["run", "ra9_nothing"], "unknown notebook 'ra9_nothing'; valid: "),
    (["run", "ra1_line", "--profile", "huge"], "unknown profile 'huge'; valid: smoke, book, paper"),
    (["run", "ra1_line", "-p", "skips", "[identty]"], "unknown skip mapping 'identty'; valid: identity"),
    (["run", "ra1_line", "-p", "datasets", "[svhn]"], "unknown dataset 'svhn'; valid: mnist"),
    (["run", "ra1_line", "-p", "datasets", "[cifar10-12]"], "cifar10-K needs 2 <= K <= 10 classes, got K=12"),
    (["run", "ra1_line", "-p", "skip", "identity"], "has no parameter(s) ['skip']; valid: profile"),
    (["run", "ra1_line", "-p", "seeds", "[]"], "seeds must be a non-empty list"),
    (["run", "ra1_line", "-p", "skips", "identity"], "'skips' of ra1_line.ipynb must be list"),
    (["run", "ra1_line", "-p", "depth", "deep"], "'depth' of ra1_line.ipynb must be int"),
    (["run", "ra1_line", "-p", "depth", "-3"], "depth must be > 0, got -3"),
    (["run", "ra1_line", "-p", "width", "0"], "width must be > 0, got 0"),
    (["run", "ra1_line", "-p", "lr", "-0.1"], "lr must be > 0"),
    (["run", "ra1_line", "-p", "n_train", "-1"], "n_train must be >= 0"),
    (["run", "ra4_depth", "-p", "depths", "[4, 0]"], "depths must be > 0, got 0"),
    (["run", "ra_conv", "-p", "dataset", "[cifar10]"], "'dataset' of ra_conv.ipynb must be str"),
    (["run", "all", "-p", "depth", "3"], "-p applies to one notebook"),
    (["verify", "--chapter", "XYZ"], "unknown chapter(s) ['XYZ']; valid: RA, ERM"),
]


@pytest.mark.parametrize("args, message", CLI_CASES, ids=[" ".join(a[1:]) for a, _ in CLI_CASES])
def test_cli_refuses_with_the_valid_choices_and_writes_nothing(args, message, isolated_results, real_data, capsys):
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err
    assert not any(p.is_file() for p in isolated_results.rglob("*")) if isolated_results.exists() else True


API_CASES = [
    (lambda: TrainConfig(skip="orthogonl"), ValueError, "valid: identity, none, orthogonal"),
    (lambda: TrainConfig(arch="resnet"), ValueError, "unknown architecture 'resnet'; valid: rescnn"),
    (lambda: TrainConfig(dataset="imagenet"), ValueError, "unknown dataset 'imagenet'; valid:"),
    (lambda: TrainConfig(schedule="linear"), ValueError, "unknown schedule 'linear'; valid: cosine, constant"),
    (lambda: TrainConfig(batch_size=0), ValueError, "batch_size must be a positive integer"),
    (lambda: TrainConfig(eval_every=0), ValueError, "eval_every must be a positive integer"),
    (lambda: TrainConfig(grad_clip=-1.0), ValueError, "grad_clip must be >= 0"),
    (lambda: TrainConfig.from_dict({"epoch": 3}), ValueError, "unknown training option(s) ['epoch']; valid:"),
    (lambda: experiments.get("ra_nothing"), ValueError, "unknown experiment 'ra_nothing'; valid: "),
    (lambda: run_sweep("ra_jacobian", [{"depht": 3}]), ValueError, "has no option(s) ['depht']; valid:"),
    (lambda: run_sweep("ra_jacobian", [{"depth": "3"}]), TypeError, "option 'depth' of 'ra_jacobian' must be int"),
    (lambda: run_sweep("ra_jacobian", [{"n_samples": 0}]), ValueError, "n_samples must be >= 1"),
    (lambda: run_sweep("ra_jacobian", [{"dataset": "cifar10-1"}]), ValueError, "2 <= K <= 10"),
    (lambda: experiments.grid_runs("ra_trajectory", ["mnist"], ["identity"], []), ValueError,
     "seeds must be a non-empty list"),
    (lambda: experiments.grid_runs("ra_trajectory", "mnist", ["identity"], [0]), ValueError,
     "datasets must be a non-empty list"),
    (lambda: claims.record_verdict("RA-99", "book", []), ValueError, "unknown claim 'RA-99'; valid: ERM-1"),
]


@pytest.mark.parametrize("call, error, message", API_CASES, ids=[m for _, _, m in API_CASES])
def test_api_refuses_with_the_valid_choices_and_writes_nothing(call, error, message, isolated_results):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
    assert not isolated_results.exists() or not any(p.is_file() for p in isolated_results.rglob("*"))


def test_diverging_training_is_a_recorded_failure_not_a_result(real_data, isolated_results):
    from entres.sweep import SweepError

    cfg = dict(dataset="fashionmnist", depth=2, width=8, epochs=2, batch_size=256, n_train=500, lr=1e6, n_samples=10)
    with pytest.raises(SweepError, match="TrainingDiverged: loss became"):
        run_sweep("ra_trajectory", [cfg])
    assert not list(isolated_results.glob("ra_trajectory/*.json"))
    assert not list(isolated_results.glob("_checkpoints/*"))
    assert len(list(isolated_results.glob("_failures/ra_trajectory/*.json"))) == 1
