"""The attribution gallery: heat-map tiles with the region outlined, click to enlarge, compare mode, sample
filter, text shading, speed for 8 samples x 12 methods, and a screenshot on Fashion-MNIST for review."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget
from test_screenshots import assert_real_image, lantern_look, save  # noqa: F401 (a fixture)

from engine.attribution.types import Gallery
from engine.core.errors import LanternError
from engine.demo.fashion_mnist import load_demo
from gui.widgets.attribution_gallery import (
    CONTOUR,
    GalleryView,
    compose_tile,
    contour_thickness,
    heat_lut,
    mask_outline,
    region_score,
    resize_nearest,
    token_shades,
    tokens_html,
)
from gui.widgets.attribution_leaderboard import METHOD_ORDER

IMAGE_METHODS = METHOD_ORDER[:12]
CYAN = np.array([CONTOUR.red(), CONTOUR.green(), CONTOUR.blue()])


def _smooth(values: np.ndarray, passes: int) -> np.ndarray:
    for _ in range(passes):
        p = np.pad(values, 1, mode="edge")
        values = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] + p[1:-1, 1:-1]) / 5
    return values


def _blocks(values: np.ndarray, size: int) -> np.ndarray:
    h, w = values.shape
    pooled = (
        values[: h // size * size, : w // size * size].reshape(h // size, size, w // size, size).mean((1, 3))
    )
    return resize_nearest(pooled, h, w)


def method_map(
    method: str, image: np.ndarray, mask: np.ndarray, present: bool, rng: np.random.Generator
) -> np.ndarray:
    """A map with the character of each method family: gradients speckled on edges, SmoothGrad smoother,
    Grad-CAM a coarse blob, perturbation methods blocky; all find the region more when it is present."""
    region = _smooth(mask.astype(float), 2)
    gy, gx = np.gradient(image)
    edges = np.hypot(gx, gy)
    speckle = rng.random(image.shape) ** 3
    weight = 1.0 if present else 0.35
    if method in ("saliency", "input_x_gradient", "deeplift", "integrated_gradients"):
        skill = {"saliency": 0.35, "input_x_gradient": 0.5, "deeplift": 0.55, "integrated_gradients": 0.6}[
            method
        ]
        values = skill * weight * region * (0.5 + speckle) + (1 - skill) * (edges + 0.4 * speckle)
        if method != "saliency":
            values = values * (0.3 + image)
    elif method in ("smoothgrad", "smoothgrad_x_input", "gradient_shap"):
        skill = {"smoothgrad": 0.5, "smoothgrad_x_input": 0.6, "gradient_shap": 0.75}[method]
        values = _smooth(skill * weight * region + (1 - skill) * edges, 2)
    elif method == "gradcam":
        centre = np.roll(region, (3, -2), axis=(0, 1))
        values = _blocks(0.6 * weight * centre + 0.4 * _smooth(image, 3), 4)
        values = _smooth(values, 3)
    else:  # occlusion, lime, kernel_shap, feature_ablation: patches
        skill = {"occlusion": 0.6, "lime": 0.7, "kernel_shap": 0.8, "feature_ablation": 0.65}.get(method, 0.6)
        values = _blocks(skill * weight * region + (1 - skill) * (image + 0.3 * rng.random(image.shape)), 4)
    return np.abs(values).astype(np.float32)


def watermark_gallery(*, model: str = "small_cnn", seed: int = 0, n: int = 8) -> Gallery:
    """Eight Fashion-MNIST test images (T-shirt vs shirt), half carrying a faint stamped watermark inside the
    top-right box, with a map per method."""
    demo = load_demo()
    rng = np.random.default_rng(seed)
    index = np.flatnonzero(np.isin(demo.test_labels, (0, 6)))[:n]
    images = demo.test_images[index].astype(np.float32)[:, None] / 255.0
    labels = (demo.test_labels[index] == 6).astype(np.int64)
    mask = np.zeros((28, 28), dtype=bool)
    mask[2:12, 13:27] = True
    present = labels == 1
    for i in np.flatnonzero(present):
        top, left = rng.integers(2, 7), rng.integers(13, 19)
        stamp = rng.random((4, 8)) < 0.55
        images[i, 0, top : top + 4, left : left + 8][stamp] = 0.95
    masks = np.repeat(mask[None], n, axis=0)
    maps = {
        m: np.stack([method_map(m, images[i, 0], mask, bool(present[i]), rng) for i in range(n)])
        for m in IMAGE_METHODS
    }
    predictions = labels.copy()
    predictions[2] = 1 - predictions[2]
    return Gallery(
        "image",
        "watermark",
        1,
        labels,
        predictions,
        present,
        masks,
        maps,
        inputs=images,
        model=model,
        meta={"class_names": ["T-shirt/top", "Shirt"]},
    )


def text_gallery() -> Gallery:
    tokens = [
        ["the", "film", "is", "a", "warm", "and", "the", "funniest", "ride", "of", "the", "year"],
        ["a", "dull", "mess", "with", "a", "plot", "nobody", "needed"],
    ]
    masks = [np.array([t in ("a", "the") for t in toks]) for toks in tokens]
    attention = [
        np.array([0.30, 0.05, 0.01, 0.08, 0.20, 0.02, 0.25, 0.40, 0.03, 0.01, 0.22, 0.05], np.float32),
        np.array([0.05, 0.60, 0.30, 0.01, 0.04, 0.10, 0.02, 0.03], np.float32),
    ]
    gradients = [np.flip(a).copy() for a in attention]
    return Gallery(
        "text",
        "article_substitution",
        0,
        np.array([1, 0]),
        np.array([1, 0]),
        np.array([True, False]),
        masks,
        {"attention": attention, "integrated_gradients": gradients},
        tokens=tokens,
        model="bilstm_attention",
        meta={"class_names": ["rotten", "fresh"]},
    )


@pytest.fixture(scope="module")
def galleries() -> list[Gallery]:
    return [watermark_gallery(), watermark_gallery(model="resnet", seed=3)]


@pytest.fixture
def view(qtbot, galleries: list[Gallery]):  # type: ignore[no-untyped-def]
    widget = GalleryView()
    qtbot.addWidget(widget)
    widget.resize(1400, 900)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_galleries(galleries)
    return widget


def test_outline_is_the_inner_border_of_the_region_and_not_the_image_border() -> None:
    box = np.zeros((10, 12), dtype=bool)
    box[2:7, 3:9] = True
    inner = np.zeros_like(box)
    inner[3:6, 4:8] = True
    assert np.array_equal(mask_outline(box), box & ~inner)

    periphery = np.ones((10, 10), dtype=bool)
    periphery[3:7, 3:7] = False
    edge = mask_outline(periphery)
    assert not edge[0].any() and not edge[:, 0].any()  # the image's own border is not a boundary
    assert edge[2, 3:7].all() and edge[7, 3:7].all() and edge[3:7, 2].all() and edge[3:7, 7].all()
    assert edge.sum() == 4 * 4  # the four sides of the hole; its diagonal corners are no 4-neighbours


def test_contour_pixels_outline_the_enlarged_mask_exactly() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((1, 28, 28)).astype(np.float32) * 0.5
    mask = np.zeros((28, 28), dtype=bool)
    mask[4:12, 14:26] = True
    tile = compose_tile(image, rng.random((28, 28)), mask, 84)
    assert tile.shape == (84, 84, 3)

    cyan = np.all(tile == CYAN, axis=2)
    assert contour_thickness(84) == 2
    expected = mask_outline(resize_nearest(mask, 84, 84), thickness=2)
    assert np.array_equal(cyan, expected)
    box = resize_nearest(mask, 84, 84)
    assert cyan.sum() == box.sum() - (24 - 4) * (36 - 4)  # a 2 px band inside the 24 x 36 px box
    assert not cyan[~box].any()
    plain = compose_tile(image, rng.random((28, 28)), mask, 84, contour=False)
    assert not np.all(plain == CYAN, axis=2).any()


def test_heat_colours_rise_with_attribution_and_leave_the_input_visible_where_it_is_low() -> None:
    lut = heat_lut()
    luminance = lut @ np.array([0.2126, 0.7152, 0.0722])
    assert luminance[-1] > luminance[128] > luminance[0]  # a dark-to-bright map
    image = np.full((1, 4, 4), 0.8, dtype=np.float32)
    attribution = np.zeros((4, 4), dtype=np.float32)
    attribution[0, 0] = 1.0
    tile = compose_tile(image, attribution, np.zeros((4, 4), bool), 4, opacity=1.0)
    assert tuple(tile[0, 0]) == tuple(lut[255])  # the hottest pixel is the map's top colour
    assert tuple(tile[3, 3]) == (112, 112, 112)  # no attribution: the input, dimmed (0.8 * 255 * 0.55)


def test_region_score_is_one_for_the_mask_and_the_share_for_a_uniform_map() -> None:
    mask = np.zeros((10, 10), dtype=bool)
    mask[:4] = True
    assert region_score(mask.astype(float), mask) == 1.0
    assert region_score(np.ones((10, 10)), mask) == pytest.approx(0.4)
    assert region_score(np.zeros((10, 10)), mask) == pytest.approx(0.4)


def test_token_shading_is_monotonic_in_attribution_and_marks_the_region() -> None:
    values = np.array([0.1, -0.9, 0.4, 0.0, 0.7])
    shades = token_shades(values)
    assert shades[1] == 1.0 and shades[3] == 0.0
    assert list(np.argsort(shades)) == list(np.argsort(np.abs(values)))

    base, ink = QColor("#ffffff"), QColor("#1f2430")
    markup = tokens_html(
        ["a", "b", "c", "d", "e"], values, np.array([1, 0, 0, 0, 0], bool), base=base, ink=ink
    )
    fills = [QColor(c) for c in re.findall(r"background-color:(#[0-9a-f]{6})", markup)]
    distance = [abs(base.lightnessF() - f.lightnessF()) for f in fills]
    assert np.all(np.diff(np.array(distance)[np.argsort(np.abs(values))]) >= 0)
    assert distance[3] == 0.0  # no attribution, no shade
    assert markup.count("<u>") == 1 and "<b><u>a</u></b>" in markup


def test_grid_shows_input_then_every_method_for_every_sample(
    view: GalleryView, galleries: list[Gallery]
) -> None:
    columns = view.shown_columns()
    assert [c.method for c in columns] == ["", *IMAGE_METHODS]
    assert columns[0].title == "Input"
    assert view.grid.samples == list(range(8))
    assert view.gallery_box.count() == 2
    assert "small_cnn" in view.gallery_box.itemText(0)  # two models: the model is named
    score = view.grid.score(1 + IMAGE_METHODS.index("kernel_shap"), 0)
    gallery = galleries[0]
    assert score == pytest.approx(region_score(gallery.maps["kernel_shap"][0], gallery.masks[0]))


def test_clicking_a_tile_opens_the_enlarged_view_and_arrows_step_methods(view: GalleryView, qtbot) -> None:  # type: ignore[no-untyped-def]
    column = 1 + IMAGE_METHODS.index("lime")
    with qtbot.waitSignal(view.tileEnlarged) as blocker:
        qtbot.mouseClick(view.grid, Qt.MouseButton.LeftButton, pos=view.grid.tile_rect(column, 3).center())
    assert blocker.args == ["lime", 3]
    dialog = view.dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.heading.text() == "LIME · sample 4"
    assert "Attr%" in dialog.details.text() and "manipulation" in dialog.details.text()
    assert all(not panel.pixmap().isNull() for panel in dialog.panels)
    assert dialog.panels[0].pixmap().width() == dialog.PANEL
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.method == "kernel_shap"
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    assert dialog.method == "occlusion"
    dialog.close()


def test_compare_mode_puts_two_methods_or_two_models_side_by_side(view: GalleryView) -> None:
    view.set_compare(True, (0, "gradcam"), (0, "kernel_shap"))
    assert [(c.gallery, c.method) for c in view.shown_columns()] == [
        (0, ""),
        (0, "gradcam"),
        (0, "kernel_shap"),
    ]
    assert view.compare_bar.isVisible()
    assert view.grid.tile > 150  # two columns get large tiles

    view.set_compare(True, (0, "gradcam"), (1, "gradcam"))
    left, right = view.shown_columns()[1:]
    assert (left.gallery, right.gallery) == (0, 1)
    assert "small_cnn" in left.subtitle and "resnet" in right.subtitle
    view.swap_button.click()
    assert [c.gallery for c in view.shown_columns()[1:]] == [1, 0]
    with pytest.raises(LanternError, match="no maps of 'attention'"):
        view.set_compare(True, (0, "attention"))

    view.set_compare(False)
    assert len(view.shown_columns()) == 1 + len(IMAGE_METHODS)
    assert not view.compare_bar.isVisible()


def test_sample_filter_and_focus_from_the_leaderboard(view: GalleryView, galleries: list[Gallery]) -> None:
    present = np.flatnonzero(galleries[0].manipulated).tolist()
    view.set_sample_filter("presence")
    assert view.grid.samples == present
    view.set_sample_filter("absence")
    assert view.grid.samples == np.flatnonzero(~galleries[0].manipulated).tolist()
    view.set_sample_filter("all")

    view.select_gallery(1)
    assert view.focus("watermark", "lime") is True
    assert view.current_index() == 1  # already on a watermark gallery: it stays
    assert view.grid.highlight == "lime"
    assert view.focus("striped_hue") is False


def test_bad_galleries_are_refused_with_a_clear_message(view: GalleryView, galleries: list[Gallery]) -> None:
    good = galleries[0]
    broken = Gallery(
        "image",
        "watermark",
        2,
        good.labels,
        good.predictions,
        good.manipulated,
        good.masks,
        {"lime": np.zeros((8, 14, 14), np.float32)},
        inputs=good.inputs,
    )
    with pytest.raises(LanternError, match="the lime maps are"):
        view.set_galleries([good, broken])
    assert view.gallery_box.count() == 2  # what was shown stays


def test_text_gallery_shades_tokens_and_marks_the_articles(view: GalleryView) -> None:
    view.set_galleries([text_gallery()])
    assert view.stack.currentWidget() is view.text_view
    markup = view.text_view.toHtml()
    assert "funniest" in markup and "nobody" in markup
    assert view.text_view.toPlainText().count("Attention") == 2  # one row per method and sample
    assert not view.opacity_slider.isVisible()
    view.set_compare(True, (0, "attention"), (0, "integrated_gradients"))
    assert view.text_view.toPlainText().count("Integrated gradients") == 2
    assert view.figure_widget() is view.text_view


def test_eight_samples_by_twelve_methods_paint_quickly(view: GalleryView, galleries: list[Gallery]) -> None:
    fresh = [watermark_gallery(seed=9)]
    start = time.perf_counter()
    view.set_galleries(fresh)
    image = view.grid.grab()
    elapsed = time.perf_counter() - start
    assert not image.isNull()
    assert len(view.grid._cache) >= 8 * 13 - 13  # every tile of the rows on screen was composed
    assert elapsed < 2.0, f"a full gallery took {elapsed:.2f} s"


@pytest.mark.usefixtures("lantern_look")
def test_screenshot_of_the_gallery(qtbot, galleries: list[Gallery]) -> None:  # type: ignore[no-untyped-def]
    page = QWidget()
    qtbot.addWidget(page)
    page.resize(QSize(1400, 900))
    layout = QVBoxLayout(page)
    layout.setContentsMargins(16, 14, 16, 14)
    view = GalleryView(page)
    layout.addWidget(view)
    view.set_galleries(galleries)
    page.show()
    view.focus("watermark", "kernel_shap")

    path = save(page, "attribution_gallery", qtbot)
    assert_real_image(path, QSize(1400, 900))
    dialog = view.enlarge(0, 1, "integrated_gradients")
    compare_path = save(dialog, "attribution_gallery_enlarged", qtbot)
    assert_real_image(compare_path, dialog.size())
    dialog.close()
    page.close()
