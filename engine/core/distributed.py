"""Multi-process training under torchrun: process group set-up, batch slicing and differentiable collectives.

Every helper also works in a plain single process (nothing initialised): then rank 0 of a world of 1,
`wrap` returns the module itself and the collectives return their input. So training code calls them
unconditionally and runs unchanged with or without torchrun. Torch is imported inside the functions
because engine.core is imported by the GUI, which never loads torch.
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta
from typing import Any

from engine.core.errors import LanternError

# torchrun sets all of these; RANK and WORLD_SIZE alone are not enough to rendezvous.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def is_initialised() -> bool:
    """Whether torch.distributed has a default process group in this process."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def init_from_env(timeout_s: float = 300.0) -> bool:
    """Join the process group torchrun describes in the environment; False when not launched by torchrun.

    gloo on CPU, nccl when CUDA is available (each rank then takes the GPU of its LOCAL_RANK).
    Calling it again after a successful start is harmless.
    """
    import torch
    import torch.distributed as dist

    if is_initialised():
        return True
    if not all(os.environ.get(name) for name in TORCHRUN_VARIABLES):
        return False
    if int(os.environ["WORLD_SIZE"]) < 2:
        return False
    if not dist.is_available():
        raise LanternError(
            "this torch build has no torch.distributed",
            "torchrun launch",
            "run in a single process, or install a torch build with distributed support",
        )
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return True


def shutdown() -> None:
    """Leave the process group (torchrun workers call it before exiting)."""
    import torch.distributed as dist

    if is_initialised():
        dist.destroy_process_group()


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    import torch.distributed as dist

    return dist.get_rank() if is_initialised() else 0


def world_size() -> int:
    """How many processes train together (1 when not distributed)."""
    import torch.distributed as dist

    return dist.get_world_size() if is_initialised() else 1


def is_main() -> bool:
    """Whether this process writes logs, metrics and checkpoints (rank 0)."""
    return rank() == 0


def local_device() -> str:
    """The device this process trains on: its LOCAL_RANK's GPU under torchrun with nccl, else "cpu"."""
    import torch
    import torch.distributed as dist

    if is_initialised() and dist.get_backend() == "nccl":
        return f"cuda:{torch.cuda.current_device()}"
    return "cpu"


def local_slice(global_batch: Any) -> Any:
    """This rank's contiguous share of a batch every rank holds whole (rank r takes rows r*b..(r+1)*b)."""
    size = world_size()
    if size == 1:
        return global_batch
    total = int(global_batch.shape[0])
    if total % size:
        raise LanternError(
            f"a global batch of {total} does not split evenly over {size} processes",
            "distributed batch",
            f"choose a batch size divisible by {size}",
        )
    share = total // size
    return global_batch[rank() * share : (rank() + 1) * share]


def wrap(module: Any) -> Any:
    """DistributedDataParallel around `module` when distributed, else `module` itself.

    The module's forward must return what the loss needs: DDP only synchronises gradients of parameters
    used in a forward call.
    """
    if not is_initialised():
        return module
    import torch
    from torch.nn.parallel import DistributedDataParallel

    device = next(module.parameters()).device
    if device.type != "cuda":
        return DistributedDataParallel(module)
    index = device.index if device.index is not None else torch.cuda.current_device()
    return DistributedDataParallel(module, device_ids=[index])


def unwrap(module: Any) -> Any:
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return getattr(module, "module", module)


@functools.cache
def _collectives() -> tuple[Any, Any]:
    # Built on first use so that importing this module stays torch-free.
    import torch
    import torch.distributed as dist

    class AllGather(torch.autograd.Function):
        """Concatenate every rank's tensor along dim 0; gradients flow back to the rank that owns a row.

        The backward is an all-reduce of the full gradient followed by taking one's own rows: every
        backend has all-reduce (gloo lacks reduce-scatter, and torch's own all_gather autograd needs it
        or all-to-all).
        """

        @staticmethod
        def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
            tensor = tensor.contiguous()
            parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
            dist.all_gather(parts, tensor)
            ctx.rows = tensor.shape[0]
            return torch.cat(parts, dim=0)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            grad = grad.contiguous().clone()
            dist.all_reduce(grad)
            start = dist.get_rank() * ctx.rows
            return grad[start : start + ctx.rows]

    class AllReduceSum(torch.autograd.Function):
        """Sum over ranks; the gradient of a sum is the sum of every rank's gradient."""

        @staticmethod
        def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
            out = tensor.contiguous().clone()
            dist.all_reduce(out)
            return out

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            grad = grad.contiguous().clone()
            dist.all_reduce(grad)
            return grad

    return AllGather, AllReduceSum


def all_gather_with_grad(tensor: Any) -> Any:
    """Every rank's `tensor` (equal shapes) concatenated along dim 0 in rank order, differentiable.

    A loss computed identically on every rank from gathered tensors gets, after DDP averages the
    gradients, exactly the gradient of that loss in one process over the whole batch.
    """
    if not is_initialised():
        return tensor
    return _collectives()[0].apply(tensor)


def all_reduce_sum_with_grad(tensor: Any) -> Any:
    """The sum of `tensor` over ranks, differentiable (global batch statistics)."""
    if not is_initialised():
        return tensor
    return _collectives()[1].apply(tensor)


def all_reduce_mean(tensor: Any) -> Any:
    """The mean of `tensor` over ranks (no gradient; for logging losses and rates)."""
    if not is_initialised():
        return tensor
    import torch.distributed as dist

    out = tensor.detach().clone()
    dist.all_reduce(out)
    return out / dist.get_world_size()


def barrier() -> None:
    """Wait until every rank reaches this point (no-op in a single process)."""
    import torch.distributed as dist

    if is_initialised():
        dist.barrier()
