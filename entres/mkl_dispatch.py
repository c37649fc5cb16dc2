"""MKL's kernels on AMD CPUs with AVX-512, and the shim that lets it use its AVX-512 ones.

PyTorch's CPU build does every fp32 matmul (and its LAPACK) through MKL, and MKL picks its kernels by
vendor: on a CPU that is not Intel's it runs its AVX2 code even where the CPU has AVX-512. On this
project's AMD EPYC machines that halves fp32 matmul (2048², 2 threads: about 220 GFLOP/s without the
shim, 505 with it; ``benchmarks/training_speed.py``). MKL asks one exported function,
``mkl_serv_intel_cpu_true``, whether the CPU is Intel's, and libtorch calls it through its PLT. A
one-line library preloaded into the process (``LD_PRELOAD``) that answers yes makes MKL choose by the
CPU's instruction-set flags alone, which it still checks (it takes no AMX path on a CPU without AMX).

The shim has to be in place before torch is loaded, so a running process cannot switch it. The
``entres`` command re-executes itself with it (:func:`reexec_if_needed`), and what it starts
(papermill's kernels, sweep workers) inherits it. ``ENTRES_MKL_AVX512``: ``1`` on, ``0`` off; unset,
on for an AMD CPU with AVX-512 under Linux and off elsewhere. It changes the last bits of MKL's
products as another CPU model would, so results record it (``provenance["mkl_avx512_shim"]``) and
``entres verify`` recomputes a result under the setting that made it.
"""
from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import settings

ENV = "ENTRES_MKL_AVX512"
_GUARD = "_ENTRES_MKL_REEXEC"  # set on the re-executed process, so a shim that fails to load cannot loop
SOURCE = "int mkl_serv_intel_cpu_true(void) { return 1; }\n"
_NAME = "libentres_mkl_intel_cpu"


def default_on() -> bool:
    """Whether the shim is on when ``ENTRES_MKL_AVX512`` is unset: an AMD CPU with AVX-512, under Linux."""
    if platform.system() != "Linux":
        return False
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "AuthenticAMD" in info and " avx512f" in info


def wanted(environ=os.environ) -> bool:
    """Whether this process should run with the shim (``ENTRES_MKL_AVX512``, else :func:`default_on`)."""
    value = settings.mkl_avx512(environ)
    return default_on() if value is None else value


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "entres"


def shim_path() -> Path | None:
    """The shim's shared library, compiled on first use with the C compiler (None where there is none)."""
    tag = hashlib.sha256(SOURCE.encode()).hexdigest()[:12]
    for folder in (_cache_dir(), Path(tempfile.gettempdir()) / "entres"):
        path = folder / f"{_NAME}-{tag}.so"
        if path.is_file():
            return path
        compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            return None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                src, out = Path(tmp, "shim.c"), Path(tmp, "shim.so")
                src.write_text(SOURCE)
                subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(out), str(src)],
                               check=True, capture_output=True)
                os.replace(out, path)  # atomic: concurrent first uses each build, one wins
            return path
        except (OSError, subprocess.CalledProcessError):
            continue  # an unwritable cache: try the next folder
    return None


def active() -> bool:
    """Whether the shim is loaded into this process (so MKL runs its AVX-512 kernels where the CPU has them)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    return f"/{_NAME}-" in maps


def env_for(on: bool, environ=os.environ) -> dict:
    """A copy of ``environ`` for a child process that runs with (``on``) or without the shim."""
    env = dict(environ)
    preload = [p for p in env.get("LD_PRELOAD", "").replace(":", " ").split() if f"/{_NAME}-" not in p]
    if on:
        path = shim_path()
        if path is None:
            raise RuntimeError("the MKL AVX-512 shim needs a C compiler (cc or gcc, or $CC) to be built")
        if any(c in str(path) for c in " :"):
            raise RuntimeError(f"cannot preload {path}: LD_PRELOAD paths may not contain spaces or colons")
        preload.insert(0, str(path))
    if preload:
        env["LD_PRELOAD"] = " ".join(preload)
    else:
        env.pop("LD_PRELOAD", None)
    return env


def reexec_if_needed(argv: list[str]) -> None:
    """Re-execute ``python -m entres argv`` with the shim loaded or unloaded as :func:`wanted` says.

    Returns without doing anything when the process already has the wanted setting. Where the shim
    cannot be had (no compiler), prints why and continues without it.
    """
    want = wanted()
    if want == active():
        return
    if os.environ.get(_GUARD):  # already re-executed once, and still not as wanted
        print(f"entres: the MKL AVX-512 shim could not be {'loaded' if want else 'unloaded'}; continuing "
              f"with it {'off' if want else 'on'}", file=sys.stderr)
        return
    try:
        env = env_for(want)
    except RuntimeError as err:
        print(f"entres: {err}; continuing with MKL's default kernels", file=sys.stderr)
        return
    env[_GUARD] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "entres", *argv], env)


def describe() -> str:
    """One line for humans: the setting, why, and whether the shim is loaded."""
    source = f"{ENV}={os.environ[ENV]}" if os.environ.get(ENV, "").strip() else (
        f"{ENV} unset: on for AMD CPUs with AVX-512, and this CPU {'is' if default_on() else 'is not'} one")
    return f"MKL AVX-512 shim {'loaded' if active() else 'not loaded'} ({source})"


if __name__ == "__main__":  # `LD_PRELOAD=$(python -m entres.mkl_dispatch) jupyter lab`
    path = shim_path()
    if path is None:
        sys.exit("entres: the MKL AVX-512 shim needs a C compiler (cc or gcc, or $CC) to be built")
    print(path)
