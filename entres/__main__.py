"""The ``entres`` command and ``python -m entres``.

Before torch is imported, the process re-executes itself with MKL's AVX-512 shim where it applies
(:mod:`entres.mkl_dispatch`); then :func:`entres.cli.main` runs.
"""
import sys


def entry() -> None:
    from . import mkl_dispatch

    try:
        mkl_dispatch.reexec_if_needed(sys.argv[1:])
    except ValueError as err:  # a bad ENTRES_MKL_AVX512
        print(f"entres: error: {err}", file=sys.stderr)
        sys.exit(2)
    from .cli import main

    sys.exit(main())


if __name__ == "__main__":
    entry()
