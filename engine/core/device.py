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

    want = preference.strip().lower()
    index_text = want.removeprefix("cuda:") if want.startswith("cuda:") else "0"
    known = want in {"auto", "cuda", "mps", "cpu"} or want.startswith("cuda:")
    if not known or not index_text.isdigit():
        from engine.core.errors import SettingsError

        raise SettingsError(
            f"unknown device '{preference}'",
            "settings: device",
            "use auto, cuda, cuda:N (N a number), mps or cpu",
        )
    if (want.startswith("cuda") or want == "auto") and torch.cuda.is_available():
        device = want if want.startswith("cuda:") else "cuda"
        index = int(index_text)
        if index >= torch.cuda.device_count():
            from engine.core.errors import SettingsError

            raise SettingsError(
                f"there is no CUDA device {index} (this machine has {torch.cuda.device_count()})",
                "settings: device",
                "pick an existing device number, or use cuda or auto",
            )
        name = torch.cuda.get_device_name(index)
        if not half_precision:
            dtype = "float32"
        elif torch.version.hip or torch.cuda.get_device_capability(index)[0] >= 8:
            # Not is_bf16_supported(): by default it also says yes to slow emulated bf16 (pre-Ampere)
            # and asks about the current device rather than the chosen one.
            dtype = "bfloat16"
        else:
            dtype = "float16"
        return DeviceChoice(device, dtype, name)
    if want in {"auto", "mps"}:
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            dtype = "float16" if half_precision and want == "mps" else "float32"
            return DeviceChoice("mps", dtype, "Apple MPS")
    import platform

    return DeviceChoice("cpu", "float32", platform.processor() or platform.machine() or "CPU")
