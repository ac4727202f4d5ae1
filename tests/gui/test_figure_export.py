"""figure_export: PNG at print scale and SVG of any widget, CSV of a table or rows, the Export button."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtGui import QImage, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QFileDialog, QLabel

from engine.core.errors import LanternError
from gui.widgets.attribution_leaderboard import RankAgreementView
from gui.widgets.figure_export import (
    ExportButton,
    export_table_csv,
    export_widget_png,
    export_widget_svg,
)


@dataclass(frozen=True)
class Score:
    method: str
    mean: float
    n_runs: int


@pytest.fixture
def label(qtbot):  # type: ignore[no-untyped-def]
    widget = QLabel("Attr% by method")
    qtbot.addWidget(widget)
    widget.resize(240, 60)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_png_is_written_at_twice_the_widget_size_and_decodes(label: QLabel, tmp_path: Path) -> None:
    path = export_widget_png(label, tmp_path / "figures" / "label.png")

    assert path.stat().st_size > 0
    image = QImage(str(path))
    assert not image.isNull()
    assert (image.width(), image.height()) == (480, 120)


def test_svg_is_xml_with_an_svg_root_and_keeps_text_as_text(label: QLabel, tmp_path: Path) -> None:
    path = export_widget_svg(label, tmp_path / "label.svg", title="leaderboard")

    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert root.get("viewBox") == "0 0 240 60"
    text = path.read_text(encoding="utf-8")
    assert "<title>leaderboard</title>" in text
    assert "Attr% by method" in text


def test_a_widget_never_shown_is_rendered_off_screen_and_stays_hidden(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = RankAgreementView()
    qtbot.addWidget(view)
    view.resize(420, 320)
    view.set_matrix(["attr_pct", "auroc"], [[1.0, 0.4], [0.4, 1.0]])

    png = export_widget_png(view, tmp_path / "tau.png", scale=1.0)
    svg = export_widget_svg(view, tmp_path / "tau.svg")

    assert QImage(str(png)).size().toTuple() == (420, 320)
    assert ET.parse(svg).getroot().tag.endswith("svg")
    assert "0.40" in svg.read_text(encoding="utf-8")
    assert not view.isVisible()


def test_wrong_suffix_or_unwritable_folder_is_a_clear_error(label: QLabel, tmp_path: Path) -> None:
    with pytest.raises(LanternError, match=r"ending in \.png"):
        export_widget_png(label, tmp_path / "label.jpg")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(LanternError, match="folder cannot be created"):
        export_widget_svg(label, blocker / "inside" / "label.svg")
    with pytest.raises(LanternError, match="CSV file could not be written"):
        export_table_csv([Score("lime", 0.5, 3)], blocker / "scores.csv")


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_csv_of_dataclasses_dicts_and_sequences_keeps_full_precision(tmp_path: Path) -> None:
    rows = [Score("lime", 0.1 + 0.2, 3), Score("saliency", 0.25, 5)]
    assert export_table_csv(rows, tmp_path / "a.csv") == 2
    table = _read(tmp_path / "a.csv")
    assert table[0] == ["method", "mean", "n_runs"]
    assert table[1] == ["lime", repr(0.1 + 0.2), "3"]
    assert float(table[1][1]) == 0.1 + 0.2

    dicts = [{"method": "lime", "mean": 0.5}, {"method": "gradcam", "mean": 0.125}]
    assert export_table_csv(dicts, tmp_path / "b.csv", headers=["mean", "method"]) == 2
    assert _read(tmp_path / "b.csv") == [["mean", "method"], ["0.5", "lime"], ["0.125", "gradcam"]]

    assert export_table_csv([("x", 1), ("y", 2)], tmp_path / "c.csv", headers=["name", "n"]) == 2
    assert _read(tmp_path / "c.csv")[2] == ["y", "2"]


def test_csv_of_a_model_writes_headers_and_cell_texts(tmp_path: Path) -> None:
    model = QStandardItemModel(2, 2)
    model.setHorizontalHeaderLabels(["Method", "Watermark"])
    for row, (name, value) in enumerate((("LIME", "0.62 ± 0.04"), ("Saliency", "0.31 ± 0.02"))):
        model.setItem(row, 0, QStandardItem(name))
        model.setItem(row, 1, QStandardItem(value))

    assert export_table_csv(model, tmp_path / "model.csv") == 2
    assert _read(tmp_path / "model.csv") == [
        ["Method", "Watermark"],
        ["LIME", "0.62 ± 0.04"],
        ["Saliency", "0.31 ± 0.02"],
    ]


def test_export_button_adds_the_suffix_writes_and_reports(
    qtbot, label: QLabel, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    written: list[Path] = []
    button = ExportButton(lambda: label, name="figure", table_csv=lambda p: written.append(p) or 0)
    qtbot.addWidget(button)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "chosen"), ""))

    with qtbot.waitSignal(button.exported) as blocker:
        button.svg_action.trigger()
    assert blocker.args == ["SVG", str(tmp_path / "chosen.svg")]
    assert (tmp_path / "chosen.svg").stat().st_size > 0

    assert button.csv_action is not None
    button.csv_action.trigger()
    assert written == [tmp_path / "chosen.csv"]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "f" / "x.png"), ""))
    (tmp_path / "f").write_text("a file where a folder should be")
    with qtbot.waitSignal(button.failed) as failure:
        button.png_action.trigger()
    assert isinstance(failure.args[0], LanternError)
