"""Fixtures shared by the augment and SSL tests: a small real judge standing in for the bundled one."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def small_judge() -> Any:
    """A small real judge trained once per session (a second or two on 100 demo images): right on most
    images, which is all the bank, op, CLI and experiment tests need of it."""
    from engine.augment.datasets import load_augment_data
    from engine.augment.judge import train_judge

    return train_judge(load_augment_data("fashion-mnist-demo", limit=100).train, epochs=1, widths=(8, 8, 8))


@pytest.fixture
def fast_judge(small_judge: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Banks score their views with small_judge rather than loading the bundled judge (or, when none is
    installed, training one for half a minute)."""
    from engine.augment import bank

    monkeypatch.setattr(bank, "load_judge", lambda dataset, device="cpu", log=None: small_judge)
    return small_judge
