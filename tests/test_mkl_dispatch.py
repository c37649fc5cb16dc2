"""MKL's AVX-512 shim: the setting, the child processes that get it, exact products, the CLI and verify."""
import json
import subprocess
import sys

import pytest

from entres import cli, mkl_dispatch
from entres.sweep import run_sweep

# The products the library leans on, in float32 against float64: MKL's AVX-512 kernels must be as exact.
CHILD_CHECK = """
import json, torch
from entres import mkl_dispatch
torch.manual_seed(0)
err = {}
for m, k, n in [(1024, 128, 128), (257, 1000, 33), (2048, 2048, 64)]:
    a, b = torch.randn(m, k, dtype=torch.float64), torch.randn(k, n, dtype=torch.float64)
    ref = a @ b
    err[f"mm {m}x{k}x{n}"] = ((a.float() @ b.float()).double() - ref).abs().max().item() / ref.abs().max().item()
    err[f"mm-tn {m}x{k}x{n}"] = ((a.float().t().contiguous().t() @ b.float()).double() - ref).abs().max().item() / ref.abs().max().item()
x = torch.randn(300, 200, dtype=torch.float64)
s = torch.linalg.svdvals(x)
err["svdvals"] = ((torch.linalg.svdvals(x.float()).double() - s).abs().max() / s.max()).item()
sym = x.T @ x
e = torch.linalg.eigvalsh(sym)
err["eigvalsh"] = ((torch.linalg.eigvalsh(sym.float()).double() - e).abs().max() / e.abs().max()).item()
print(json.dumps({"active": mkl_dispatch.active(), "err": err}))
"""


def run_child(on: bool) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD_CHECK], env=mkl_dispatch.env_for(on),
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_setting_reads_0_1_or_the_default_and_names_the_choices_otherwise():
    assert mkl_dispatch.wanted({"ENTRES_MKL_AVX512": "1"}) is True
    assert mkl_dispatch.wanted({"ENTRES_MKL_AVX512": "0"}) is False
    assert mkl_dispatch.wanted({}) is mkl_dispatch.default_on()
    with pytest.raises(ValueError, match="must be 1 .* or 0"):
        mkl_dispatch.wanted({"ENTRES_MKL_AVX512": "yes"})


def test_env_for_adds_or_removes_only_the_shim():
    shim = mkl_dispatch.shim_path()
    if shim is None:
        pytest.skip("no C compiler to build the shim")
    env = mkl_dispatch.env_for(True, {"LD_PRELOAD": "/opt/other.so", "PATH": "/bin"})
    assert env["LD_PRELOAD"].split() == [str(shim), "/opt/other.so"] and env["PATH"] == "/bin"
    assert mkl_dispatch.env_for(False, env)["LD_PRELOAD"] == "/opt/other.so"
    assert "LD_PRELOAD" not in mkl_dispatch.env_for(False, {"LD_PRELOAD": str(shim)})


def test_a_child_with_the_shim_has_it_loaded_and_products_stay_exact():
    if mkl_dispatch.shim_path() is None:
        pytest.skip("no C compiler to build the shim")
    on, off = run_child(True), run_child(False)
    assert on["active"] is True and off["active"] is False
    for name, err in on["err"].items():  # float32 rounding of a sum of up to 2048 products
        assert err < 1e-5, (name, err, off["err"][name])


@pytest.mark.parametrize("value, loaded", [("1", "MKL AVX-512 shim loaded"), ("0", "MKL AVX-512 shim not loaded")])
def test_the_command_reexecutes_itself_with_the_setting(value, loaded):
    if value == "1" and mkl_dispatch.shim_path() is None:
        pytest.skip("no C compiler to build the shim")
    env = dict(mkl_dispatch.env_for(value == "0"), ENTRES_MKL_AVX512=value)  # start in the opposite state
    out = subprocess.run([sys.executable, "-m", "entres", "env"], env=env, capture_output=True, text=True, check=True)
    assert loaded in out.stdout
    assert f"mkl_avx512_shim: {value == '1'}" in out.stdout


def test_the_command_refuses_a_bad_setting():
    proc = subprocess.run([sys.executable, "-m", "entres", "env"], capture_output=True, text=True,
                          env=dict(mkl_dispatch.env_for(False), ENTRES_MKL_AVX512="fast"))
    assert proc.returncode == 2
    assert "ENTRES_MKL_AVX512 must be 1" in proc.stderr and "or 0" in proc.stderr


TINY = dict(dataset="fashionmnist", depth=2, width=8, epochs=1, batch_size=256, n_train=500, n_samples=20)


def test_verify_recomputes_with_the_shim_setting_the_result_was_made_with(real_data, isolated_results, capsys):
    if mkl_dispatch.shim_path() is None:
        pytest.skip("no C compiler to build the shim")
    made_here = mkl_dispatch.active()
    rec = run_sweep("ra_trajectory", [TINY])[0]
    path = isolated_results / "ra_trajectory" / f"{rec['key']}.json"
    assert rec["provenance"]["mkl_avx512_shim"] is made_here
    assert cli.main(["verify", "--tolerance", "0", str(path)]) == 0  # in this process, bit for bit

    # The same file claiming the other setting is recomputed in a child that has it.
    flipped = json.loads(path.read_text())
    flipped["provenance"]["mkl_avx512_shim"] = not made_here
    path.write_text(json.dumps(flipped))
    assert cli.main(["verify", "--tolerance", "1e-4", str(path)]) == 0
    if mkl_dispatch.default_on():  # on this CPU the two settings give other last bits
        assert cli.main(["verify", "--tolerance", "0", str(path)]) == 1
        assert "DIFFERS" in capsys.readouterr().out
