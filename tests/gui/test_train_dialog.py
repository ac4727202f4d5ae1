"""TrainClassifierDialog: defaults from the job spec, edited values in spec(), invalid input refused."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox

from engine.demo.jobs import TrainClassifierSpec
from engine.jobs.registry import validate_spec
from gui.dialogs.train_classifier import JOB_NAME, TrainClassifierDialog


def _dialog(qtbot) -> TrainClassifierDialog:  # type: ignore[no-untyped-def]
    dialog = TrainClassifierDialog()
    qtbot.addWidget(dialog)
    return dialog


def test_defaults_are_the_job_specs_defaults(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot)
    document = dialog.spec()
    assert document["job"] == JOB_NAME == "demo.train_classifier"
    _, params = validate_spec(document)
    defaults = TrainClassifierSpec()
    assert params == defaults
    assert document["params"]["epochs"] == defaults.epochs
    assert document["params"]["batch_size"] == defaults.batch_size
    assert document["params"]["learning_rate"] == defaults.learning_rate
    assert document["params"]["seed"] == defaults.seed
    assert "name" not in document["params"]  # an empty name lets the job name the run
    assert "train_limit" not in document["params"]  # "all images"


def test_edited_fields_end_up_in_the_spec(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot)
    dialog.epochs_box.setValue(1)
    dialog.batch_size_box.setValue(64)
    dialog.learning_rate_box.lineEdit().setText("1e-3")
    dialog.learning_rate_box.interpretText()
    dialog.seed_box.setValue(7)
    dialog.train_limit_box.setValue(512)
    dialog.name_edit.setText("  tiny run  ")
    dialog.channels_edit.setText("8; 16")
    params = dialog.spec()["params"]
    assert params["epochs"] == 1
    assert params["batch_size"] == 64
    assert params["learning_rate"] == 1e-3
    assert params["seed"] == 7
    assert params["train_limit"] == 512
    assert params["name"] == "tiny run"
    assert params["channels"] == [8, 16]
    validate_spec(dialog.spec())


def test_widget_ranges_follow_the_spec_constraints(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot)
    assert (dialog.epochs_box.minimum(), dialog.epochs_box.maximum()) == (1, 200)
    assert (dialog.batch_size_box.minimum(), dialog.batch_size_box.maximum()) == (8, 4096)
    assert dialog.dropout_box.maximum() == 0.9
    assert dialog.learning_rate_box.maximum() == 10.0
    assert dialog.learning_rate_box.text() == "0.002"
    dialog.learning_rate_box.stepBy(1)
    assert dialog.learning_rate_box.value() == 0.004
    dialog.learning_rate_box.setValue(1e-5)
    assert dialog.learning_rate_box.text() == "1e-05"


def test_invalid_input_keeps_the_dialog_open_and_says_why(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot)
    dialog.show()
    dialog.channels_edit.setText("16, wide")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.isVisible()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.error_label.isVisible()
    assert "whole numbers separated by commas" in dialog.error_label.text()
    assert "'16, wide'" in dialog.error_label.text()

    dialog.channels_edit.setText("16, 1000")  # beyond the spec's 512 per block
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.isVisible()
    assert "channels" in dialog.error_label.text()

    dialog.channels_edit.setText("16, 32")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert not dialog.isVisible()
