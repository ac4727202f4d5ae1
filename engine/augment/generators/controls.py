"""The two control generators of the experiment: the source itself, and a generator fed another image.

`identity` is "G returns x" (must match the no-generator baseline); `other_image` is "G conditioned on a
random other image" (should hurt, showing that semantic consistency with the source is what helps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from engine.augment.generators.base import CATALOGUE, Generator, item_seed
from engine.augment.generators.pipelines import to_source_shape
from engine.core.errors import LanternError

# A key apart from the (source, view) keys of item_seed, so drawing the other image does not reuse a
# view's random stream.
_DRAW_KEY = 0x07_4E_52


class IdentityGenerator(Generator):
    """Returns `count` exact copies of the source."""

    name = "identity"

    def __init__(self, checkpoint: str | None = None, device: str | torch.device = "cpu") -> None:
        # checkpoint and device are accepted so every registry entry is built alike; a copy needs neither.
        self.checkpoint = checkpoint
        self.device = torch.device(device)

    def views_batch(self, sources: torch.Tensor, count: int, seed: int, **settings: Any) -> torch.Tensor:
        self.check_request(sources, count, seed)
        self.check_settings(settings)
        return sources.unsqueeze(1).expand(-1, count, -1, -1, -1).clone()


class OtherImageGenerator(Generator):
    """Runs `inner` on a random other image of `pool` instead of the source; views keep the source's shape.

    The other image is drawn per source from `seed`; it is never the source's own pool index (`source_index`)
    nor any pool image identical to the source.
    """

    name = "other_image"

    def __init__(
        self,
        inner: Generator | None = None,
        pool: torch.Tensor | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        where = "the other_image generator"
        if not isinstance(pool, torch.Tensor) or pool.dim() != 4 or pool.shape[1] not in (1, 3):
            raise LanternError(
                "other_image needs a pool of images [N, C, H, W] to draw the other image from",
                where,
                "pass the dataset's images as pool (make_generator('other_image', pool=images))",
            )
        if not pool.is_floating_point():
            raise LanternError(
                f"the pool must hold float images in [0, 1], got {pool.dtype}",
                where,
                "divide uint8 images by 255",
            )
        if pool.shape[0] < 2:
            raise LanternError(
                f"the pool holds {pool.shape[0]} image(s); another image needs at least 2",
                where,
                "pass more images",
            )
        if inner is None:
            from engine.augment.generators import make_generator

            inner = make_generator(str(CATALOGUE["other_image"].extra["inner_default"]), device=str(device))
        self.inner = inner
        self.pool = pool
        self.device = torch.device(device)
        self._keys: torch.Tensor | None = None
        self._direction: torch.Tensor | None = None
        # Checked against the inner generator's settings, whichever it is.
        self.SETTINGS = inner.SETTINGS

    @classmethod
    def build(
        cls,
        *,
        checkpoint: str | None = None,
        device: str = "cpu",
        pool: torch.Tensor | None = None,
        inner: str | None = None,
        **load_args: Any,
    ) -> Generator:
        """`make_generator('other_image', pool=..., inner='lantern', checkpoint=...)`: the checkpoint and
        loader arguments go to the inner generator (default: the catalogue's, lantern)."""
        from engine.augment.generators import make_generator

        inner = inner or str(CATALOGUE[cls.name].extra["inner_default"])
        if inner == cls.name:
            raise LanternError(
                "other_image cannot wrap itself",
                "the other_image generator",
                "choose another inner generator",
            )
        inner_generator = make_generator(inner, checkpoint=checkpoint, device=device, **load_args)
        return cls(inner=inner_generator, pool=pool, device=device)

    def _copies_of(self, source: torch.Tensor) -> torch.Tensor:
        """Bool [N]: which pool images equal `source` exactly.

        A duplicate of the source in the pool would make this control secretly the identity. A random
        projection of every image (computed once) finds the candidates in O(N) per source; only those are
        compared in full. The tolerance covers float32 rounding of the projections.
        """
        if self._keys is None:
            self._direction = torch.rand(self.pool[0].numel(), generator=torch.Generator().manual_seed(0))
            self._keys = self.pool.flatten(1).float().cpu() @ self._direction
        source = source.to("cpu", self.pool.dtype)
        key = float(source.flatten().float() @ self._direction)
        near = torch.nonzero((self._keys - key).abs() <= 1e-4 * (1.0 + abs(key))).flatten()
        same = torch.zeros(len(self._keys), dtype=torch.bool)
        for index in near.tolist():
            same[index] = torch.equal(self.pool[index].cpu(), source)
        return same

    def pick_others(
        self, sources: torch.Tensor, seed: int, source_index: int | Sequence[int] | torch.Tensor | None = None
    ) -> list[int]:
        """The pool index of the other image for each source [B, C, H, W], drawn from `seed`."""
        batch = sources.shape[0]
        if source_index is None:
            own: list[int | None] = [None] * batch
        elif isinstance(source_index, int):
            own = [source_index]
        else:
            own = [int(i) for i in torch.as_tensor(source_index).reshape(-1).tolist()]
        if len(own) != batch:
            raise LanternError(
                f"source_index names {len(own)} image(s) for {batch} source(s)",
                "the other_image generator",
                "give one pool index per source image",
            )
        size = self.pool.shape[0]
        comparable = tuple(self.pool.shape[1:]) == tuple(sources.shape[1:])
        picks = []
        for b in range(batch):
            excluded = torch.zeros(size, dtype=torch.bool)
            if own[b] is not None:
                if not 0 <= own[b] < size:
                    raise LanternError(
                        f"source_index {own[b]} is outside the pool of {size} images",
                        "the other_image generator",
                        "give the source's index in the pool",
                    )
                excluded[own[b]] = True
            if comparable:
                excluded |= self._copies_of(sources[b])
            candidates = torch.nonzero(~excluded).flatten()
            if len(candidates) == 0:
                raise LanternError(
                    "every image of the pool equals the source",
                    "the other_image generator",
                    "pass a varied pool",
                )
            draw = torch.Generator().manual_seed(item_seed(seed, b, _DRAW_KEY))
            picks.append(int(candidates[torch.randint(len(candidates), (1,), generator=draw)]))
        return picks

    def views_batch(
        self,
        sources: torch.Tensor,
        count: int,
        seed: int,
        source_index: int | Sequence[int] | torch.Tensor | None = None,
        **settings: Any,
    ) -> torch.Tensor:
        self.check_request(sources, count, seed)
        values = self.check_settings(settings)
        others = self.pool[torch.tensor(self.pick_others(sources, seed, source_index))]
        views = self.inner.views_batch(others.to(sources.device, torch.float32), count, seed, **values)
        batch, channels, height, width = sources.shape
        views = to_source_shape(views.flatten(0, 1), channels, height, width)
        return views.view(batch, count, channels, height, width)

    def views(
        self, source: torch.Tensor, count: int, seed: int, source_index: int | None = None, **settings: Any
    ) -> torch.Tensor:
        """`count` views [count, C, H, W] of a random other image than `source` ([C, H, W])."""
        if getattr(source, "dim", lambda: 0)() != 3:
            return super().views(source, count, seed, **settings)
        return self.views_batch(source.unsqueeze(0), count, seed, source_index=source_index, **settings)[0]
