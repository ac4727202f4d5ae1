"""The Relational workspace (a later release): a relational RL agent on Box-World and its attention."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from gui.pages.placeholder import PlaceholderPage
from gui.services import AppServices

SUMMARY = (
    "Train an agent whose pixels become entities that attend to one another on Box-World, a puzzle of "
    "keys, locks and a gem, and compare it with a convolutional baseline. Replay any episode step by step "
    "and inspect the agent's attention entity by entity and head by head, to see keys attend to the locks "
    "they open."
)
PLANS = [
    "Train relational and ResNet-baseline agents; follow the fraction of levels solved against steps.",
    "Replay episodes with the attention of a chosen entity and head drawn over the grid.",
    "Test generalisation to longer solution paths and to key-lock colour pairs held out in training.",
    "Measure how much keys attend to their locks against chance.",
]
PAPER = "Zambaldi et al.: “Relational Deep Reinforcement Learning” (arXiv 1806.01830)."


class RelationalPage(PlaceholderPage):
    def __init__(self, services: AppServices | None = None, parent: QWidget | None = None) -> None:
        super().__init__("relational", "Relational", SUMMARY, PLANS, PAPER, parent)
        self.services = services


if __name__ == "__main__":
    from gui.pages._standalone import run_page

    raise SystemExit(run_page(RelationalPage, "Relational"))
