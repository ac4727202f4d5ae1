"""SSL ExperimentConfig: defaults, arms and labels, per-run SSLConfigs, clear messages for bad configs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.errors import LanternError
from engine.ssl.experiment_config import (
    ExperimentConfig,
    arm_label,
    load_experiment_config,
    parse_experiment_config,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "ssl"


def test_defaults_are_the_papers_small_scale_design() -> None:
    config = ExperimentConfig()
    assert config.arms == [0.0, 0.5, 1.0]
    assert config.controls == ["identity", "other_image"]
    assert config.seeds == [0, 1, 2]
    assert config.draw == "per_image"
    assert config.generator.name == "lantern" and config.generator.checkpoint == "bundled"
    assert config.generator.settings == {"steps": 10}
    assert config.arm_list() == [
        ("p=0", 0.0, None),
        ("p=0.5", 0.5, None),
        ("p=1", 1.0, None),
        ("control: identity", 1.0, "identity"),
        ("control: other_image", 1.0, "other_image"),
    ]
    assert config.run_count() == 15


def test_each_run_gets_the_shared_ssl_settings_with_its_method_and_seed() -> None:
    config = parse_experiment_config(
        {
            "methods": ["simclr", "byol"],
            "method_settings": {"simclr": {"temperature": 0.2}},
            "ssl": {"epochs": 3, "width": 8, "batch_size": 64},
            "limit": 128,
        }
    )
    simclr = config.ssl_config("simclr", 2)
    byol = config.ssl_config("byol", 0)
    assert (simclr.method, simclr.seed, simclr.method_settings) == ("simclr", 2, {"temperature": 0.2})
    assert (byol.method, byol.seed, byol.method_settings) == ("byol", 0, {})
    assert simclr.epochs == byol.epochs == 3 and simclr.width == byol.width == 8
    assert config.run_count() == 2 * 5 * 3


def test_arm_labels() -> None:
    assert arm_label(0.0, None) == "p=0"
    assert arm_label(0.25, None) == "p=0.25"
    assert arm_label(1.0, "other_image") == "control: other_image"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"arms": [0.0, 1.5]}, "'arms': arm p = 1.5 is outside [0, 1]"),
        ({"arms": [-0.5]}, "arm p = -0.5 is outside [0, 1]"),
        ({"arms": [0.5, 0.5]}, "an arm is listed twice"),
        ({"controls": ["blur"]}, "unknown control 'blur' (known: identity, other_image)"),
        ({"seeds": []}, "give at least 1 seed"),
        ({"seeds": [1, 1]}, "a seed is listed twice"),
        ({"seeds": [-1]}, "seeds must be 0 or more"),
        (
            {"methods": ["swav"]},
            "unknown SSL method 'swav' (known: simclr, simsiam, byol, moco_v2, barlow_twins)",
        ),
        ({"methods": []}, "give at least one SSL method"),
        ({"methods": ["simclr", "simclr"]}, "a method is listed twice"),
        ({"method_settings": {"byol": {}}}, "method_settings names 'byol', which is not one of the methods"),
        ({"arms": [], "controls": []}, "give at least one arm or control"),
        ({"ssl": {"seed": 4}}, "ssl may not set seed"),
        ({"ssl": {"method": "byol"}}, "ssl may not set method"),
        ({"ssl": {"epochs": 0}}, "'ssl.epochs': Input should be greater than or equal to 1"),
        ({"ssl": {"colour": 1}}, "unknown key 'ssl.colour'"),
        ({"limit": 100}, "limit 100 images make no full batch of ssl.batch_size 256"),
        ({"limit": 8}, "'limit': Input should be greater than or equal to 16"),
        ({"draw": "per_epoch"}, "'draw': Input should be 'per_image' or 'per_sample'"),
        ({"k": 0}, "'k': Input should be greater than or equal to 1"),
        ({"generator": {"name": "gan"}}, "unknown generator 'gan'"),
        ({"generator": {"name": "identity"}}, "generator 'identity' has no setting 'steps'"),
        ({"generator": {"settings": {"steps": 0}}}, "setting 'steps' = 0 is out of range"),
        ({"seed": 3}, "unknown key 'seed'"),
    ],
)
def test_bad_configs_say_what_is_wrong(document: dict, message: str) -> None:
    with pytest.raises(LanternError) as caught:
        parse_experiment_config(document, "my.json")
    assert message in caught.value.what
    assert caught.value.what.startswith("invalid SSL experiment config: ")
    assert caught.value.where == "my.json"
    assert "examples/ssl/fashion-quick.json" in caught.value.hint


def test_a_document_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(LanternError, match="must be a JSON object"):
        parse_experiment_config([1, 2])


def test_json_and_toml_files(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps({"seeds": [4], "controls": ["identity"]}))
    (tmp_path / "c.toml").write_text('seeds = [4]\ncontrols = ["identity"]\n[ssl]\nepochs = 2\n')
    from_json = load_experiment_config(tmp_path / "c.json")
    from_toml = load_experiment_config(tmp_path / "c.toml")
    assert from_json.seeds == from_toml.seeds == [4]
    assert from_toml.ssl == {"epochs": 2}
    with pytest.raises(LanternError, match="does not exist"):
        load_experiment_config(tmp_path / "missing.json")


@pytest.mark.parametrize("name", ["fashion-quick.json", "fashion-small.json"])
def test_the_examples_are_valid(name: str) -> None:
    config = load_experiment_config(EXAMPLES / name)
    assert config.arms[0] == 0.0 and "identity" in config.controls


def test_importing_the_config_leaves_torch_unloaded() -> None:
    code = (
        "import sys; from engine.ssl.experiment_config import ExperimentConfig; ExperimentConfig(); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=EXAMPLES.parents[1]
    )
    assert out.stdout.strip() == "False"
