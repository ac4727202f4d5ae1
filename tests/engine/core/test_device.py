"""Device choice: CPU here, the preference honoured, bad ones refused; CUDA checks where there is one."""

from __future__ import annotations

import pytest
import torch

from engine.core.device import DeviceChoice, choose_device
from engine.core.errors import SettingsError

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
without_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="about a machine without CUDA")


def _no_mps() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is None or not mps.is_available()


def test_cpu_is_float32_and_named() -> None:
    choice = choose_device("cpu")
    assert (choice.device, choice.dtype) == ("cpu", "float32")
    assert choice.name
    assert choose_device("cpu", half_precision=True).dtype == "float32"  # CPU autocast rarely pays


@without_cuda
def test_auto_on_a_machine_without_gpus_is_cpu_float32() -> None:
    if not _no_mps():
        pytest.skip("this machine has MPS")
    choice = choose_device("auto")
    assert (choice.device, choice.dtype) == ("cpu", "float32")


@without_cuda
def test_asking_for_cuda_without_one_falls_back_to_cpu() -> None:
    assert choose_device("cuda").device == "cpu"
    assert choose_device("cuda:1").device == "cpu"


@pytest.mark.parametrize("preference", [" CPU ", "Cpu"])
def test_the_preference_ignores_case_and_blanks(preference: str) -> None:
    assert choose_device(preference).device == "cpu"


@pytest.mark.parametrize("preference", ["tpu", "", "gpu", "cuda:", "cuda:x", "cuda:-1", "cuda0"])
def test_an_unknown_preference_is_a_settings_error(preference: str) -> None:
    with pytest.raises(SettingsError) as caught:
        choose_device(preference)
    assert caught.value.what == f"unknown device '{preference}'"
    assert caught.value.where == "settings: device"
    assert "auto" in caught.value.hint and "cpu" in caught.value.hint


def test_a_choice_is_recorded_as_a_dict_and_gives_the_torch_dtype() -> None:
    choice = DeviceChoice("cpu", "float32", "x86_64")
    assert choice.to_dict() == {"device": "cpu", "dtype": "float32", "name": "x86_64"}
    assert choice.torch_dtype() is torch.float32
    assert DeviceChoice("cuda", "bfloat16", "H200").torch_dtype() is torch.bfloat16


@needs_cuda
def test_cuda_uses_bf16_on_ampere_and_later_and_fp32_when_asked() -> None:
    choice = choose_device("auto")
    assert choice.device == "cuda"
    assert choice.name == torch.cuda.get_device_name(0)
    expected = "bfloat16" if torch.cuda.get_device_capability(0)[0] >= 8 else "float16"
    assert choice.dtype == expected
    assert choose_device("cuda", half_precision=False).dtype == "float32"
    assert choose_device("cuda:0").device == "cuda:0"


@needs_cuda
def test_a_cuda_device_number_that_does_not_exist_is_refused() -> None:
    count = torch.cuda.device_count()
    with pytest.raises(SettingsError, match=f"there is no CUDA device {count}"):
        choose_device(f"cuda:{count}")
