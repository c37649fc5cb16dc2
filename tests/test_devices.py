import pytest
import torch

from entres import devices


def test_default_is_cpu(monkeypatch):
    monkeypatch.delenv("ENTRES_DEVICE", raising=False)
    assert devices.current() == torch.device("cpu")
    assert devices.describe(devices.current()).startswith("cpu: ")


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x"])
def test_unknown_device_names_the_valid_ones(monkeypatch, name):
    monkeypatch.setenv("ENTRES_DEVICE", name)
    with pytest.raises(ValueError, match="valid: cpu, cuda, cuda:N"):
        devices.current()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("ENTRES_DEVICE", "cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        devices.current()
