"""The Annotate workspace (a later release): named-entity labelling driven by active learning."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from gui.pages.placeholder import PlaceholderPage
from gui.services import AppServices

SUMMARY = (
    "Label named entities in the sentences that active learning picks as most informative, starting from the "
    "model's own suggestions. Each label is saved as you make it; a background job retrains the tagger and "
    "re-ranks the queue without making you wait, and the learning curve shows F1 against the words labelled."
)
PLANS = [
    "Import a CoNLL file; a bad file is rejected whole with the line that broke it.",
    "Label suggested spans sentence by sentence, chosen by MNLP, least confidence, BALD or at random.",
    "Watch entity-level F1 grow with the number of labelled words, per acquisition strategy.",
    "Export to CoNLL, JSONL or spaCy files that read back unchanged.",
]
PAPER = (
    "Shen, Yun, Lipton, Kronrod, Anandkumar: “Deep Active Learning for Named Entity Recognition” "
    "(ICLR 2018): the CNN-CNN-LSTM tagger with incremental active learning."
)


class AnnotatePage(PlaceholderPage):
    def __init__(self, services: AppServices | None = None, parent: QWidget | None = None) -> None:
        super().__init__("annotate", "Annotate", SUMMARY, PLANS, PAPER, parent)
        self.services = services


if __name__ == "__main__":
    from gui.pages._standalone import run_page

    raise SystemExit(run_page(AnnotatePage, "Annotate"))
