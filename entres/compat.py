"""Import torchvision safely next to a CPU-only torch.

The torchvision 0.28.0 wheel on PyPI is a CUDA build. Its compiled ops
(``torchvision._C``) do not load against the CPU torch wheel, and then
``import torchvision`` dies in ``_meta_registrations`` with
``RuntimeError: operator torchvision::nms does not exist``
(upstream pytorch/pytorch#122494). We only need torchvision's dataset
downloaders, never its compiled detection ops, so before the import we declare
the two op schemas that the meta registrations look up. This module is the
only place in entres that imports torchvision.
"""
from __future__ import annotations

import functools

import torch

_MISSING_OPS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_libraries: list = []  # keep the Library objects alive, or the schemas vanish


def _declare_missing_ops() -> list[str]:
    declared = []
    for name, schema in _MISSING_OPS.items():
        try:
            torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
            continue  # the real extension (or an earlier call) provides it
        except RuntimeError:
            pass
        if not _libraries:
            _libraries.append(torch.library.Library("torchvision", "FRAGMENT"))
        _libraries[0].define(schema)
        declared.append(name)
    return declared


@functools.cache
def import_torchvision():
    """Return the ``torchvision`` module, working around the CPU/CUDA mismatch.

    Detection ops such as ``torchvision.ops.nms`` stay unusable when the
    compiled extension cannot load; datasets and transforms work.
    """
    try:
        import torchvision
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
        _declare_missing_ops()
        import sys

        for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[mod]
        import torchvision
    return torchvision
