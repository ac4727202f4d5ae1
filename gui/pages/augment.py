"""The Augment workspace (a later release): generated image views for self-supervised learning."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from gui.pages.placeholder import PlaceholderPage
from gui.services import AppServices

SUMMARY = (
    "Generate new views of an image with a generative model conditioned on that image, collect them in "
    "an augmentation bank, and train self-supervised models with and without the generated views, so that "
    "you can see, with the same epochs, augmentations and seeds, whether generated views make better "
    "representations."
)
PLANS = [
    "Train or load a generator conditioned on a frozen encoder's embedding of the source image.",
    "Build a bank of K generated variants per training image and browse them beside their source.",
    "Train SimCLR-style models with generated views at probability p ∈ {0, 0.5, 1}; compare linear probes.",
    "Run the controls: a generator that returns the input, and one conditioned on a random other image.",
]
PAPER = (
    "Ayromlou, Khazaie, Forghani, Afkanpour: “Can Generative Models Improve Self-Supervised Representation "
    "Learning?” (arXiv 2403.05966, AAAI 2025)."
)


class AugmentPage(PlaceholderPage):
    def __init__(self, services: AppServices | None = None, parent: QWidget | None = None) -> None:
        super().__init__("augment", "Augment", SUMMARY, PLANS, PAPER, parent)
        self.services = services


if __name__ == "__main__":
    from gui.pages._standalone import run_page

    raise SystemExit(run_page(AugmentPage, "Augment"))
