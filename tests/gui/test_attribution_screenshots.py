"""Screenshots of the Attribution page: the designer's live preview, the leaderboard and the gallery.

The folder is LANTERN_SCREENSHOT_DIR, else <repo>/screenshots/. The experiment shown is written through
AttributionRepository: the images, masks and modifications are real (the bundled Fashion-MNIST and the
engine's manipulations), the scores and heat maps are synthetic (shaped like the paper's findings): the
screenshots show the page's layout, not a result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSize
from test_screenshots import assert_real_image, lantern_look, save  # noqa: F401 (a fixture)

from engine.attribution.datasets import fashion_pair
from engine.attribution.gallery import save_galleries
from engine.attribution.manipulations import IMAGE_MANIPULATIONS
from engine.attribution.modify import modify_images
from engine.attribution.records import ScoreRow
from engine.attribution.repository import EXPERIMENT_KIND, GALLERY_KIND, AttributionRepository
from engine.attribution.types import Gallery
from engine.core.device import DeviceChoice
from engine.store.database import Store
from gui.pages.attribution import AttributionPage
from gui.services import AppServices
from gui.widgets.attribution_designer import DesignRequest

REPO = Path(__file__).resolve().parents[2]
CPU = DeviceChoice("cpu", "float32", "x86_64")
PAGE_SIZE = QSize(1320, 920)  # the page with the docks closed in a 1536 x 1000 window
MANIPULATIONS = ("peripheral_blur", "centre_brightness", "striped_noise", "watermark", "striped_hue")
# How much of each method's mass goes beyond the random baseline (SHAP-like methods best, as the paper).
QUALITY = {
    "saliency": 0.30,
    "input_x_gradient": 0.34,
    "integrated_gradients": 0.42,
    "smoothgrad": 0.40,
    "smoothgrad_x_input": 0.38,
    "gradient_shap": 0.50,
    "deeplift": 0.41,
    "gradcam": 0.36,
    "occlusion": 0.47,
    "lime": 0.44,
    "kernel_shap": 0.56,
    "feature_ablation": 0.46,
}
# How easy each manipulation is to attribute, present and absent (absence is attributed far worse).
EASE = {
    "peripheral_blur": (0.8, 0.55),
    "centre_brightness": (1.0, 0.6),
    "striped_noise": (0.9, 0.4),
    "watermark": (1.1, 0.25),
    "striped_hue": (0.85, 0.5),
}
GALLERY_METHODS = ("saliency", "integrated_gradients", "smoothgrad", "gradcam", "occlusion", "kernel_shap")


def _scores(method: str, manipulation: str, share: float, rng: np.random.Generator) -> list[ScoreRow]:
    quality = QUALITY[method]
    present, absent = EASE[manipulation]
    rows = []
    for condition, ease in (("presence", present), ("absence", absent), ("all", (present + absent) / 2)):
        lift = float(np.clip(quality * ease + rng.normal(0, 0.03), -0.05, 0.95))
        attr = share + lift * (1 - share)
        values = {
            "attr_pct": attr,
            "pointing_game": float(np.clip(share + 1.4 * lift * (1 - share) + rng.normal(0, 0.04), 0, 1)),
            "top_k_overlap": float(np.clip(share + 0.85 * lift * (1 - share), 0, 1)),
            "auroc": float(np.clip(0.5 + 0.55 * lift + rng.normal(0, 0.02), 0, 1)),
        }
        rows += [
            ScoreRow(method, metric, condition, value, 32, share, "abs-sum-channels")
            for metric, value in values.items()
        ]
    return rows


def _smooth(values: np.ndarray, passes: int = 2) -> np.ndarray:
    out = values.astype(np.float32)
    for _ in range(passes):
        padded = np.pad(out, ((0, 0), (1, 1), (1, 1)), mode="edge")
        out = (
            sum(
                padded[:, dy : dy + out.shape[1], dx : dx + out.shape[2]]
                for dy in range(3)
                for dx in range(3)
            )
            / 9
        )
    return out


def _maps(images: np.ndarray, masks: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Heat maps with each method's character: noisy gradients, smooth SmoothGrad, coarse Grad-CAM,
    blocky occlusion and KernelSHAP, drawn more or less onto the region by the method's quality."""
    grey = images.mean(axis=1)
    edges = np.abs(np.gradient(grey, axis=1)) + np.abs(np.gradient(grey, axis=2))
    region = _smooth(masks.astype(np.float32), 1)
    maps = {}
    for method in GALLERY_METHODS:
        quality = QUALITY[method]
        noise = rng.random(grey.shape).astype(np.float32)
        if method in ("saliency", "integrated_gradients"):
            raw = edges * (0.6 + noise) + quality * 1.2 * region * noise
        elif method == "smoothgrad":
            raw = _smooth(edges + quality * region, 2)
        elif method == "gradcam":
            coarse = grey * 0.3 + quality * region * 1.5
            raw = np.kron(coarse[:, ::4, ::4], np.ones((4, 4), dtype=np.float32))
        else:
            block = 4 if method == "occlusion" else 7
            base = quality * 1.6 * region + 0.35 * grey + 0.25 * noise
            small = base[:, ::block, ::block]
            raw = np.kron(small, np.ones((block, block), dtype=np.float32))[
                :, : grey.shape[1], : grey.shape[2]
            ]
        maps[method] = np.abs(raw).astype(np.float32)
    return maps


