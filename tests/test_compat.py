import sys

from entres.compat import import_torchvision


def test_torchvision_imports_next_to_cpu_torch():
    tv = import_torchvision()
    assert tv.__version__.startswith("0.28.0")
    from torchvision.datasets import CIFAR10, MNIST, FashionMNIST  # noqa: F401

    assert "torchvision.datasets" in sys.modules


def test_import_is_idempotent():
    assert import_torchvision() is import_torchvision()
