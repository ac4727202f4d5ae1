"""ExperimentConfig: defaults per modality, names checked against the registries, r and p*, file errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.attribution.experiment_config import ExperimentConfig, load_config, parse_config
from engine.core.errors import LanternError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "attribution"


def test_defaults_fill_in_per_modality() -> None:
    image = ExperimentConfig()
    assert image.base.kind == "fashion_pair" and image.model.name == "small_cnn" and image.runs == 3
    assert [m.name for m in image.manipulations] == [
        "peripheral_blur",
        "centre_brightness",
        "striped_noise",
        "watermark",
        "striped_hue",
    ]
    assert image.base.colour is True  # striped_hue needs colour
    assert "lime" in image.methods and "attention" not in image.methods
    assert image.replicate_count() == 15 and image.sweep_points() == [{"r": 0.5, "strength": None}]
    grey = ExperimentConfig(manipulations=[{"name": "watermark"}])
    assert grey.base.colour is False
    text = ExperimentConfig(modality="text")
    assert text.base.kind == "rotten_tomatoes" and text.model.name == "bilstm_attention"
    assert [m.name for m in text.manipulations] == ["article_substitution"]
    assert "attention" in text.methods and "gradcam" not in text.methods


def test_sweeps() -> None:
    cfg = ExperimentConfig(
        sweep={"r": [0.5, 0.8]}, train={"min_accuracy": 0.9}, manipulations=[{"name": "watermark"}]
    )
    assert cfg.sweep_points() == [{"r": 0.5, "strength": None}, {"r": 0.8, "strength": None}]
    assert cfg.replicate_count() == 6
    cfg = ExperimentConfig(sweep={"strength": [0.2, 0.4]}, manipulations=[{"name": "centre_brightness"}])
    assert [p["strength"] for p in cfg.sweep_points()] == [0.2, 0.4]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"manipulations": [{"name": "pixelate"}]}, "unknown image manipulation 'pixelate'"),
        ({"manipulations": [{"name": "article_substitution"}]}, "unknown image manipulation"),
        ({"methods": ["saliency", "magic"]}, "unknown attribution method 'magic'"),
        ({"methods": ["attention"]}, "does not work on image data"),
        ({"model": {"name": "vgg"}}, "unknown image model 'vgg'"),
        ({"modality": "text", "model": {"name": "small_cnn"}}, "unknown text model 'small_cnn'"),
        ({"r": 1.2}, "r must lie in \\[0, 1\\]"),
        ({"r": -0.1}, "r must lie in \\[0, 1\\]"),
        ({"sweep": {"r": [0.5, 1.5]}}, "r must lie in"),
        ({"sweep": {"depth": [1, 2]}}, "a sweep is"),
        ({"r": 0.98}, "min_accuracy 0.97 must exceed p\\* = 0.980"),
        ({"r": 0.2, "train": {"min_accuracy": 0.8}}, "must exceed p\\* = 0.800"),
        ({"sweep": {"r": [0.5, 0.99]}}, "must exceed p\\* = 0.990"),
        ({"epochs": 3}, "unknown key 'epochs'"),
        ({"train": {"epochs": 3}}, "unknown key 'train.epochs'"),
        ({"base": {"kind": "image_folder"}}, "needs base.path"),
        ({"base": {"kind": "rotten_tomatoes"}}, "is not image data"),
        ({"base": {"colour": False}, "manipulations": [{"name": "striped_hue"}]}, "needs colour images"),
        ({"manipulations": [{"name": "watermark"}, {"name": "watermark"}]}, "listed twice"),
        ({"method_settings": {"lime": {"n_samples": 10}}, "methods": ["saliency"]}, "not one of the methods"),
        ({"runs": 0}, "'runs'"),
        ({"matrix": [[0.9, 0.2], [0.3, 0.7]]}, "sum to 1"),
        ({"matrix": [[1.0, 0.0, 0.0], [0, 1, 0], [0, 0, 1]]}, "must be 2 x 2"),
        ({"matrix": [[0.99, 0.01], [0.02, 0.98]]}, "must exceed p\\* = 0.985 of the matrix"),
        ({"matrix": [[0.6, 0.4], [0.4, 0.6]], "sweep": {"r": [0.5, 0.7]}}, "exclude each other"),
    ],
)
def test_bad_configs_are_clear_errors(document: dict, message: str) -> None:
    with pytest.raises(LanternError, match=message) as caught:
        parse_config(document, "my.json")
    assert caught.value.where == "my.json" and "fashion.json" in caught.value.hint


def test_r_at_the_edges_is_allowed_when_min_accuracy_beats_p_star() -> None:
    # r = 0.9 keeps 90% of labels: p* = 0.9, so 0.95 is a valid threshold.
    assert ExperimentConfig(r=0.9, train={"min_accuracy": 0.95}).r == 0.9


def test_an_asymmetric_matrix_replaces_r() -> None:
    cfg = ExperimentConfig(matrix=[[0.9, 0.1], [0.3, 0.7]])
    assert cfg.matrix == [[0.9, 0.1], [0.3, 0.7]]  # p* = (0.9 + 0.7) / 2 = 0.8 < 0.97


def test_files(tmp_path: Path) -> None:
    for name in ("fashion.json", "text.json"):
        assert load_config(EXAMPLES / name).runs == 3
    toml = tmp_path / "exp.toml"
    toml.write_text(
        'name = "t"\nruns = 2\n[train]\nmin_accuracy = 0.9\n[[manipulations]]\nname = "watermark"\n'
    )
    cfg = load_config(toml)
    assert (cfg.name, cfg.runs, cfg.train.min_accuracy, cfg.manipulations[0].name) == (
        "t",
        2,
        0.9,
        "watermark",
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"runs": 2,,}')
    with pytest.raises(LanternError, match=r"not valid JSON.*line 1") as caught:
        load_config(broken)
    assert caught.value.where == str(broken)
    with pytest.raises(LanternError, match="does not exist"):
        load_config(tmp_path / "missing.json")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"runz": 3}))
    with pytest.raises(LanternError, match="unknown key 'runz'") as caught:
        load_config(unknown)
    assert caught.value.where == str(unknown)
    with pytest.raises(LanternError, match="must be a JSON object"):
        parse_config([1, 2])


def test_config_round_trips_through_json() -> None:
    cfg = ExperimentConfig(manipulations=[{"name": "watermark", "strength": 0.8}], runs=2)
    again = parse_config(json.loads(cfg.model_dump_json()))
    assert again == cfg


def test_validating_a_config_loads_no_torch() -> None:
    """The GUI builds and checks configs in its own process, which must never import torch."""
    code = (
        "import sys\n"
        "from engine.attribution.experiment_config import ExperimentConfig\n"
        "from engine.attribution.repository import AttributionRepository\n"
        "import engine.attribution.jobs\n"
        "ExperimentConfig(); ExperimentConfig(modality='text')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])
