"""The interactive engine process: models stay loaded between calls, a crash restarts it once and says
so, and op errors come back as LanternError with what/where/hint (or the remote traceback)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import sample_jobs

from engine.core.errors import LanternError
from engine.jobs.interactive import OP_MODULES, InteractiveEngine


@pytest.fixture(autouse=True)
def _sample_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    sample_jobs.enable(monkeypatch)


@pytest.fixture
def restarts() -> list[str]:
    return []


@pytest.fixture
def engine(restarts: list[str]) -> Iterator[InteractiveEngine]:
    opened = InteractiveEngine(on_restart=restarts.append, op_modules=(sample_jobs.MODULE,))
    yield opened
    opened.close()


def test_default_op_modules_are_the_demo_attribution_rl_and_augment_ops():
    assert OP_MODULES == ("engine.demo.ops", "engine.attribution.ops", "engine.rl.ops", "engine.augment.ops")
    assert InteractiveEngine().op_modules == OP_MODULES  # nothing starts until the first call


def test_second_call_is_fast_because_the_model_stays_loaded(engine):
    started = time.monotonic()
    first = engine.call("test.slow_load", x=2.0)
    first_s = time.monotonic() - started
    started = time.monotonic()
    second = engine.call("test.slow_load", x=5.0)
    second_s = time.monotonic() - started
    assert first == {"y": 6.0, "pid": first["pid"]} and second == {"y": 15.0, "pid": first["pid"]}
    assert first_s >= 1.0  # spawn plus the one-second "model load"
    assert second_s < 0.5
    assert engine.call("test.echo", a=[1, "b"], c={"d": None}) == {
        "args": {"a": [1, "b"], "c": {"d": None}},
        "pid": first["pid"],
        "echoes": 1,
    }
    assert engine.restarts == 0


def test_a_crash_restarts_the_engine_and_the_next_call_answers(engine, restarts):
    before = engine.call("test.echo")["pid"]
    with pytest.raises(LanternError) as caught:
        engine.call("test.crash")  # crashes, is restarted and retried once, crashes again
    assert "stopped twice while running 'test.crash'" in caught.value.what
    assert "exit code 3" in caught.value.what and "next request starts the engine afresh" in caught.value.hint
    assert engine.restarts == 1 and len(restarts) == 1 and "exit code 3" in restarts[0]
    answer = engine.call("test.echo", n=1)
    assert answer["args"] == {"n": 1} and answer["pid"] != before
    assert answer["echoes"] == 1  # a fresh process, a fresh cache
    assert engine.restarts == 2 and len(restarts) == 2


def test_an_engine_that_died_while_idle_is_restarted_transparently(engine, restarts):
    first = engine.call("test.echo")["pid"]
    os.kill(first, signal.SIGKILL)
    answer = engine.call("test.echo", again=True)
    assert answer["pid"] != first and answer["args"] == {"again": True}
    assert engine.restarts == 1 and "SIGKILL" in restarts[0]


def test_op_errors_come_back_as_lantern_errors(engine):
    with pytest.raises(LanternError) as caught:
        engine.call("test.fail")
    assert (caught.value.what, caught.value.where, caught.value.hint) == (
        "the sample is empty",
        "test.fail: sample",
        "choose a sample with pixels",
    )
    with pytest.raises(LanternError) as caught:
        engine.call("test.fail", bug=True)
    assert caught.value.what == "'test.fail' failed: ZeroDivisionError: division by zero in test.fail"
    assert "ZeroDivisionError" in caught.value.remote_traceback
    with pytest.raises(LanternError) as caught:
        engine.call("test.nothing")
    assert "unknown interactive operation 'test.nothing'" in caught.value.what
    assert "test.echo" in caught.value.hint
    with pytest.raises(LanternError, match="not plain values"):
        engine.call("test.echo", blob=object())
    assert engine.call("test.echo")["echoes"] == 1  # errors neither killed nor restarted the engine
    assert engine.restarts == 0


def test_a_timeout_is_a_lantern_error_and_the_engine_starts_afresh(engine, restarts):
    with pytest.raises(LanternError) as caught:
        engine.call("test.slow_load", timeout=0.3)
    assert caught.value.what == "'test.slow_load' did not answer within 0.3 s"
    assert "longer timeout" in caught.value.hint
    assert engine.call("test.echo")["echoes"] == 1
    assert restarts == []  # a deliberate stop is not a crash


def test_a_missing_op_module_is_reported_when_its_op_is_asked_for(restarts):
    engine = InteractiveEngine(op_modules=(sample_jobs.MODULE, "no_such_ops_module_xyz"))
    try:
        assert engine.call("test.echo")["echoes"] == 1
        with pytest.raises(LanternError) as caught:
            engine.call("demo.forward")
        assert "no_such_ops_module_xyz: ModuleNotFoundError" in caught.value.hint
    finally:
        engine.close()
    assert engine.pid is None
