"""Job registry and spec validation: every bad spec is a SpecError naming the field and the allowed fields."""

from __future__ import annotations

from pathlib import Path

import pytest
import sample_jobs

from engine.core.errors import SpecError
from engine.jobs import registry
from engine.jobs.registry import get_job_type, job_types, validate_spec
from engine.jobs.runner import run_spec_file


@pytest.fixture(autouse=True)
def _sample_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    sample_jobs.enable(monkeypatch)


def test_valid_spec_gives_type_and_typed_params():
    job_type, params = validate_spec({"job": "test.count", "params": {"n": "7", "step_s": 0.5}})
    assert job_type.name == "test.count" and job_type.resumable
    assert params.n == 7 and params.step_s == 0.5 and params.checkpoint_every == 5


def test_params_may_be_omitted():
    _, params = validate_spec({"job": "test.once"})
    assert params.word == "hello"


def test_unknown_job_names_the_known_jobs():
    with pytest.raises(SpecError) as caught:
        validate_spec({"job": "test.nope", "params": {}})
    error = caught.value
    assert "unknown job 'test.nope'" in error.what
    assert error.where == "spec: job"
    assert "test.count" in error.hint and "test.once" in error.hint


def test_unknown_field_names_the_field_and_the_allowed_fields():
    with pytest.raises(SpecError) as caught:
        validate_spec({"job": "test.count", "params": {"n": 3, "stepz": 1}}, where="my.json")
    error = caught.value
    assert "unknown field 'stepz'" in error.what
    assert error.where == "my.json: params"
    assert "n, step_s, checkpoint_every" in error.hint


def test_wrong_type_names_the_field_and_the_value():
    with pytest.raises(SpecError) as caught:
        validate_spec({"job": "test.count", "params": {"n": "many"}})
    error = caught.value
    assert "'n'" in error.what and "'many'" in error.what
    assert "fields of 'test.count' are:" in error.hint


def test_value_out_of_range_is_refused():
    with pytest.raises(SpecError, match="'n'"):
        validate_spec({"job": "test.count", "params": {"n": 0}})


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ([], "must be a JSON object"),
        ({"params": {}}, "names no job"),
        ({"job": "test.count", "extra": 1}, "unknown top-level field(s): extra"),
        ({"job": "test.count", "params": [1]}, "'params' must be a JSON object"),
    ],
)
def test_malformed_documents(document, fragment):
    with pytest.raises(SpecError) as caught:
        validate_spec(document)
    assert fragment in caught.value.what


def test_extra_job_modules_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    assert "sample_jobs" in registry.job_modules()
    assert set(job_types()) >= {"test.count", "test.once"}
    monkeypatch.setenv(registry.EXTRA_JOB_MODULES_ENV, " sample_jobs , ,engine.no_such_plugin")
    assert registry.job_modules()[-2:] == ("sample_jobs", "engine.no_such_plugin")


def test_an_absent_job_module_is_skipped_but_a_broken_one_raises(monkeypatch, tmp_path: Path):
    (tmp_path / "broken_jobs_plugin.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.EXTRA_JOB_MODULES_ENV, "missing_jobs_plugin_xyz")
    assert get_job_type("test.once").name == "test.once"  # absent module: warned about, not fatal
    monkeypatch.setenv(registry.EXTRA_JOB_MODULES_ENV, "broken_jobs_plugin")
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        job_types()


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_job("test.once", sample_jobs.OnceSpec, "again")(lambda ctx, spec: {})


def test_spec_file_with_bad_json_names_file_line_and_column(tmp_path: Path):
    path = tmp_path / "spec.json"
    path.write_text('{\n  "job": "test.count",\n  "params": {"n": 3,}\n}\n')
    with pytest.raises(SpecError) as caught:
        run_spec_file(path)
    assert "not valid JSON" in caught.value.what
    assert caught.value.where == f"{path}, line 3, column 21"


def test_spec_file_missing_or_not_an_object(tmp_path: Path):
    with pytest.raises(SpecError, match="does not exist"):
        run_spec_file(tmp_path / "absent.json")
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(SpecError, match="JSON list, not an object"):
        run_spec_file(path)


def test_spec_file_round_trip(tmp_path: Path):
    path = tmp_path / "ok.json"
    path.write_text('{"job": "test.count", "params": {"n": 4}}', encoding="utf-8")
    assert run_spec_file(path) == {"job": "test.count", "params": {"n": 4}}
