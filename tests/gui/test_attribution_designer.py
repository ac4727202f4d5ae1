"""The manipulation designer: the live preview follows the design (region share, p*, flips; pixels changed
inside the region only), and bad designs (r out of range, an empty or mixed-size folder) give an inline
message instead of a crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.attribution.manipulations import IMAGE_MANIPULATIONS
from gui.widgets.attribution_designer import DesignerPanel, DesignRequest, ImagePreview, TextPreview

WAIT_MS = 20_000


def make_panel(qtbot, design: DesignRequest | None = None) -> DesignerPanel:  # type: ignore[no-untyped-def]
    panel = DesignerPanel()
    qtbot.addWidget(panel)
    panel.resize(1160, 700)
    panel.show()
    if design is not None:
        panel.set_design(design)
    settle(qtbot, panel)
    return panel


def settle(qtbot, panel: DesignerPanel) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=WAIT_MS)


def test_preview_follows_the_manipulation_and_changes_pixels_only_inside_the_region(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = make_panel(qtbot, DesignRequest(manipulation="peripheral_blur", r=0.5))
    preview = panel.preview
    assert isinstance(preview, ImagePreview)
    share = IMAGE_MANIPULATIONS["peripheral_blur"].region_share(28, 28)
    assert panel.region_label.text() == f"Region {100 * share:.1f} %"
    assert preview.p_star == pytest.approx(0.5)
    assert panel.p_star_chip.text() == "p* = 0.50"
    present = np.flatnonzero(preview.manipulated)
    assert present.size and (~preview.manipulated).any()  # both kinds are shown
    for i in present:
        inside, outside = preview.masks[i], ~preview.masks[i]
        changed = np.abs(preview.images[i] - preview.originals[i]).max(axis=0)
        assert changed[inside].max() > 0.05  # blurred inside the region
        assert changed[outside].max() == 0.0  # untouched outside
    for i in np.flatnonzero(~preview.manipulated):
        assert np.array_equal(preview.images[i], preview.originals[i])

    panel.manipulation_box.setCurrentIndex(panel.manipulation_box.findData("centre_brightness"))
    settle(qtbot, panel)
    share = IMAGE_MANIPULATIONS["centre_brightness"].region_share(28, 28)
    assert panel.region_label.text() == f"Region {100 * share:.1f} %"
    assert panel.preview.request.manipulation == "centre_brightness"


def test_r_and_strength_reach_the_preview(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = make_panel(qtbot, DesignRequest(manipulation="centre_brightness", r=0.5))
    flips_at_half = panel.preview.flips
    assert 0 < flips_at_half < panel.preview.total
    panel.r_spin.setValue(1.0)  # every label kept
    settle(qtbot, panel)
    assert panel.preview.flips == 0
    assert panel.flips_label.text() == f"Flipped 0 / {panel.preview.total}"
    assert panel.preview.p_star == pytest.approx(1.0)
    assert panel.p_star_label.text() == "p* = 1.00"

    info = IMAGE_MANIPULATIONS["centre_brightness"]
    panel.strength_slider.setValue(panel.strength_slider.maximum())
    settle(qtbot, panel)
    assert panel.strength() == pytest.approx(info.max_strength)
    assert panel.preview.request.strength == pytest.approx(info.max_strength)
    strong = panel.preview
    i = int(np.flatnonzero(strong.manipulated)[0])
    shift = (strong.images[i] - strong.originals[i])[:, strong.masks[i]]
    assert np.abs(shift).max() > 0.2


def test_hue_manipulation_turns_colour_on_and_shows_rgb(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = make_panel(qtbot, DesignRequest(manipulation="peripheral_blur"))
    assert not panel.colour_box.isChecked()
    panel.manipulation_box.setCurrentIndex(panel.manipulation_box.findData("striped_hue"))
    settle(qtbot, panel)
    assert panel.colour_box.isChecked()
    assert panel.error is None
    assert panel.preview.images.shape[1] == 3


def test_r_out_of_range_shows_the_engine_message_inline(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = make_panel(qtbot)
    panel.request_preview(DesignRequest(r=1.3))
    settle(qtbot, panel)
    assert panel.error is not None
    assert panel.message.isVisibleTo(panel)
    assert "r must lie in [0, 1]" in panel.message.text()
    assert panel.preview is None
    panel.refresh_preview()  # the controls' design (valid) brings the preview back
    settle(qtbot, panel)
    assert panel.error is None and not panel.message.isVisibleTo(panel)


def _folder(root: Path, sizes: dict[str, list[tuple[int, int]]]) -> Path:
    rng = np.random.default_rng(0)
    for label, shapes in sizes.items():
        (root / label).mkdir(parents=True)
        for k, (h, w) in enumerate(shapes):
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / label / f"{k}.png")
    return root


def test_bad_image_folders_get_an_inline_message(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    panel = make_panel(qtbot)
    empty = tmp_path / "empty"
    empty.mkdir()
    panel.base_box.setCurrentIndex(panel.base_box.findData("image_folder"))
    panel.set_folder(empty)
    settle(qtbot, panel)
    assert panel.error is not None and panel.message.isVisibleTo(panel)
    assert str(empty) in panel.message.text() or "empty" in panel.message.text()

    mixed = _folder(tmp_path / "mixed", {"cats": [(32, 32), (32, 32)], "dogs": [(32, 32), (40, 36)]})
    panel.set_folder(mixed)
    settle(qtbot, panel)
    assert panel.error is not None and panel.message.isVisibleTo(panel)
    assert "1.png" in panel.message.text()  # the odd file is named

    good = _folder(tmp_path / "good", {"cats": [(32, 32)] * 6, "dogs": [(32, 32)] * 6})
    panel.set_folder(good)
    settle(qtbot, panel)
    assert panel.error is None, panel.error
    assert panel.preview.originals.shape[-2:] == (32, 32)


def test_text_preview_highlights_the_substituted_articles(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = make_panel(qtbot, DesignRequest(base="rotten_tomatoes", manipulation="article_substitution"))
    preview = panel.preview
    assert isinstance(preview, TextPreview), panel.error
    assert panel.manipulation_box.currentData() == "article_substitution"
    assert not panel.classes_widget.isVisibleTo(panel)
    html = panel.text_view.toHtml()
    for tokens, mask, present in zip(preview.tokens, preview.masks, preview.manipulated, strict=True):
        marked = {tokens[i] for i in np.flatnonzero(mask)}
        assert marked == ({"the"} if present else {"a"})
    assert "#ffe2b0" in html
    assert 0 < preview.region_share < 0.5