def realistic_experiment(store: Store, tmp_path: Path) -> int:
    """Five manipulations x 3 replicates on T-shirt/top vs Shirt (one run below the 0.97 bar), twelve
    methods on every metric and condition, and a gallery of 8 real modified samples per manipulation."""
    config = {
        "name": "Fashion-MNIST: five manipulations",
        "modality": "image",
        "base": {"kind": "fashion_pair", "classes": [0, 6], "colour": True},
        "manipulations": [{"name": name, "strength": None} for name in MANIPULATIONS],
        "r": 0.5,
        "model": {"name": "small_cnn"},
        "runs": 3,
        "train": {"max_epochs": 15, "min_accuracy": 0.97},
        "methods": list(QUALITY),
    }
    run_id = store.runs.create(name=config["name"], kind=EXPERIMENT_KIND, config=config, device=CPU, seed=0)
    repository = AttributionRepository(store)
    rng = np.random.default_rng(4)
    base = fashion_pair((0, 6), split="test", colour=True, limit=200, seed=0)
    galleries = []
    for manipulation in MANIPULATIONS:
        share = IMAGE_MANIPULATIONS[manipulation].region_share(28, 28)
        for replicate in range(3):
            passed = not (manipulation == "striped_hue" and replicate == 2)
            accuracy = float(rng.uniform(0.974, 0.996)) if passed else 0.953
            scores = [row for method in QUALITY for row in _scores(method, manipulation, share, rng)]
            repository.add_replicate(
                run_id,
                manipulation=manipulation,
                strength=float(IMAGE_MANIPULATIONS[manipulation].default_strength),
                r=0.5,
                replicate=replicate,
                model="small_cnn",
                val_accuracy=accuracy,
                test_accuracy=accuracy - 0.004,
                p_star=0.5,
                passed=passed,
                epochs=int(rng.integers(3, 9)) if passed else 15,
                scores=scores if passed else (),
            )
        modified = modify_images(base, manipulation, r=0.5, seed=1)
        pick = np.concatenate(
            [np.flatnonzero(modified.manipulated)[:4], np.flatnonzero(~modified.manipulated)[:4]]
        )
        inputs, masks = modified.images[pick], modified.masks[pick]
        galleries.append(
            Gallery(
                modality="image",
                manipulation=manipulation,
                replicate=0,
                labels=modified.labels[pick],
                predictions=modified.labels[pick],
                manipulated=modified.manipulated[pick],
                masks=masks,
                maps=_maps(inputs, masks, rng),
                inputs=inputs,
                model="small_cnn",
                meta={"class_names": list(modified.class_names)},
            )
        )
    path = save_galleries(galleries, tmp_path / "galleries.npz")
    store.artifacts.add(path, kind=GALLERY_KIND, name="galleries.npz", run_id=run_id)
    store.runs.finish(run_id, "done", {})
    return run_id


@pytest.mark.usefixtures("lantern_look")
def test_screenshots_of_the_attribution_page(qtbot, services: AppServices, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_id = realistic_experiment(services.store, tmp_path)
    page = AttributionPage(services)
    qtbot.addWidget(page)
    page.resize(PAGE_SIZE)
    page.show()
    page.show_tab("Designer")
    page.designer.set_design(DesignRequest(manipulation="watermark", classes=(0, 6), r=0.5))
    qtbot.waitUntil(lambda: not page.designer.is_busy() and page.designer.preview is not None, timeout=20_000)
    written = [save(page, "attribution_designer", qtbot)]

    assert page.run_id == run_id
    page.show_tab("Leaderboard")
    assert len(page.leaderboard.rows()) == len(MANIPULATIONS) * len(QUALITY)
    written.append(save(page, "attribution_page_leaderboard", qtbot))

    page.show_tab("Gallery")
    page.gallery.focus("watermark")
    assert page.gallery_stack.currentWidget() is page.gallery
    written.append(save(page, "attribution_page_gallery", qtbot))

    page.show_tab("Experiments")
    written.append(save(page, "attribution_page_experiments", qtbot))
    for path in written:
        assert_real_image(path, PAGE_SIZE)
    print("screenshots:", *written)
