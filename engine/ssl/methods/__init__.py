"""SSL methods behind one registry: SimCLR, SimSiam, BYOL, MoCo v2 and Barlow Twins.

`make_method(name, backbone, **settings)` builds one around a backbone. The registry maps names to
"module:Class" and imports on first build, so listing the methods needs no torch.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from engine.core.errors import LanternError
from engine.core.lazy_registry import registered_class

if TYPE_CHECKING:
    from torch import nn

    from engine.ssl.methods.base import SSLMethod

SSL_METHODS: dict[str, str] = {
    "simclr": "engine.ssl.methods.simclr:SimCLR",
    "simsiam": "engine.ssl.methods.simsiam:SimSiam",
    "byol": "engine.ssl.methods.byol:BYOL",
    "moco_v2": "engine.ssl.methods.moco_v2:MoCoV2",
    "barlow_twins": "engine.ssl.methods.barlow_twins:BarlowTwins",
}

__all__ = ["SSL_METHODS", "SSLMethod", "make_method", "method_class", "method_defaults"]


def method_class(name: str) -> type[SSLMethod]:
    """The class registered as `name` (unknown names raise LanternError listing the known ones)."""
    return registered_class(SSL_METHODS, name, "SSL method", "SSL method")


def method_defaults(name: str) -> dict[str, Any]:
    """The settings `name` accepts, with their defaults."""
    signature = inspect.signature(method_class(name).__init__)
    return {
        key: param.default
        for key, param in signature.parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY
    }


def make_method(name: str, backbone: nn.Module, **settings: Any) -> SSLMethod:
    """The SSL method `name` around `backbone`; `settings` override its defaults (see method_defaults)."""
    cls = method_class(name)
    known = method_defaults(name)
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise LanternError(
            f"unknown settings for {name}: {', '.join(unknown)}",
            "SSL method settings",
            f"{name} accepts: {', '.join(f'{k} (default {v})' for k, v in known.items())}",
        )
    for key, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise LanternError(
                f"{name} setting {key} must be a positive number, got {value!r}",
                "SSL method settings",
                f"the default is {known[key]}",
            )
    return cls(backbone, **settings)


def __getattr__(name: str) -> Any:
    # SSLMethod needs torch; importing it on first use keeps listing the methods torch-free.
    if name == "SSLMethod":
        from engine.ssl.methods.base import SSLMethod

        return SSLMethod
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
