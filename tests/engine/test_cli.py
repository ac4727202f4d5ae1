"""The headless `lantern` CLI (engine/cli.py), its progress bar (engine/jobs/progressbar.py) and the
`lantern` entry point (gui/launcher.py). Mostly in-process through main([...]); a few real subprocesses."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "jobs"))
import sample_jobs

from engine.cli import main
from engine.jobs.progressbar import ProgressBar, format_duration, render

LANTERN = Path(sys.executable).parent / "lantern"
SUBCOMMANDS = ("info", "jobs", "runs", "db")


@pytest.fixture(autouse=True)
def _sample_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    sample_jobs.enable(monkeypatch)


def write_spec(folder: Path, params: dict, job: str = "test.count", name: str = "spec.json") -> Path:
    path = folder / name
    path.write_text(json.dumps({"job": job, "params": params}), encoding="utf-8")
    return path


def run_json(capfd, argv: list[str]) -> tuple[int, dict, str]:
    code = main(argv)
    out, err = capfd.readouterr()
    return code, json.loads(out), err


# help and the entry point


def test_help_lists_the_commands_and_how_to_open_the_app(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert f"\n    {command} " in out
    assert "With no arguments, `lantern` opens the desktop app" in out
    assert "QT_QPA_PLATFORM=offscreen lantern" in out
    assert main(["jobs", "--help"]) == 0
    out = capsys.readouterr().out
    for action in ("list", "show", "run", "resume", "cancel", "types"):
        assert f"\n    {action} " in out


def test_usage_errors_exit_2(capsys):
    assert main(["jobs"]) == 2  # a group without an action prints its help
    assert "ACTION" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
    assert main(["jobs", "show", "seven"]) == 2


def test_launcher_runs_the_cli_with_arguments_and_the_app_without(capsys, monkeypatch):
    from gui import launcher

    assert launcher.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("Lantern ")
    app = types.ModuleType("gui.app")
    app.main = lambda: 17  # stands in for the window, which this test does not open
    monkeypatch.setitem(sys.modules, "gui.app", app)
    assert launcher.main([]) == 17


def test_the_lantern_executable_prints_help_and_user_errors_without_traceback():
    done = subprocess.run([str(LANTERN), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert all(f"\n    {command} " in done.stdout for command in SUBCOMMANDS)
    assert "opens the desktop app" in done.stdout and "QT_QPA_PLATFORM=offscreen" in done.stdout
    done = subprocess.run([str(LANTERN), "jobs", "show", "999"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: there is no job #999\n  where: sqlite:///")
    assert "Traceback" not in done.stderr


def test_gui_side_modules_never_import_torch():
    code = (
        "import sys, gui.launcher, engine.cli, engine.jobs.runner, engine.jobs.interactive, "
        "engine.jobs.progressbar, engine.jobs.registry; "
        "engine.jobs.registry.job_types(); "
        "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# jobs


def test_jobs_run_json_then_list_show_and_export(capfd, tmp_path: Path):
    spec = write_spec(tmp_path, {"n": 6, "checkpoint_every": 3, "chatter": True})
    code, result, err = run_json(capfd, ["jobs", "run", str(spec), "--json"])
    assert code == 0
    # stdout is exactly the JSON verdict, even though the job printed to its stdout
    assert result["status"] == "done" and result["error"] is None
    assert result["result"]["count"] == 6 and result["job"] == 1
    assert "chatter from the job on stdout" in err
    assert "100%" in err and "6/6" in err  # the progress bar
    assert "step 6: value=12" in err  # metric lines
    assert "counted from 0 to 6" in err  # log lines

    code, listed, _ = run_json(capfd, ["jobs", "list", "--json"])
    assert code == 0 and [(j["id"], j["status"]) for j in listed] == [(1, "done")]
    code, shown, _ = run_json(capfd, ["jobs", "show", "1", "--json"])
    assert shown["result"] == result["result"] and [r["status"] for r in shown["runs"]] == ["done"]
    assert main(["jobs", "show", "1"]) == 0
    assert "status:    done" in capfd.readouterr().out

    run_id = result["result"]["run_id"]
    code, runs, _ = run_json(capfd, ["runs", "list", "--filter", "test.count", "--json"])
    assert [r["id"] for r in runs] == [run_id]
    code, runs, _ = run_json(capfd, ["runs", "list", "--filter", "no-such-run", "--json"])
    assert runs == []

    target = tmp_path / "metrics.csv"
    assert main(["runs", "export", str(run_id), "--csv", str(target)]) == 0
    assert f"wrote 6 points of 1 metric(s) of run #{run_id}" in capfd.readouterr().err
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0] == ["run", "name", "step", "value"]
    assert rows[1:] == [[str(run_id), "value", str(step), repr(2.0 * step)] for step in range(1, 7)]
    assert main(["runs", "export", str(run_id), "--csv", "-"]) == 0
    assert capfd.readouterr().out == target.read_text()


def test_unknown_field_exits_2_naming_the_field_and_stores_nothing(capsys, tmp_path: Path, store):
    spec = write_spec(tmp_path, {"n": 3, "speed": 9})
    assert main(["jobs", "run", str(spec), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: invalid parameters for job 'test.count': unknown field 'speed'")
    assert f"where: {spec}: params" in captured.err
    assert "fields of 'test.count' are: n, step_s" in captured.err
    assert "Traceback" not in captured.err
    assert store.jobs.list() == []


def test_bad_json_spec_exits_2_with_line_and_column(capsys, tmp_path: Path):
    spec = tmp_path / "broken.json"
    spec.write_text('{"job": "test.count",\n "params": {"n": }}')
    assert main(["jobs", "run", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the spec file is not valid JSON: Expecting value")
    assert f"where: {spec}, line 2, column 18" in err


def test_failed_job_exits_1_and_resume_finishes_it(capfd, tmp_path: Path):
    spec = write_spec(tmp_path, {"n": 9, "checkpoint_every": 5, "fail_at": 7, "fail_with": "lantern"})
    code, failed, err = run_json(capfd, ["jobs", "run", str(spec), "--json"])
    assert code == 1 and failed["status"] == "failed" and failed["result"] is None
    assert failed["error"].startswith("step 7 is cursed")
    assert "error: step 7 is cursed\n  where: test.count step 7" in err
    code, resumed, err = run_json(capfd, ["jobs", "resume", str(failed["job"]), "--json"])
    assert code == 0 and resumed["status"] == "done"
    assert resumed["result"]["resumed_from"] == 5 and resumed["result"]["count"] == 9
    assert "resuming run #1 from checkpoint 'count-5' (step 5)" in err
    assert main(["jobs", "resume", str(resumed["job"])]) == 2
    assert "is done; only interrupted, failed or cancelled jobs resume" in capfd.readouterr().err


def test_jobs_cancel_goes_through_the_store(capsys, store):
    job_id = store.jobs.create("test.count", {"n": 3})
    store.jobs.set_status(job_id, "running", pid=os.getpid())  # alive, so the CLI's recovery leaves it be
    assert main(["jobs", "cancel", "77"]) == 2
    assert "error: there is no job #77" in capsys.readouterr().err
    assert main(["jobs", "cancel", str(job_id)]) == 0
    assert store.jobs.get(job_id).status == "cancelling"
    store.jobs.set_status(job_id, "cancelled")
    assert main(["jobs", "cancel", str(job_id)]) == 1
    assert f"job #{job_id} is cancelled; there is nothing to cancel" in capsys.readouterr().err


def test_cli_start_marks_dead_jobs_interrupted(capsys, store):
    job_id = store.jobs.create("test.count", {"n": 3})  # queued, and no process will ever run it
    assert main(["jobs", "list"]) == 0
    assert store.jobs.get(job_id).status == "interrupted"
    assert "interrupted" in capsys.readouterr().out


def test_jobs_types_lists_fields(capfd):
    code, listed, _ = run_json(capfd, ["jobs", "types", "--json"])
    assert code == 0
    count = next(entry for entry in listed if entry["job"] == "test.count")
    assert count["title"] == "Count (test job)" and count["resumable"] is True
    fields = {field["name"]: field for field in count["fields"]}
    assert (fields["n"]["type"], fields["n"]["default"], fields["n"]["limits"]) == ("int", 10, {"minimum": 1})
    assert fields["fail_at"]["type"] == "int | null"
    assert main(["jobs", "types"]) == 0
    assert "test.count: Count (test job) (resumable)" in capfd.readouterr().out


def test_ctrl_c_cancels_the_job_cooperatively(tmp_path: Path):
    spec = write_spec(tmp_path, {"n": 100000, "step_s": 0.01})
    process = subprocess.Popen(
        [str(LANTERN), "jobs", "run", str(spec), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    running = threading.Event()

    def read_stderr() -> None:
        for line in process.stderr:
            lines.append(line)
            if "step 3:" in line:
                running.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert running.wait(60), "".join(lines)
        process.send_signal(signal.SIGINT)
        asked = time.monotonic()
        out = process.stdout.read()
        assert process.wait(30) == 1
        assert time.monotonic() - asked < 5.0  # cooperative, not the terminate after the grace period
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(10)
    verdict = json.loads(out)
    assert verdict["status"] == "cancelled"
    text = "".join(lines)
    assert "cancelling job #1; it stops at its next step" in text and "Traceback" not in text


# info, runs, db


def test_info_json(capfd, lantern_home: Path):
    code, info, _ = run_json(capfd, ["info", "--json"])
    assert code == 0
    assert info["version"] == "0.1.0"
    assert info["database_url"] == f"sqlite:///{lantern_home / 'data' / 'lantern.db'}"
    assert info["database_revision"] == info["database_head"] and info["database_error"] is None
    assert info["settings_file"] == str(lantern_home / "config" / "settings.json")
    assert info["log_dir"] == str(lantern_home / "logs")
    assert info["device"]["device"] in ("cpu", "cuda", "mps") and info["device"]["dtype"]
    assert main(["info"]) == 0
    assert "device:" in capfd.readouterr().out


def test_info_hides_the_database_password_and_reports_a_dead_server(capfd, monkeypatch):
    monkeypatch.setenv("LANTERN_DATABASE_URL", "postgresql+psycopg://ann:s3cret@127.0.0.1:9/lantern")
    code, info, _ = run_json(capfd, ["info", "--json"])
    assert code == 0
    assert "s3cret" not in json.dumps(info) and info["database_url"].startswith(
        "postgresql+psycopg://ann:***@"
    )
    assert info["database_error"]


def test_runs_export_of_an_unknown_run_exits_2(capsys, tmp_path: Path):
    assert main(["runs", "export", "5", "--csv", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err.startswith("error: there is no run #5")
    assert not (tmp_path / "x.csv").exists()


def test_db_upgrade_and_check(capsys, lantern_home: Path):
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"database sqlite:///{lantern_home / 'data' / 'lantern.db'} is at revision ")
    assert "(the latest)" in out
    assert main(["db", "check"]) == 0
    out = capsys.readouterr().out
    assert "integrity:     ok" in out and "jobs:          0" in out and out.rstrip().endswith("ok")


# the progress bar


def test_format_duration():
    durations = [format_duration(s) for s in (0, 7.4, 723, 3723, -2)]
    assert durations == ["0:00", "0:07", "12:03", "1:02:03", "0:00"]


def test_render_shows_bar_percent_counts_and_eta():
    assert render(45, 100, 12, 15, width=20, message="epoch 2") == (
        "[#########...........]  45%  45/100  0:12 < 0:15  epoch 2"
    )
    assert render(0, 0, 1, None, width=4) == "[....]   0%  0  0:01 < ?"


def test_eta_uses_the_rate_since_the_first_report():
    now = [100.0]
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10, clock=lambda: now[0], interactive=True)
    bar.update(50, 100)  # a resumed job starts half-way: that is not speed
    now[0] = 110.0
    bar.update(60, 100, "step 60")
    assert bar.eta(60, 100) == pytest.approx(40.0)  # 10 steps per 10 s, 40 to go
    assert stream.getvalue().endswith("\r\x1b[2K[######....]  60%  60/100  0:10 < 0:40  step 60")
    bar.print_above("a log line")
    assert stream.getvalue().endswith("\r\x1b[2Ka log line\n[######....]  60%  60/100  0:10 < 0:40  step 60")
    bar.close()
    assert stream.getvalue().endswith("\n")


def test_without_a_terminal_the_bar_prints_a_line_now_and_then():
    now = [0.0]
    stream = io.StringIO()
    bar = ProgressBar(stream, width=4, clock=lambda: now[0])  # StringIO is not a tty
    for step in range(1, 11):
        now[0] = step
        bar.update(step, 10)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [line.split()[2] for line in lines] == ["1/10", "6/10", "10/10"]
