"""The Attribution workspace (a later release): scoring attribution methods against known ground truth."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from gui.pages.placeholder import PlaceholderPage
from gui.services import AppServices

SUMMARY = (
    "Modify a dataset so that the truth is known: labels are reassigned and a manipulation (a watermark, "
    "a blur, a brightness shift) is tied to the new label, so a model that beats the best accuracy the "
    "original features allow must be using the manipulated region. Train such a model, then score "
    "attribution methods by how much of their attribution falls on that region."
)
PLANS = [
    "Build a modified dataset from a manipulation and a label-reassignment rate, and preview it.",
    "Train models until they pass the accuracy bar; the pass rate is reported, failed runs are dropped.",
    "Score gradient, gradient × input, SmoothGrad, GradCAM, LIME and SHAP by Attr%, against the region's "
    "share of the input.",
    "Compare presence and absence of the manipulation separately.",
]
PAPER = (
    "Zhou, Booth, Ribeiro, Shah: “Do Feature Attribution Methods Correctly Attribute Features?” (AAAI 2022)."
)


class AttributionPage(PlaceholderPage):
    def __init__(self, services: AppServices | None = None, parent: QWidget | None = None) -> None:
        super().__init__("attribution", "Attribution", SUMMARY, PLANS, PAPER, parent)
        self.services = services


if __name__ == "__main__":
    from gui.pages._standalone import run_page

    raise SystemExit(run_page(AttributionPage, "Attribution"))
