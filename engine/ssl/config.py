"""SSLConfig: what one SSL training run depends on (method, backbone shape, optimiser, augmentation, seed).

Torch-free, so the GUI and the experiment config can build and validate it; the method name and the
classic augmentation settings are checked here too, so a bad config fails before anything trains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.core.errors import LanternError

if TYPE_CHECKING:
    from engine.augment.classic import ClassicConfig
    from engine.ssl.backbone import BackboneConfig


class SSLConfig(BaseModel):
    """One SSL training run. The learning rate follows a linear warm-up then a cosine decay to zero."""

    model_config = ConfigDict(extra="forbid")

    method: str = Field("simclr", description="simclr, simsiam, byol, moco_v2 or barlow_twins")
    method_settings: dict[str, int | float] = Field(
        default_factory=dict, description="overrides of the method's defaults, e.g. {'temperature': 0.5}"
    )
    width: int = Field(32, ge=1, le=1024, description="backbone first-stage width (features: 8x width)")
    blocks: tuple[int, ...] = Field((2, 2, 2, 2), description="basic blocks per stage; (2,2,2,2) = ResNet-18")
    norm: Literal["batch", "group"] = Field("batch", description="backbone normalisation")
    epochs: int = Field(10, ge=1, le=100_000)
    batch_size: int = Field(256, ge=2, le=1 << 20, description="global batch (all processes together)")
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0.0, le=100.0, description="peak learning rate")
    weight_decay: float = Field(1e-4, ge=0.0, le=10.0, description="not applied to biases and norms")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="SGD momentum")
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_epochs: float = Field(1.0, ge=0.0, description="linear warm-up from 0 to lr")
    precision: Literal["fp32", "bf16"] = Field("fp32", description="bf16: autocast of the forward pass")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    augment: dict[str, Any] = Field(
        default_factory=dict, description="ClassicConfig settings of both views, e.g. {'blur_p': 0.5}"
    )
    augment_view2: dict[str, Any] | None = Field(
        None,
        description="ClassicConfig settings of view 2 when they differ (BYOL: blur_p 0.1, solarise_p 0.2)",
    )

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        from engine.ssl.methods import SSL_METHODS

        if value not in SSL_METHODS:
            raise ValueError(f"unknown SSL method '{value}' (known: {', '.join(SSL_METHODS)})")
        return value

    @field_validator("blocks")
    @classmethod
    def _blocks(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not 1 <= len(value) <= 6 or any(b < 1 or b > 64 for b in value):
            raise ValueError(f"blocks must be 1 to 6 stages of 1..64 blocks, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> SSLConfig:
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) exceeds epochs ({self.epochs})")
        try:
            self.classic_configs()
        except LanternError as exc:
            raise ValueError(exc.what) from None
        return self

    def classic_configs(self) -> tuple[ClassicConfig, ClassicConfig]:
        """The classic augmentation of view 1 and of view 2."""
        from engine.augment.classic import ClassicConfig

        first = ClassicConfig.from_dict(self.augment)
        second = first if self.augment_view2 is None else ClassicConfig.from_dict(self.augment_view2)
        return first, second

    def backbone_config(self, in_channels: int) -> BackboneConfig:
        """The backbone's shape for images with `in_channels` channels (imports torch)."""
        from engine.ssl.backbone import BackboneConfig

        return BackboneConfig(in_channels=in_channels, width=self.width, blocks=self.blocks, norm=self.norm)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the run record."""
        return self.model_dump(mode="json")
