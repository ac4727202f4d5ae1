"""The Augment page's Bank tab: the form that turns into an "augment.bank" job spec (K generated views per
training image), the table of the store's banks with their faithfulness summaries (resume an incomplete
one), and a browser that pages through a bank's sources, each beside its K views and their scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from gui.interactive_bridge import InteractiveBridge
from gui.signals import disconnect_all
from gui.style import MUTED, STATUS_COLORS
from gui.widgets.augment_views import (
    MAX_SEED,
    DatasetInfo,
    GeneratorChooser,
    GeneratorInfo,
    TileGrid,
    chosen_dataset,
    decode_images,
    fill_datasets,
)
from gui.widgets.figure_export import ExportButton
from gui.widgets.form_parts import ErrorLabel, error_text, form_beside, send_form, spin_box, table_item

BANKS_OP = "augment.banks"
BANK_PAGE_OP = "augment.bank_page"
JOB_NAME = "augment.bank"
BANK_ROWS = 6  # sources per page of the browser
DEFAULT_K = 4  # the engine's default, sized for a CPU (the paper's bank: 10 variants per image)
DEFAULT_LIMIT = 1000
BANK_COLUMNS = (
    "Bank",
    "Dataset",
    "Generator",
    "K",
    "Images",
    "Status",
    "Similarity",
    "Label kept",
    "Diversity",
)


@dataclass(frozen=True)
class BankInfo:
    """One bank as "augment.banks" lists it."""

    id: int
    name: str
    dataset: str
    generator: str
    settings: dict[str, Any]
    k: int
    images: int
    done: int
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    limit: int | None = None
    seed: int | None = None

    @property
    def complete(self) -> bool:
        return self.images > 0 and self.done >= self.images

    @property
    def resumable(self) -> bool:
        return not self.complete and self.status not in ("complete", "running", "queued")


def parse_banks(answer: Any) -> list[BankInfo]:
    items = answer.get("banks", []) if isinstance(answer, dict) else []
    banks = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("id") is None:
            continue
        progress = item.get("progress") if isinstance(item.get("progress"), dict) else {}
        try:
            done = item.get("done")
            if done is None:  # the engine's banks op says how far a bank got in "progress"
                done = progress.get("images_done", 0)
            banks.append(
                BankInfo(
                    id=int(item["id"]),
                    name=str(item.get("name") or f"bank {item['id']}"),
                    dataset=str(item.get("dataset") or ""),
                    generator=str(item.get("generator") or ""),
                    settings=dict(item.get("settings") or {}),
                    k=int(item.get("k") or 0),
                    images=int(item.get("images") or 0),
                    done=int(done or 0),
                    status=str(item.get("status") or ""),
                    summary=dict(item.get("summary") or {}),
                    checkpoint=str(item["checkpoint"]) if item.get("checkpoint") else None,
                    limit=int(item["limit"]) if item.get("limit") is not None else None,
                    seed=int(item["seed"]) if item.get("seed") is not None else None,
                )
            )
        except (TypeError, ValueError) as exc:
            raise LanternError(
                f"the bank {item.get('id')!r} is not understood ({exc})",
                BANKS_OP,
                "the engine and the GUI disagree: update both",
            ) from exc
    return banks


@dataclass(frozen=True)
class BankPage:
    """A page of a bank: n sources, each with K views and their scores."""

    sources: np.ndarray | None  # uint8 [n, C, H, W]; None when the dataset cannot be read any more
    views: np.ndarray  # uint8 [n, K, C, H, W]
    similarity: np.ndarray  # float [n, K]
    label_kept: np.ndarray  # bool [n, K]
    labels: list[int]
    class_names: list[str]
    total: int
    offset: int
    index: list[int] = field(default_factory=list)  # the rows' images in the train split
    written: int | None = None  # rows written so far (a bank being built or interrupted)
    sources_error: str = ""

    @property
    def rows(self) -> int:
        return int(self.views.shape[0])

    @property
    def browsable(self) -> int:
        """Rows that can be paged through: those written."""
        return self.total if self.written is None else min(self.total, self.written)

    def image_index(self, row: int) -> int:
        return self.index[row] if row < len(self.index) else self.offset + row

    def class_name(self, row: int) -> str:
        label = self.labels[row] if row < len(self.labels) else -1
        return self.class_names[label] if 0 <= label < len(self.class_names) else ""


def parse_bank_page(answer: Any, offset: int) -> BankPage:
    views = decode_images(answer, "views", BANK_PAGE_OP, 5)
    n, k = views.shape[:2]
    sources = decode_images(answer, "sources", BANK_PAGE_OP, 4) if answer.get("sources") is not None else None
    try:
        similarity = np.asarray(answer.get("similarity") or np.zeros((n, 0)), dtype=np.float64)
        kept = np.asarray(answer.get("label_kept") or np.zeros((n, 0)), dtype=bool)
    except (TypeError, ValueError) as exc:
        raise LanternError(f"the bank's scores are not understood ({exc})", BANK_PAGE_OP) from exc
    if (sources is not None and len(sources) != n) or similarity.shape != (n, k) or kept.shape != (n, k):
        raise LanternError(
            f"the bank page has {n if sources is None else len(sources)} sources, views "
            f"{list(views.shape[:2])}, similarity {list(similarity.shape)} and label_kept {list(kept.shape)}",
            BANK_PAGE_OP,
            "the engine and the GUI disagree: update both",
        )
    return BankPage(
        sources=sources,
        views=views,
        similarity=similarity,
        label_kept=kept,
        labels=[int(v) for v in answer.get("labels") or []],
        class_names=[str(c) for c in answer.get("class_names") or []],
        total=int(answer.get("total") or n),
        offset=offset,
        index=[int(v) for v in answer.get("index") or []],
        written=int(answer["written"]) if answer.get("written") is not None else None,
        sources_error=str(answer.get("sources_error") or ""),
    )


def _number(summary: dict[str, Any], key: str, percent: bool = False) -> str:
    value = summary.get(key)
    if not isinstance(value, int | float) or not np.isfinite(value):
        return "—"
    return f"{100 * value:.1f} %" if percent else f"{value:.3f}"


class BankPanel(QWidget):
    """Form (left), banks and the browser (right). `build_requested(spec)` and `resume_requested(spec)` carry
    "augment.bank" specs; the page submits them as jobs (progress, ETA and Cancel in the Jobs dock)."""

    build_requested = Signal(dict)
    resume_requested = Signal(dict)
    failed = Signal(object)  # LanternError

    def __init__(self, interactive: InteractiveBridge | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.interactive = interactive
        self.banks: list[BankInfo] = []
        self.page: BankPage | None = None
        self._banks_request: int | None = None
        self._page_request: tuple[int, int] | None = None  # (request id, offset)
        self._shut_down = False
        self.building = False  # a bank job started here is running: no Resume until it ends
        self._build()
        if interactive is not None:
            interactive.answered.connect(self._answered)
            interactive.failed.connect(self._failed)

    def _build(self) -> None:
        self.dataset_box = QComboBox()
        self.dataset_box.setToolTip("The dataset whose training images get K views each")
        self.generator = GeneratorChooser()
        self.k_spin = spin_box(1, 64, DEFAULT_K, "Views per image (the paper: 10)")
        self.limit_spin = spin_box(0, 10_000_000, DEFAULT_LIMIT, "Images of the train split (0: all of them)")
        self.limit_spin.setSpecialValueText("all")
        self.seed_spin = spin_box(0, MAX_SEED, 0, "The same seed gives the same bank")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. fmnist-lantern-k10")
        self.name_edit.setToolTip("The bank's name (default: dataset, generator and K)")
        self.build_button = QPushButton("Build bank")
        self.build_button.setObjectName("primaryAction")
        self.build_button.setToolTip("Start the bank job (Ctrl+Return); it can be cancelled and resumed")
        self.build_button.clicked.connect(self.build)
        self.error_label = ErrorLabel()
        self.job_label = QLabel()
        self.job_label.setProperty("role", "muted")
        self.job_label.setWordWrap(True)
        source = QGroupBox("Bank")
        form = QFormLayout(source)
        form.addRow("Dataset", self.dataset_box)
        form.addRow("Images", self.limit_spin)
        form.addRow("Views per image (K)", self.k_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Name", self.name_edit)
        generator_box = QGroupBox("Generator")
        QVBoxLayout(generator_box).addWidget(self.generator)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(source)
        left_layout.addWidget(generator_box)
        left_layout.addWidget(self.build_button)
        left_layout.addWidget(self.error_label)
        left_layout.addWidget(self.job_label)
        left_layout.addStretch(1)

        self.table = QTableWidget(0, len(BANK_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(BANK_COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selected)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("List the banks again")
        self.refresh_button.clicked.connect(self.load_banks)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue an interrupted bank where it stopped")
        self.resume_button.clicked.connect(self.resume)
        self.resume_button.setEnabled(False)
        banks_card = QFrame()
        banks_card.setProperty("role", "card")
        banks_layout = QVBoxLayout(banks_card)
        banks_layout.setContentsMargins(12, 8, 12, 8)
        top = QHBoxLayout()
        caption = QLabel("Banks")
        caption.setStyleSheet("font-weight: 600;")
        top.addWidget(caption, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.resume_button)
        banks_layout.addLayout(top)
        banks_layout.addWidget(self.table, 1)
        self.empty_label = QLabel("No bank yet: fill in the form and press Build bank.")
        self.empty_label.setProperty("role", "muted")
        banks_layout.addWidget(self.empty_label)

        self.browser = QFrame()
        self.browser.setProperty("role", "card")
        browser_layout = QVBoxLayout(self.browser)
        browser_layout.setContentsMargins(12, 8, 12, 8)
        self.back_button = QPushButton("‹ Previous")
        self.next_button = QPushButton("Next ›")
        self.back_button.clicked.connect(lambda: self._turn(-1))
        self.next_button.clicked.connect(lambda: self._turn(1))
        self.page_label = QLabel("Select a bank to browse its views.")
        self.page_label.setProperty("role", "muted")
        self.export_button = ExportButton(lambda: self.browser, name="augment-bank", parent=self)
        nav = QHBoxLayout()
        nav.addWidget(self.back_button)
        nav.addWidget(self.page_label, 1)
        nav.addWidget(self.next_button)
        nav.addWidget(self.export_button)
        browser_layout.addLayout(nav)
        self.rows = TileGrid(DEFAULT_K + 1, 64, self.browser)
        rows_scroll = QScrollArea()
        rows_scroll.setWidget(self.rows)
        rows_scroll.setWidgetResizable(True)
        rows_scroll.setFrameShape(QFrame.Shape.NoFrame)
        browser_layout.addWidget(rows_scroll, 1)
        self._set_page_buttons()

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(banks_card)
        right.addWidget(self.browser)
        right.setStretchFactor(1, 3)
        right.setSizes([200, 600])
        right.setChildrenCollapsible(False)
        form_beside(self, left, right, 330, 420)

    # the catalogue (from the Views tab's listing)
    def set_datasets(self, datasets: list[DatasetInfo]) -> None:
        fill_datasets(self.dataset_box, datasets)

    def set_generators(self, generators: list[GeneratorInfo]) -> None:
        self.generator.set_generators(generators)

    # the form
    def spec(self) -> dict[str, Any]:
        """The "augment.bank" spec the form says; raises LanternError when something is missing."""
        dataset = chosen_dataset(self.dataset_box)
        generator = self.generator.request_args()
        k = int(self.k_spin.value())
        limit = int(self.limit_spin.value())
        name = self.name_edit.text().strip() or f"{dataset} · {generator['generator']} · k{k}"
        return {
            "dataset": str(dataset),
            "limit": limit or None,
            "generator": generator["generator"],
            "checkpoint": generator["checkpoint"],
            "settings": generator["settings"],
            "k": k,
            "seed": int(self.seed_spin.value()),
            "name": name,
        }

    def build(self) -> dict[str, Any] | None:
        return send_form(self.spec, self.show_error, self.build_requested)

    def resume(self) -> dict[str, Any] | None:
        bank = self.current_bank()
        if bank is None or not bank.resumable:
            return None
        # Only the id: the job takes every other parameter from the stored bank (and refuses a spec that
        # disagrees with it), so an interrupted bank goes on exactly as it started.
        spec: dict[str, Any] = {"bank_id": bank.id}
        self.resume_requested.emit(spec)
        return spec

    def show_error(self, error: LanternError | None) -> None:
        self.error_label.show_error(error)

    def waiting(self) -> bool:
        """Whether a listing or a page is being read."""
        return self._banks_request is not None or self._page_request is not None

    # the banks
    def load_banks(self) -> int | None:
        if self.interactive is None or self._shut_down:
            return None
        self._banks_request = self.interactive.request(BANKS_OP)
        return self._banks_request

    def _answered(self, request_id: int, answer: Any) -> None:
        if self._shut_down:
            return
        try:
            if request_id == self._banks_request:
                self._banks_request = None
                self.set_banks(parse_banks(answer))
            elif self._page_request is not None and request_id == self._page_request[0]:
                offset = self._page_request[1]
                self._page_request = None
                self.show_page(parse_bank_page(answer, offset))
        except LanternError as exc:
            self.page_label.setText(error_text(exc))
            self.failed.emit(exc)

    def _failed(self, request_id: int, error: Any) -> None:
        if self._shut_down:
            return
        if request_id == self._banks_request:
            self._banks_request = None
        elif self._page_request is not None and request_id == self._page_request[0]:
            self._page_request = None
        else:
            return
        error = error if isinstance(error, LanternError) else LanternError(str(error), BANKS_OP)
        self.page_label.setText(error_text(error))
        self.failed.emit(error)

    def set_banks(self, banks: list[BankInfo]) -> None:
        chosen = self.current_bank()
        self.banks = list(banks)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.banks))
        for row, bank in enumerate(self.banks):
            share = f"{bank.done:,} / {bank.images:,}" if bank.images else f"{bank.done:,}"
            status = table_item(bank.status or ("complete" if bank.complete else "incomplete"))
            shade = {"complete": "done", "building": "running"}.get(bank.status, bank.status)
            status.setForeground(QColor(STATUS_COLORS.get(shade, MUTED)))
            settings = ", ".join(f"{k} {v:g}" for k, v in bank.settings.items() if isinstance(v, int | float))
            generator = table_item(bank.generator + (f" ({settings})" if settings else ""))
            cells = [
                table_item(f"#{bank.id} {bank.name}", bank.id),
                table_item(bank.dataset),
                generator,
                table_item(str(bank.k), right=True),
                table_item(share, right=True),
                status,
                table_item(_number(bank.summary, "similarity_mean"), right=True),
                table_item(_number(bank.summary, "label_kept_rate", percent=True), right=True),
                table_item(_number(bank.summary, "diversity_mean"), right=True),
            ]
            for column, item in enumerate(cells):
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        self.empty_label.setVisible(not self.banks)
        if chosen is not None and self.select(chosen.id):
            self._update_resume()
            return
        if self.banks and self.current_bank() is None:
            self.select(self.banks[0].id)
        self._update_resume()

    def select(self, bank_id: int) -> bool:
        for row, bank in enumerate(self.banks):
            if bank.id == bank_id:
                if self.table.currentRow() != row:
                    self.table.selectRow(row)
                return True
        return False

    def current_bank(self) -> BankInfo | None:
        model = self.table.selectionModel()
        rows = model.selectedRows() if model is not None else []
        if not rows or rows[0].row() >= len(self.banks):
            return None
        return self.banks[rows[0].row()]

    def _selected(self) -> None:
        self._update_resume()
        bank = self.current_bank()
        if bank is not None:
            self.load_page(0)

    def set_building(self, building: bool) -> None:
        self.building = building
        self._update_resume()

    def _update_resume(self) -> None:
        bank = self.current_bank()
        self.resume_button.setEnabled(bank is not None and bank.resumable and not self.building)

    # the browser
    def load_page(self, offset: int) -> int | None:
        bank = self.current_bank()
        if bank is None or self.interactive is None or self._shut_down:
            return None
        request = self.interactive.request(BANK_PAGE_OP, bank_id=bank.id, offset=int(offset), count=BANK_ROWS)
        self._page_request = (request, int(offset))
        self.page_label.setText(f"Reading {bank.name}…")
        return request

    def show_page(self, page: BankPage) -> None:
        self.page = page
        k = int(page.views.shape[1])
        if self.rows.columns != k + 1:
            self.rows.clear()
            self.rows.columns = k + 1
        self.rows.clear()
        for row in range(page.rows):
            source = page.sources[row] if page.sources is not None else None
            caption = f"#{page.image_index(row)} {page.class_name(row)}".strip()
            self.rows.add(source, caption).set_highlighted(True)
            for view in range(k):
                self.rows.add(
                    page.views[row, view],
                    f"{page.similarity[row, view]:.2f}",
                    bool(page.label_kept[row, view]),
                )
        last = page.offset + page.rows
        kept = float(page.label_kept.mean()) if page.label_kept.size else float("nan")
        similarity = float(page.similarity.mean()) if page.similarity.size else float("nan")
        written = (
            f" ({page.written:,} written)" if page.written is not None and page.written < page.total else ""
        )
        text = (
            f"sources {page.offset + 1:,}–{last:,} of {page.total:,}{written} · this page: mean similarity "
            f"{similarity:.3f}, label kept {100 * kept:.0f} %"
        )
        if page.sources_error:
            text += f" · sources not shown: {page.sources_error}"
        self.page_label.setText(text)
        self._set_page_buttons()

    def _turn(self, step: int) -> None:
        page = self.page
        if page is None:
            return
        offset = page.offset + step * BANK_ROWS
        if 0 <= offset < page.browsable:
            self.load_page(offset)

    def _set_page_buttons(self) -> None:
        page = self.page
        self.back_button.setEnabled(page is not None and page.offset > 0)
        self.next_button.setEnabled(page is not None and page.offset + page.rows < page.browsable)

    def shutdown(self) -> None:
        self._shut_down = True
        if self.interactive is not None:
            disconnect_all(
                ((self.interactive.answered, self._answered), (self.interactive.failed, self._failed))
            )
