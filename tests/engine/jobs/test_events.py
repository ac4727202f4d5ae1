"""The JSON-lines event protocol: every event type survives a round trip; junk is a ProtocolError."""

from __future__ import annotations

import json

import pytest

from engine.jobs import events
from engine.jobs.events import EVENT_TYPES, Event, ProtocolError

SAMPLES = [
    events.progress(3, 5, 10, "epoch 1"),
    events.metric(3, 7, "loss", 2.5, 0.125),
    events.log(3, "hello", "warning"),
    events.artifact(3, 11, 7, "checkpoint", "epoch-1", "/tmp/a.safetensors"),
    events.status(3, "running", "on cpu"),
    events.result(3, {"accuracy": 0.75, "nested": {"list": [1, 2, 3]}}),
    events.error(3, "what", "where", "hint", "SpecError", "Traceback ..."),
]


def test_samples_cover_every_event_type():
    assert sorted(e.type for e in SAMPLES) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=[e.type for e in SAMPLES])
def test_round_trip_keeps_type_job_time_and_fields(event: Event):
    line = event.to_json()
    assert "\n" not in line  # one event, one line
    again = Event.from_json(line)
    assert again == event
    assert Event.from_json(line.encode("utf-8")) == event
    assert json.loads(line)["type"] == event.type


def test_fields_are_readable_with_get():
    event = Event.from_json(events.metric(1, 2, "acc", 3, 0.5).to_json())
    assert (event.get("run"), event.get("name"), event.get("step"), event.get("value")) == (2, "acc", 3, 0.5)
    assert event.get("missing", "default") == "default"


def test_job_id_is_an_int_and_time_defaults_when_absent():
    event = Event.from_json('{"type": "log", "job": "4", "level": "info", "message": "m"}')
    assert event.job == 4 and isinstance(event.t, float)


@pytest.mark.parametrize(
    "line",
    [
        "not json at all",
        b"\xff\xfe\x00",
        "[1, 2, 3]",
        '"a string"',
        '{"job": 1}',
        '{"type": "progress"}',
        '{"type": "explode", "job": 1}',
        "",
    ],
)
def test_junk_is_a_protocol_error(line):
    with pytest.raises(ProtocolError):
        Event.from_json(line)


def test_unknown_type_is_refused_at_construction():
    with pytest.raises(ProtocolError, match="unknown event type"):
        Event("bogus", 1)
