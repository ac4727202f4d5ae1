"""The Views tab: datasets, images and generators listed by op calls; a settings form that holds the specs'
bounds; generated views streamed one op call at a time into the grid (one tile per answer, the next view
asked only then), classic views beside them, the summary line computed from the answers; Cancel drops the
view in flight; op errors and malformed answers are messages, not crashes; tiles stay crisp; PNG export."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shiboken6
from gui_fakes import FakeInteractive
from PySide6.QtGui import QImage

from engine.core.errors import LanternError
from gui.widgets.augment_views import (
    CLASSIC_COUNT,
    CLASSIC_OP,
    DATASETS_OP,
    GENERATORS_OP,
    IMAGES_OP,
    PICKER_PAGE,
    VIEWS_OP,
    ImageTile,
    SettingsForm,
    SettingSpec,
    ViewsPanel,
    parse_generators,
    parse_view,
)


def encode(array: np.ndarray) -> dict[str, Any]:
    return {"data": base64.b64encode(array.tobytes()).decode(), "shape": list(array.shape), "dtype": "uint8"}


def fake_images(n: int, offset: int = 0) -> np.ndarray:
    """n distinct 1x28x28 images: image i is a bar at row (offset + i) % 28."""
    images = np.zeros((n, 1, 28, 28), dtype=np.uint8)
    for i in range(n):
        images[i, 0, (offset + i) % 28, :] = 255
    return images


CLASSES = ["T-shirt/top", "Trouser", "Pullover"]
DATASETS_ANSWER = {
    "datasets": [
        {
            "name": "fashion-mnist-demo",
            "title": "Fashion-MNIST (bundled)",
            "train": 6000,
            "test": 1000,
            "shape": [1, 28, 28],
            "classes": CLASSES,
            "available": True,
            "reason": "",
        },
        {"name": "fashion-mnist", "title": "Fashion-MNIST", "available": False, "reason": "not installed"},
    ]
}
GENERATORS_ANSWER = {
    "generators": [
        {
            "name": "lantern",
            "title": "Lantern instance diffusion",
            "description": "Lantern's own generator",
            "settings": [
                {"name": "steps", "kind": "int", "default": 10, "minimum": 1, "maximum": 50, "help": "DDIM"},
                {"name": "guidance", "kind": "float", "default": 1.0, "minimum": 0.0, "maximum": 8.0},
            ],
        },
        {"name": "unclip", "title": "Stable unCLIP", "settings": [], "available": True},
        {"name": "sdedit", "title": "SDEdit", "settings": [], "available": False, "reason": "no diffusers"},
        {"name": "identity", "title": "Identity (control)", "settings": []},
    ]
}


def images_answer(offset: int = 0, n: int = PICKER_PAGE) -> dict[str, Any]:
    return {
        "images": encode(fake_images(n, offset)),
        "labels": [(offset + i) % 3 for i in range(n)],
        "class_names": CLASSES,
        "total": 6000,
        "offset": offset,
    }


def view_answer(view: int, similarity: float, kept: bool, diversity: float | None = None) -> dict[str, Any]:
    return {
        "view": encode(fake_images(1, view)[0]),
        "similarity": similarity,
        "label_kept": kept,
        "predicted": 0 if kept else 2,
        "predicted_name": CLASSES[0 if kept else 2],
        "source_label": 0,
        "diversity": diversity,
    }


def classic_answer(count: int = CLASSIC_COUNT) -> dict[str, Any]:
    return {
        "views": encode(fake_images(count, 5)),
        "similarity": [0.9 - 0.05 * i for i in range(count)],
        "label_kept": [i % 2 == 0 for i in range(count)],
    }


def ready(panel: ViewsPanel, bridge: FakeInteractive) -> None:
    """List datasets and generators, answer the first page of images."""
    panel.load_catalogue()
    bridge.answered.emit(bridge.last(DATASETS_OP)[0], DATASETS_ANSWER)
    bridge.answered.emit(bridge.last(GENERATORS_OP)[0], GENERATORS_ANSWER)
    bridge.answered.emit(bridge.last(IMAGES_OP)[0], images_answer())


@pytest.fixture
def bridge() -> FakeInteractive:
    return FakeInteractive()


@pytest.fixture
def panel(qtbot, bridge: FakeInteractive):  # type: ignore[no-untyped-def]
    widget = ViewsPanel(bridge)  # type: ignore[arg-type]
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    if shiboken6.isValid(widget):
        widget.shutdown()


def test_catalogue_and_images_are_listed_and_the_first_image_is_the_source(
    panel: ViewsPanel, bridge: FakeInteractive
) -> None:
    assert bridge.requests == []  # nothing asked before the tab shows
    ready(panel, bridge)
    panel.load_catalogue()  # asked once
    assert bridge.ops() == [DATASETS_OP, GENERATORS_OP, IMAGES_OP]
    assert bridge.last(IMAGES_OP)[1] == {"dataset": "fashion-mnist-demo", "offset": 0, "count": PICKER_PAGE}
    box = panel.dataset_box
    assert box.currentData() == "fashion-mnist-demo"
    assert not box.model().item(1).isEnabled()  # the full set is listed but not installed
    assert len(panel.picker.grid.tiles) == PICKER_PAGE and panel.picker.chosen == 0
    assert panel.picker.grid.tiles[0].highlighted and not panel.picker.grid.tiles[1].highlighted
    generators = panel.generator.box
    assert [generators.itemData(i) for i in range(generators.count())] == [
        "lantern",
        "unclip",
        "sdedit",
        "identity",
    ]
    assert not generators.model().item(2).isEnabled()
    assert panel.generator.checkpoint_edit.text() == "bundled"
    panel.picker.next_button.click()
    assert bridge.last(IMAGES_OP)[1]["offset"] == PICKER_PAGE
    bridge.answered.emit(bridge.last(IMAGES_OP)[0], images_answer(PICKER_PAGE))
    assert "41–80 of 6,000" in panel.picker.page_label.text()
    panel.picker.pick(45)
    assert panel.view_args()["index"] == 45
    assert panel.picker.grid.tiles[5].highlighted
    # The chosen source stands alone in the grids until Generate.
    assert len(panel.grid.tiles) == 1 and panel.grid.tiles[0].highlighted
    assert panel.grid.tiles[0].caption == "source · T-shirt/top"
    assert panel.title_label.text() == "Source #45: T-shirt/top"


def test_settings_form_honours_the_specs_bounds_and_defaults(qtbot) -> None:  # type: ignore[no-untyped-def]
    form = SettingsForm()
    qtbot.addWidget(form)
    (lantern,) = parse_generators({"generators": GENERATORS_ANSWER["generators"][:1]})
    form.set_specs(lantern.settings)
    assert form.values() == {"steps": 10, "guidance": 1.0}
    steps, guidance = form.spins["steps"], form.spins["guidance"]
    assert (steps.minimum(), steps.maximum()) == (1, 50)
    assert (guidance.minimum(), guidance.maximum()) == (0.0, 8.0)
    steps.setValue(1000)
    guidance.setValue(-3.0)
    assert form.values() == {"steps": 50, "guidance": 0.0}
    form.set_values({"steps": 0, "guidance": 2.5})
    assert form.values() == {"steps": 1, "guidance": 2.5}
    assert isinstance(form.values()["steps"], int) and isinstance(form.values()["guidance"], float)
    assert steps.toolTip().startswith("DDIM") and "from 1 to 50, default 10" in steps.toolTip()
    form.set_specs([SettingSpec("strength", "float", 0.6, 0.05, 1.0, "how far from the source")])
    assert list(form.spins) == ["strength"] and form.values() == {"strength": 0.6}
    with pytest.raises(LanternError, match="not understood"):
        parse_generators({"generators": [{"name": "x", "settings": [{"name": "s", "default": "a"}]}]})


def test_views_stream_into_the_grid_one_tile_per_answer(panel: ViewsPanel, bridge: FakeInteractive) -> None:
    ready(panel, bridge)
    panel.generator.settings.spins["steps"].setValue(20)
    panel.seed_spin.setValue(7)
    panel.count_spin.setValue(3)
    added: list[int] = []
    finished: list[str] = []
    panel.view_added.connect(added.append)
    panel.finished.connect(finished.append)
    first = panel.generate()
    assert panel.streaming() and not panel.generate_button.isEnabled() and panel.cancel_button.isEnabled()
    assert bridge.ops()[-2:] == [CLASSIC_OP, VIEWS_OP]
    assert bridge.last(VIEWS_OP) == (
        first,
        {
            "dataset": "fashion-mnist-demo",
            "index": 0,
            "generator": "lantern",
            "checkpoint": "bundled",
            "settings": {"steps": 20, "guidance": 1.0},
            "seed": 7,
            "view": 0,
        },
    )
    assert bridge.last(CLASSIC_OP)[1] == {"dataset": "fashion-mnist-demo", "index": 0, "count": 6, "seed": 7}
    grid = panel.grid
    assert len(grid.tiles) == 1 and grid.tiles[0].highlighted  # the source, framed
    answers = [(0.8, True, None), (0.6, False, 0.3), (0.7, True, 0.25)]
    for view, (similarity, kept, diversity) in enumerate(answers):
        request, args = bridge.last(VIEWS_OP)
        assert args["view"] == view
        asked = len(bridge.requests)
        bridge.answered.emit(request, view_answer(view, similarity, kept, diversity))
        assert len(grid.tiles) == 2 + view  # one more tile per answer
        assert added[-1] == view
        tile = grid.tiles[-1]
        assert (tile.caption, tile.kept, tile.highlighted) == (f"sim {similarity:.2f}", kept, False)
        # The next view is asked only once this one arrived (none after the last).
        assert len(bridge.requests) == asked + (1 if view < 2 else 0)
    assert finished == ["done"] and not panel.streaming() and panel.generate_button.isEnabled()
    mean = (0.8 + 0.6 + 0.7) / 3
    assert panel.summary.mean_similarity == pytest.approx(mean)
    assert panel.summary_label.text() == (
        f"3 generated view(s) · mean similarity {mean:.3f} · label kept 2/3 (67 %) · diversity 0.250"
    )
    assert np.array_equal(panel.results[1].view, fake_images(1, 1)[0])
    bridge.answered.emit(bridge.last(CLASSIC_OP)[0], classic_answer())
    assert len(panel.classic_grid.tiles) == 1 + CLASSIC_COUNT
    assert [t.kept for t in panel.classic_grid.tiles[1:]] == [True, False, True, False, True, False]
    assert "label kept 3/6 (50 %)" in panel.classic_label.text()


def test_cancel_drops_the_view_in_flight_and_asks_no_more(panel: ViewsPanel, bridge: FakeInteractive) -> None:
    ready(panel, bridge)
    panel.count_spin.setValue(5)
    panel.generate()
    bridge.answered.emit(bridge.last(VIEWS_OP)[0], view_answer(0, 0.9, True))
    in_flight, args = bridge.last(VIEWS_OP)
    assert args["view"] == 1
    panel.cancel()
    assert not panel.streaming() and panel.generate_button.isEnabled()
    assert panel.status_label.text().startswith("Cancelled after 1 of 5 view(s)")
    asked = len(bridge.requests)
    bridge.answered.emit(in_flight, view_answer(1, 0.5, False))
    assert len(panel.grid.tiles) == 2 and len(bridge.requests) == asked
    bridge.failed.emit(in_flight, LanternError("late failure"))
    assert panel.error_label.isHidden()


def test_op_errors_and_bad_answers_are_shown_in_the_page(panel: ViewsPanel, bridge: FakeInteractive) -> None:
    ready(panel, bridge)
    errors: list[Any] = []
    panel.failed.connect(errors.append)
    panel.count_spin.setValue(4)
    panel.generate()
    bridge.failed.emit(
        bridge.last(VIEWS_OP)[0], LanternError("the checkpoint is damaged", "assets/augment", "reinstall it")
    )
    assert not panel.streaming()
    assert panel.error_label.text() == "the checkpoint is damaged (reinstall it)"
    assert not panel.error_label.isHidden() and errors[-1].what == "the checkpoint is damaged"
    assert "Stopped after 0 of 4" in panel.status_label.text()
    panel.generate()
    assert panel.error_label.isHidden()  # a new try clears the old message
    bridge.answered.emit(bridge.last(VIEWS_OP)[0], {"view": {"data": "###", "shape": [1, 28, 28]}})
    assert "the view of 'augment.views' cannot be decoded" in panel.error_label.text()
    assert not panel.streaming()
    panel.generate()
    wrong = {"view": encode(np.zeros((28, 28), np.uint8)), "similarity": 0.5, "label_kept": True}
    bridge.answered.emit(bridge.last(VIEWS_OP)[0], wrong)
    assert "shape [28, 28]" in panel.error_label.text()
    # A pipeline generator needs a hub id or folder: refused before any op call.
    panel.generator.choose("unclip")
    assert panel.generator.checkpoint_edit.text() == ""
    asked = len(bridge.requests)
    assert panel.generate() is None and len(bridge.requests) == asked
    assert "needs a pipeline" in panel.error_label.text()
    panel.generator.choose("identity")
    assert not panel.generator.checkpoint_edit.isEnabled()
    assert panel.generate() is not None
    assert bridge.last(VIEWS_OP)[1]["checkpoint"] is None
    # The datasets listing failing is shown, and asked again the next time.
    panel.load_catalogue(again=True)
    bridge.failed.emit(bridge.last(DATASETS_OP)[0], LanternError("no data folder", "datasets", "check it"))
    assert "no data folder" in panel.error_label.text()
    panel.load_catalogue()
    assert bridge.ops().count(DATASETS_OP) == 3


def test_tiles_are_crisp_and_the_grid_exports(
    qtbot, panel: ViewsPanel, bridge: FakeInteractive, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    checker = np.zeros((1, 2, 2), np.uint8)
    checker[0, 0, 0] = checker[0, 1, 1] = 255
    tile = ImageTile(112, 1)
    qtbot.addWidget(tile)
    tile.set_image(checker, "sim 0.50", True)
    image = tile.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    ratio = image.devicePixelRatio() or 1.0
    values = {
        image.pixelColor(round(x * ratio), round(y * ratio)).red() for x in (5, 56, 59, 110) for y in (5, 50)
    }
    assert values <= {0, 255}  # nearest neighbour: no grey from smoothing, even next to a pixel edge
    ready(panel, bridge)
    panel.count_spin.setValue(2)
    panel.generate()
    bridge.answered.emit(bridge.last(VIEWS_OP)[0], view_answer(0, 0.9, True))
    bridge.answered.emit(bridge.last(VIEWS_OP)[0], view_answer(1, 0.4, False))
    path = panel.export_button.export("PNG", tmp_path / "views.png")
    assert path.stat().st_size > 3000


def test_parse_view_reads_scores() -> None:
    result = parse_view(view_answer(2, 0.75, False, 0.2))
    assert (result.similarity, result.label_kept, result.predicted, result.predicted_name) == (
        0.75,
        False,
        2,
        "Pullover",
    )
    assert result.diversity == 0.2 and result.view.shape == (1, 28, 28)
    with pytest.raises(LanternError, match="sent no answer"):
        parse_view(None)


def test_the_engines_checkpoint_defaults_fill_the_checkpoint_field(panel: ViewsPanel) -> None:
    catalogue = parse_generators(
        {
            "generators": [
                {
                    "name": "unclip",
                    "settings": [],
                    "takes_checkpoint": True,
                    "default_checkpoint": "org/unclip",
                },
                {
                    "name": "other_image",
                    "settings": [],
                    "takes_checkpoint": False,
                    "default_checkpoint": None,
                },
            ]
        }
    )
    panel.generator.set_generators(catalogue)
    assert panel.generator.checkpoint_edit.text() == "org/unclip"
    panel.generator.choose("other_image")
    assert panel.generator.checkpoint_edit.text() == "" and not panel.generator.checkpoint_edit.isEnabled()
    assert panel.generator.request_args() == {"generator": "other_image", "checkpoint": None, "settings": {}}
