"""The generator registry, its torch-free catalogue, settings checks and the out-of-memory retry."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.augment.generators import GENERATORS, generator_catalogue, generator_class, make_generator
from engine.augment.generators.base import CATALOGUE, Generator, SettingSpec, is_out_of_memory
from engine.core.errors import LanternError

REPO = Path(__file__).resolve().parents[4]


class Doubler(Generator):
    """A generator whose views are 2 * source clamped, made item by item through run_in_chunks."""

    name = "doubler"
    SETTINGS = (
        SettingSpec("steps", "int", 10, 1, 100, "steps"),
        SettingSpec("scale", "float", 0.5, 0.0, 1.0, ""),
    )

    def __init__(self, fail_above: int = 0, error: Exception | None = None) -> None:
        self.fail_above = fail_above
        self.error = error
        self.chunks: list[int] = []
        self.messages: list[str] = []
        self.on_warning = self.messages.append

    def views_batch(self, sources: torch.Tensor, count: int, seed: int, **settings: Any) -> torch.Tensor:
        self.check_request(sources, count, seed)
        values = self.check_settings(settings)
        items = [(b, k) for b in range(sources.shape[0]) for k in range(count)]

        def run(part: Sequence[tuple[int, int]]) -> torch.Tensor:
            if self.error is not None and len(part) > self.fail_above:
                raise self.error
            self.chunks.append(len(part))
            return torch.stack([(sources[b] * (1 + values["scale"] * k)).clamp(0, 1) for b, k in part])

        return self.run_in_chunks(run, items).view(sources.shape[0], count, *sources.shape[1:])


def test_catalogue_is_listed_without_importing_torch() -> None:
    code = (
        "import json, sys\n"
        "import engine.augment.generators as g\n"
        "names = [entry['name'] for entry in g.generator_catalogue()]\n"
        "heavy = sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules)\n"
        "print(json.dumps({'names': names, 'heavy': heavy}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    answer = json.loads(result.stdout)
    assert answer["heavy"] == []
    assert answer["names"] == list(GENERATORS)


def test_catalogue_entries_describe_every_generator() -> None:
    catalogue = {entry["name"]: entry for entry in generator_catalogue()}
    assert set(catalogue) == {"unclip", "image_variation", "sdedit", "lantern", "identity", "other_image"}
    assert json.loads(json.dumps(generator_catalogue())) == generator_catalogue()  # plain data for the GUI
    unclip = catalogue["unclip"]
    assert [s["name"] for s in unclip["settings"]] == ["steps", "guidance", "noise_level", "eta"]
    assert unclip["settings"][0] == {
        "name": "steps",
        "kind": "int",
        "default": 10,
        "minimum": 1,
        "maximum": 1000,
        "help": "DDIM denoising steps (the paper uses 10)",
    }
    assert {s["name"]: s["default"] for s in catalogue["sdedit"]["settings"]}["strength"] == 0.5
    assert {s["name"]: s["default"] for s in unclip["settings"]}["noise_level"] == 0
    assert catalogue["identity"]["settings"] == [] and not catalogue["identity"]["takes_checkpoint"]
    assert catalogue["lantern"]["default_checkpoint"] == "bundled"
    for entry in catalogue.values():
        assert entry["title"] and entry["description"]
        for spec in entry["settings"]:
            assert spec["kind"] in {"int", "float"} and spec["minimum"] <= spec["default"] <= spec["maximum"]


@pytest.mark.parametrize("name", list(GENERATORS))
def test_each_class_takes_its_names_and_settings_from_the_catalogue(name: str) -> None:
    cls = generator_class(name)
    assert issubclass(cls, Generator)
    assert (cls.name, cls.title, cls.description) == (
        name,
        CATALOGUE[name].title,
        CATALOGUE[name].description,
    )
    assert cls.settings() == list(CATALOGUE[name].settings)


def test_unknown_generator_lists_the_known_ones() -> None:
    with pytest.raises(LanternError) as caught:
        make_generator("dalle")
    assert "unknown generator 'dalle'" in caught.value.what
    for name in GENERATORS:
        assert name in caught.value.hint


def test_check_settings_fills_defaults_and_refuses_bad_values() -> None:
    generator = Doubler()
    assert generator.check_settings({}) == {"steps": 10, "scale": 0.5}
    assert generator.check_settings({"steps": 4.0, "scale": 1}) == {"steps": 4, "scale": 1.0}
    assert isinstance(generator.check_settings({"steps": 4.0})["steps"], int)
    bad: list[tuple[dict[str, object], str]] = [
        ({"stepz": 3}, "unknown setting(s) stepz"),
        ({"steps": 0}, "out of range"),
        ({"steps": 101}, "out of range"),
        ({"steps": 2.5}, "whole number"),
        ({"steps": True}, "must be a number"),
        ({"scale": "high"}, "must be a number"),
        ({"scale": float("nan")}, "finite"),
        ({"scale": 1.5}, "out of range"),
    ]
    for settings, message in bad:
        with pytest.raises(LanternError) as caught:
            generator.check_settings(settings)
        assert message in caught.value.what, settings
        assert "doubler" in caught.value.where


def test_requests_that_no_generator_can_serve_are_refused() -> None:
    generator = Doubler()
    good = torch.rand(2, 1, 8, 8)
    bad: list[tuple[Any, int, int, str]] = [
        (torch.rand(2, 2, 8, 8), 1, 0, "C = 1 or 3"),
        (torch.rand(1, 8, 8), 1, 0, "[B, C, H, W]"),
        (good * 255, 1, 0, "must lie in [0, 1]"),
        (good.to(torch.uint8), 1, 0, "finite floats"),
        (good, 0, 0, "count"),
        (good, 1, -1, "seed"),
    ]
    for sources, count, seed, message in bad:
        with pytest.raises(LanternError) as caught:
            generator.views_batch(sources, count, seed)
        assert message in caught.value.what
    with pytest.raises(LanternError, match=r"\[C, H, W\]"):
        generator.views(good, 2, 0)


def test_views_is_views_batch_of_one_source() -> None:
    source = torch.rand(3, 6, 5)
    views = Doubler().views(source, 3, seed=1, scale=0.25)
    assert views.shape == (3, 3, 6, 5)
    assert torch.equal(views[2], (source * 1.5).clamp(0, 1))


@pytest.mark.parametrize(
    "error",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("HIP out of memory"),
    ],
)
def test_out_of_memory_halves_the_batch_retries_and_says_so(error: Exception) -> None:
    sources = torch.rand(3, 1, 4, 4)
    plain = Doubler().views_batch(sources, 4, seed=0)
    generator = Doubler(fail_above=3, error=error)
    generator.max_batch = 12
    views = generator.views_batch(sources, 4, seed=0)
    assert torch.equal(views, plain)
    # 12 items: 12 fails, 6 fails, then chunks of 3; the smaller batch is kept for the next call.
    assert generator.chunks == [3, 3, 3, 3]
    assert generator.max_batch == 3
    assert len(generator.messages) == 2
    assert "out of memory with 12 views at once; retrying 6 at a time" in generator.messages[0]


def test_out_of_memory_for_a_single_view_is_a_clear_error() -> None:
    generator = Doubler(fail_above=0, error=torch.cuda.OutOfMemoryError("CUDA out of memory"))
    with pytest.raises(LanternError, match="out of memory even for one view"):
        generator.views_batch(torch.rand(1, 1, 4, 4), 2, seed=0)


def test_other_runtime_errors_are_not_retried() -> None:
    generator = Doubler(fail_above=0, error=RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        generator.views_batch(torch.rand(1, 1, 4, 4), 2, seed=0)
    assert generator.messages == []
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 GB"))
    assert not is_out_of_memory(ValueError("out of memory"))
