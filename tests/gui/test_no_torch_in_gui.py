"""The GUI process never imports torch, transformers, diffusers or captum: checked in a fresh interpreter that
builds the services and the whole main window (every page, both docks, the dialogs) and resumes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("torch", "transformers", "diffusers", "captum")

SCRIPT = """
import json, sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from engine.store import open_store
store = open_store()
# An interrupted job makes the Jobs dock ask the job registry whether it can resume (loading job modules).
job = store.jobs.create("demo.train_classifier", {"epochs": 1})
store.jobs.mark_interrupted(job, "test")
import gui.app
from gui.settings_dialog import SettingsDialog
from gui.shortcuts import ShortcutsDialog
services = gui.app.build_services(store=store)
window = gui.app.create_main_window(services)
window.resize(1400, 900)
window.show()
for key in window.pages():
    window.show_page(key)
    app.processEvents()
dialogs = [SettingsDialog(services.settings, window), ShortcutsDialog(services.shortcuts, window)]
app.processEvents()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN})
resumable = window.jobs_panel.row(job).resumable
gui.app.shutdown(services)
print(json.dumps({"loaded": loaded, "resumable": resumable, "demo_jobs": "engine.demo.jobs" in sys.modules}))
"""


def test_gui_process_imports_no_model_library(lantern_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
    env.update({"QT_QPA_PLATFORM": "offscreen", "LANTERN_HOME": str(lantern_home)})
    code = SCRIPT.replace("{FORBIDDEN}", repr(set(FORBIDDEN)))
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] == [], f"the GUI process imported {report['loaded']}"
    # The check above covered the job modules too: the registry was consulted for the interrupted job.
    assert report["demo_jobs"] and report["resumable"]
