"""Choose the compute device and dtype for a run (CUDA, then MPS, then CPU) and describe the choice."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DeviceChoice:
    """What a run executes on; recorded with every run."""

    device: str  # "cuda", "cuda:1", "mps", "cpu"
    dtype: str  # autocast dtype in use: "bfloat16", "float16" or "float32"
    name: str  # human-readable hardware name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)


def choose_device(preference: str = "auto", half_precision: bool = True) -> DeviceChoice:
    """Pick the best available device honouring the user's preference.

    bf16 is used on CUDA devices that support it (Ampere and later), fp16 on older CUDA and on MPS
    only when asked for half precision; CPU stays float32 because CPU autocast rarely pays.
    """
    import torch

    want = preference.lower()
    if want not in {"auto", "cuda", "mps", "cpu"} and not want.startswith("cuda:"):
        from engine.core.errors import SettingsError

        raise SettingsError(f"unknown device '{preference}'", "settings: device", "use auto, cuda, mps or cpu")
    if want.startswith("cuda") or want == "auto":
        if torch.cuda.is_available():
            device = want if want.startswith("cuda:") else "cuda"
            index = torch.device(device).index or 0
            name = torch.cuda.get_device_name(index)
            if not half_precision:
                dtype = "float32"
            elif torch.cuda.is_bf16_supported():
                dtype = "bfloat16"
            else:
                dtype = "float16"
            return DeviceChoice(device, dtype, name)
    if want in {"auto", "mps"}:
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return DeviceChoice("mps", "float16" if half_precision and want == "mps" else "float32", "Apple MPS")
    import platform

    return DeviceChoice("cpu", "float32", platform.processor() or platform.machine() or "CPU")
