"""The Bank tab: the form builds an "augment.bank" spec (or refuses with the reason); the banks are listed
with their summaries and an incomplete one can be resumed (its bank_id in the spec); the browser pages
through a bank's sources, each row the source and its K views with scores; bad answers are messages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shiboken6
from gui_fakes import FakeInteractive
from test_augment_views import DATASETS_ANSWER, GENERATORS_ANSWER, encode, fake_images

from engine.core.errors import LanternError
from gui.widgets.augment_bank import BANK_PAGE_OP, BANK_ROWS, BANKS_OP, BankPanel, parse_banks
from gui.widgets.augment_views import parse_datasets, parse_generators

BANKS = {
    "banks": [
        {
            "id": 3,
            "name": "fmnist k4",
            "dataset": "fashion-mnist-demo",
            "generator": "lantern",
            "settings": {"steps": 10},
            "k": 4,
            "images": 1000,
            "done": 1000,
            "status": "complete",
            "summary": {"similarity_mean": 0.8125, "label_kept_rate": 0.9, "diversity_mean": 0.21},
        },
        {
            "id": 4,
            "name": "half done",
            "dataset": "fashion-mnist-demo",
            "generator": "lantern",
            "settings": {"steps": 5},
            "k": 3,
            "images": 500,
            "done": 200,
            "status": "building",
            "summary": {},
        },
    ]
}


def bank_page(n: int, k: int, total: int) -> dict[str, Any]:
    similarity = [[round(0.5 + 0.1 * j + 0.01 * i, 3) for j in range(k)] for i in range(n)]
    return {
        "sources": encode(fake_images(n)),
        "views": encode(np.stack([fake_images(k, i) for i in range(n)])),
        "similarity": similarity,
        "label_kept": [[j != 1 for j in range(k)] for _ in range(n)],
        "labels": [i % 3 for i in range(n)],
        "class_names": ["T-shirt/top", "Trouser", "Pullover"],
        "total": total,
    }


@pytest.fixture
def bridge() -> FakeInteractive:
    return FakeInteractive()


@pytest.fixture
def panel(qtbot, bridge: FakeInteractive):  # type: ignore[no-untyped-def]
    widget = BankPanel(bridge)  # type: ignore[arg-type]
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.set_datasets(parse_datasets(DATASETS_ANSWER))
    widget.set_generators(parse_generators(GENERATORS_ANSWER))
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    if shiboken6.isValid(widget):
        widget.shutdown()


def test_the_form_builds_a_bank_spec_or_says_why_not(panel: BankPanel) -> None:
    emitted: list[dict[str, Any]] = []
    panel.build_requested.connect(emitted.append)
    panel.k_spin.setValue(4)
    panel.limit_spin.setValue(300)
    panel.seed_spin.setValue(2)
    panel.generator.settings.spins["steps"].setValue(12)
    spec = panel.build()
    assert emitted == [spec]
    assert spec == {
        "dataset": "fashion-mnist-demo",
        "limit": 300,
        "generator": "lantern",
        "checkpoint": "bundled",
        "settings": {"steps": 12, "guidance": 1.0},
        "k": 4,
        "seed": 2,
        "name": "fashion-mnist-demo · lantern · k4",
    }
    panel.limit_spin.setValue(0)
    panel.name_edit.setText("mine")
    assert panel.build()["limit"] is None and emitted[-1]["name"] == "mine"
    panel.generator.choose("unclip")
    assert panel.build() is None and len(emitted) == 2
    assert "needs a pipeline" in panel.error_label.text() and not panel.error_label.isHidden()
    panel.generator.checkpoint_edit.setText("/models/unclip")
    assert panel.build()["checkpoint"] == "/models/unclip" and panel.error_label.isHidden()


def test_banks_are_listed_with_summaries_and_an_incomplete_one_resumes(
    panel: BankPanel, bridge: FakeInteractive
) -> None:
    request = panel.load_banks()
    assert bridge.requests[-1] == (BANKS_OP, {})
    bridge.answered.emit(request, BANKS)
    table = panel.table
    assert table.rowCount() == 2
    assert [table.item(0, c).text() for c in range(table.columnCount())] == [
        "#3 fmnist k4",
        "fashion-mnist-demo",
        "lantern (steps 10)",
        "4",
        "1,000 / 1,000",
        "complete",
        "0.812",
        "90.0 %",
        "0.210",
    ]
    assert table.item(1, 6).text() == "—" and table.item(1, 4).text() == "200 / 500"
    # The first bank is selected and its first page asked.
    assert panel.current_bank().id == 3 and not panel.resume_button.isEnabled()
    assert bridge.requests[-1] == (BANK_PAGE_OP, {"bank_id": 3, "offset": 0, "count": BANK_ROWS})
    panel.select(4)
    assert panel.resume_button.isEnabled()
    resumed: list[dict[str, Any]] = []
    panel.resume_requested.connect(resumed.append)
    panel.resume_button.click()
    assert resumed == [{"bank_id": 4}]
    panel.set_building(True)  # a bank job started here runs: no second one
    assert not panel.resume_button.isEnabled()
    panel.set_building(False)
    bridge.answered.emit(panel.load_banks(), BANKS)
    assert panel.current_bank().id == 4  # the choice survives a new listing
    with pytest.raises(LanternError, match="not understood"):
        parse_banks({"banks": [{"id": 1, "k": "many"}]})


def test_the_browser_shows_each_source_with_its_k_views(panel: BankPanel, bridge: FakeInteractive) -> None:
    bridge.answered.emit(panel.load_banks(), BANKS)
    request, args = bridge.last(BANK_PAGE_OP)
    bridge.answered.emit(request, bank_page(BANK_ROWS, 4, total=1000))
    rows = panel.rows
    assert rows.columns == 5 and len(rows.tiles) == BANK_ROWS * 5
    first_row = rows.tiles[:5]
    assert first_row[0].highlighted and first_row[0].caption == "#0 T-shirt/top"
    assert [t.caption for t in first_row[1:]] == ["0.50", "0.60", "0.70", "0.80"]
    assert [t.kept for t in first_row[1:]] == [True, False, True, True]
    assert "sources 1–6 of 1,000" in panel.page_label.text()
    assert not panel.back_button.isEnabled() and panel.next_button.isEnabled()
    panel.next_button.click()
    request, args = bridge.last(BANK_PAGE_OP)
    assert args == {"bank_id": 3, "offset": BANK_ROWS, "count": BANK_ROWS}
    bad = bank_page(2, 3, total=1000)
    bad["similarity"] = [[0.5, 0.6]]
    errors: list[Any] = []
    panel.failed.connect(errors.append)
    bridge.answered.emit(request, bad)
    assert "the engine and the GUI disagree" in panel.page_label.text() and errors
    panel.load_page(BANK_ROWS)
    bridge.failed.emit(bridge.last(BANK_PAGE_OP)[0], LanternError("bank 3 has no shards", "bank", "rebuild"))
    assert panel.page_label.text() == "bank 3 has no shards (rebuild)"


def test_a_bank_being_built_pages_only_its_written_rows(panel: BankPanel, bridge: FakeInteractive) -> None:
    bridge.answered.emit(
        panel.load_banks(), {"banks": [{**BANKS["banks"][1], "done": None, "progress": {"images_done": 8}}]}
    )
    assert panel.current_bank().done == 8 and panel.resume_button.isEnabled()
    answer = bank_page(BANK_ROWS, 3, total=500)
    answer.update(sources=None, sources_error="the folder is gone", written=8, index=list(range(100, 106)))
    bridge.answered.emit(bridge.last(BANK_PAGE_OP)[0], answer)
    assert panel.rows.tiles[0].image is None and panel.rows.tiles[0].caption == "#100 T-shirt/top"
    assert (
        "(8 written)" in panel.page_label.text()
        and "sources not shown: the folder is gone" in panel.page_label.text()
    )
    assert panel.next_button.isEnabled()
    panel.next_button.click()
    second = bank_page(2, 3, total=500)
    second["written"] = 8
    bridge.answered.emit(bridge.last(BANK_PAGE_OP)[0], second)
    assert (
        len(panel.rows.tiles) == 2 * 4 and not panel.next_button.isEnabled() and panel.back_button.isEnabled()
    )
