"""The GUI process never imports torch, transformers, diffusers or captum: checked in a fresh interpreter that
builds the services and the whole main window (every page, both docks, the dialogs) and resumes nothing."""

from __future__ import annotations

from pathlib import Path

from gui_fakes import run_gui_script

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
    report = run_gui_script(SCRIPT.replace("{FORBIDDEN}", repr(set(FORBIDDEN))), lantern_home)
    assert report["loaded"] == [], f"the GUI process imported {report['loaded']}"
    # The check above covered the job modules too: the registry was consulted for the interrupted job.
    assert report["demo_jobs"] and report["resumable"]
