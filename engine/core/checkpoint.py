"""Checkpoints as one safetensors file: model tensors, optimizer state and JSON meta, never pickle.

Layout of the file:
    tensors   "model/<state key>"        every tensor of the model's state dict
              "optimizer/<path>"         every tensor found in the optimizer's (nested) state dict
    metadata  "lantern.format"           "lantern-checkpoint"
              "lantern.version"          layout version, for readers of later layouts
              "lantern.meta"             the caller's meta dict as JSON
              "lantern.optimizer"        the optimizer state dict as JSON, each tensor replaced by
                                         {"__tensor__": key}; absent when no optimizer state was saved

torch and safetensors are imported inside the functions: engine.core stays importable by the GUI.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.errors import LanternError

if TYPE_CHECKING:
    import torch

FORMAT = "lantern-checkpoint"
VERSION = 1
MODEL_PREFIX = "model/"
OPTIMIZER_PREFIX = "optimizer/"
_TENSOR, _DICT, _TUPLE = "__tensor__", "__dict__", "__tuple__"


@dataclass(frozen=True)
class Checkpoint:
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    meta: dict[str, Any]


class _Encoder:
    """Turns a nested optimizer state into JSON-able data, collecting its tensors under readable keys.

    Dicts become {"__dict__": [[key, value], ...]} so integer keys (parameter indices) stay integers,
    and tuples stay tuples ({"__tuple__": [...]}); Python's JSON keeps NaN and infinities.
    """

    def __init__(self, where: str) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self.where = where

    def encode(self, value: Any, path: tuple[str, ...]) -> Any:
        import torch

        if isinstance(value, torch.Tensor):
            key = OPTIMIZER_PREFIX + ".".join(path)
            while key in self.tensors:  # keys containing dots could collide with nested paths
                key += "_"
            self.tensors[key] = value
            return {_TENSOR: key}
        if isinstance(value, dict):
            items = []
            for k, v in value.items():
                if not isinstance(k, str | int) or isinstance(k, bool):
                    raise LanternError(
                        f"optimizer state key {k!r} at {'.'.join(path) or 'top'} is not a str or int",
                        self.where,
                        "checkpoints hold optimizer states whose keys are strings or integers",
                    )
                items.append([k, self.encode(v, (*path, str(k)))])
            return {_DICT: items}
        if isinstance(value, tuple):
            return {_TUPLE: [self.encode(v, (*path, str(i))) for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, (*path, str(i))) for i, v in enumerate(value)]
        if value is None or isinstance(value, bool | int | float | str):
            return value
        raise LanternError(
            f"optimizer state value at {'.'.join(path)} has type {type(value).__name__}, which a checkpoint "
            "cannot hold",
            self.where,
            "optimizer states may hold tensors, numbers, strings, None, lists, tuples and dicts",
        )


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict):
        if _TENSOR in value:
            return tensors[value[_TENSOR]]
        if _DICT in value:
            return {k: _decode(v, tensors) for k, v in value[_DICT]}
        if _TUPLE in value:
            return tuple(_decode(v, tensors) for v in value[_TUPLE])
        raise ValueError(f"unknown encoded node {sorted(value)}")
    return value


def _prepare(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached contiguous CPU tensors, cloned where two share memory (safetensors refuses shared storage)."""
    seen: set[tuple[int, int]] = set()
    prepared = {}
    for key, tensor in tensors.items():
        tensor = tensor.detach().cpu().contiguous()
        storage = (tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes())
        if tensor.numel() and storage in seen:
            tensor = tensor.clone()
        elif tensor.numel():
            seen.add(storage)
        prepared[key] = tensor
    return prepared


def save_checkpoint(
    path: Path | str,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any] | None,
    meta: dict[str, Any],
) -> Path:
    """Write model state, optimizer state and meta into one .safetensors file, atomically."""
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    where = str(path)
    tensors: dict[str, torch.Tensor] = {}
    for key, tensor in model_state.items():
        if not isinstance(tensor, torch.Tensor):
            raise LanternError(
                f"model state entry '{key}' is a {type(tensor).__name__}, not a tensor",
                where,
                "pass model.state_dict()",
            )
        tensors[MODEL_PREFIX + key] = tensor
    metadata = {"lantern.format": FORMAT, "lantern.version": str(VERSION)}
    try:
        metadata["lantern.meta"] = json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise LanternError(
            f"checkpoint meta is not JSON-serialisable ({exc})",
            where,
            "keep meta to numbers, strings, lists, dicts",
        ) from exc
    if optimizer_state is not None:
        encoder = _Encoder(where)
        metadata["lantern.optimizer"] = json.dumps(encoder.encode(optimizer_state, ()))
        tensors.update(encoder.tensors)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    os.close(fd)
    try:
        save_file(_prepare(tensors), tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path: Path | str, device: str = "cpu") -> Checkpoint:
    """Read a checkpoint written by save_checkpoint; a damaged or foreign file raises LanternError."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    where = str(path)
    hint = "the file is damaged or incomplete: use another checkpoint, or re-run the job that wrote it"
    if not path.is_file():
        raise LanternError("the checkpoint file does not exist", where, "check the path or the artifact")
    try:
        with safe_open(str(path), framework="pt", device=device) as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise LanternError(f"the checkpoint cannot be read ({exc})", where, hint) from exc
    if metadata.get("lantern.format") != FORMAT:
        raise LanternError(
            "the file is a safetensors file but not a Lantern checkpoint (no 'lantern.format' metadata)",
            where,
            "load it as plain weights, or pick a checkpoint that Lantern wrote",
        )
    version = int(metadata.get("lantern.version", "0"))
    if version > VERSION:
        raise LanternError(
            f"the checkpoint was written by a newer Lantern (layout {version}, this one reads {VERSION})",
            where,
            "upgrade Lantern",
        )
    try:
        meta = json.loads(metadata.get("lantern.meta", "{}"))
        optimizer_state = None
        if "lantern.optimizer" in metadata:
            optimizer_state = _decode(json.loads(metadata["lantern.optimizer"]), tensors)
    except (ValueError, KeyError, TypeError) as exc:
        raise LanternError(f"the checkpoint's metadata is damaged ({exc!r})", where, hint) from exc
    model_state = {key[len(MODEL_PREFIX) :]: t for key, t in tensors.items() if key.startswith(MODEL_PREFIX)}
    return Checkpoint(model_state=model_state, optimizer_state=optimizer_state, meta=meta)
