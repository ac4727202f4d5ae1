"""Screenshots of the Augment page on views the real engine makes and experiments it stored, for the README
and the issue's closing note.

    LANTERN_HOME=/path QT_QPA_PLATFORM=offscreen .venv/bin/python docs/augment_screenshots.py \\
        [--dataset fashion-mnist-demo] [--index N] [--generator lantern] [--checkpoint bundled] \\
        [--count 13] [--seed 0] [--experiment JOB_ID] [--out docs]

Every view, similarity and label comes from the interactive engine process answering "augment.views" and
"augment.classic" (the ops the page calls when you press Generate); the experiment's table, bars and loss
curves are the store's ssl runs as the page reads them. Nothing here is made up. Writes augment-views.png
(the generated views of one image streamed into the grid beside classic augmentations), augment-bank.png
(the newest bank's first page, when the store holds a bank) and augment-experiment.png (the chosen or newest
ssl.experiment with finished runs; skipped when there is none).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from screenshot_support import close_page, grab, open_page, wait_for  # noqa: E402

from gui.app import shutdown  # noqa: E402
from gui.pages.augment import AugmentPage  # noqa: E402
from gui.widgets.augment_experiment import list_experiments, load_experiment_runs  # noqa: E402

PAGE_SIZE = QSize(1400, 900)
TIMEOUT_S = 300.0  # the first view loads the generator and the judge


def views_shot(app: QApplication, page: AugmentPage, args: argparse.Namespace) -> None:
    views = page.views
    page.show_tab("Views")

    def problem() -> str:
        return "" if views.error_label.isHidden() else views.error_label.text()

    wait_for(
        app,
        lambda: views.generator.box.count() > 0 and views.dataset_box.count() > 0,
        "listing",
        problem,
        timeout_s=TIMEOUT_S,
    )
    index = views.dataset_box.findData(args.dataset)
    if index < 0:
        offered = [views.dataset_box.itemData(i) for i in range(views.dataset_box.count())]
        raise SystemExit(f"the dataset {args.dataset} is not offered (the engine lists {offered})")
    views.dataset_box.setCurrentIndex(index)
    wait_for(app, lambda: views.picker.source is not None, "augment.images", problem, timeout_s=TIMEOUT_S)
    page_start = (args.index // 40) * 40
    if views.picker.source is not None and views.picker.source.offset != page_start:
        views.load_images(page_start)
        wait_for(
            app,
            lambda: views.picker.source is not None and views.picker.source.offset == page_start,
            "augment.images",
            problem,
            timeout_s=TIMEOUT_S,
        )
    views.picker.pick(args.index)
    if not views.generator.choose(args.generator):
        raise SystemExit(f"the generator {args.generator} is not offered")
    if args.checkpoint is not None:
        views.generator.checkpoint_edit.setText(args.checkpoint)
    views.seed_spin.setValue(args.seed)
    views.count_spin.setValue(args.count)
    started = time.monotonic()
    if views.generate() is None:
        raise SystemExit(f"Generate did not start: {problem() or views.status_label.text()}")
    wait_for(app, lambda: not views.streaming(), "augment.views", problem, timeout_s=TIMEOUT_S)
    wait_for(app, lambda: len(views.classic_grid.tiles) > 1, "augment.classic", problem, timeout_s=TIMEOUT_S)
    seconds = time.monotonic() - started
    print(
        f"{len(views.results)} views of #{args.index} by {args.generator} in {seconds:.1f} s: "
        f"{views.summary.text()}; {views.classic_summary.text('classic')}"
    )
    grab(app, page, args.out / "augment-views.png")


def bank_shot(app: QApplication, page: AugmentPage, args: argparse.Namespace) -> None:
    bank = page.bank
    page.show_tab("Bank")
    wait_for(
        app,
        lambda: not bank.waiting(),
        "augment.banks (listed when the tab first showed)",
        timeout_s=TIMEOUT_S,
    )
    bank.load_banks()
    wait_for(app, lambda: not bank.waiting(), "augment.banks and the first bank's page", timeout_s=TIMEOUT_S)
    if not bank.banks:
        print("no bank in the store: augment-bank.png not written")
        return
    if bank.page is None:
        print(f"the bank could not be read: {bank.page_label.text()}; augment-bank.png not written")
        return
    print(f"bank: {bank.current_bank().name if bank.current_bank() else '?'} · {bank.page_label.text()}")
    grab(app, page, args.out / "augment-bank.png")


def experiment_shot(app: QApplication, page: AugmentPage, args: argparse.Namespace) -> None:
    store = page.services.store
    entries = list_experiments(store)
    chosen = args.experiment
    if chosen is None:
        with_results = [
            e for e in entries if any(r.linear is not None for r in load_experiment_runs(store, e.job_id))
        ]
        if not with_results:
            print("no ssl.experiment with finished runs in the store: augment-experiment.png not written")
            return
        chosen = with_results[0].job_id
    elif all(e.job_id != chosen for e in entries):
        raise SystemExit(f"job #{chosen} is not an ssl.experiment of this store")
    page.show_tab("Experiment")
    page.refresh_experiments(select=chosen)
    experiment = page.experiment
    entry = experiment.entry()
    config = (entry.spec.get("config") or {}) if entry is not None else {}
    form = experiment.form
    # The form beside the results describes them, not the form's defaults.
    with contextlib.suppress(TypeError, ValueError, KeyError):
        form.name_edit.setText(entry.name if entry is not None else "")
        if "methods" in config:
            for name, check in form.method_checks.items():
                check.setChecked(name in config["methods"])
        if "arms" in config:
            form.arms_edit.setText(", ".join(f"{float(p):g}" for p in config["arms"]))
        if "controls" in config:
            for name, check in form.control_checks.items():
                check.setChecked(name in config["controls"])
        if config.get("seeds"):
            form.seeds_spin.setValue(len(config["seeds"]))
        if config.get("draw"):
            form.draw_box.setCurrentIndex(max(0, form.draw_box.findData(config["draw"])))
        if isinstance(config.get("k"), int):
            form.k_spin.setValue(config["k"])
        if "limit" in config:
            form.limit_spin.setValue(int(config["limit"] or 0))
        generator = config.get("generator") or {}
        if generator.get("name") and form.generator.choose(str(generator["name"])):
            form.generator.checkpoint_edit.setText(str(generator.get("checkpoint") or ""))
            form.generator.settings.set_values(dict(generator.get("settings") or {}))
        ssl = config.get("ssl") or {}
        for spin, key in (
            (form.epochs_spin, "epochs"),
            (form.batch_spin, "batch_size"),
            (form.width_spin, "width"),
        ):
            if isinstance(ssl.get(key), int):
                spin.setValue(ssl[key])
        if isinstance(ssl.get("lr"), int | float):
            form.lr_spin.setValue(float(ssl["lr"]))
        if isinstance(config.get("probe_epochs"), int):
            form.probe_spin.setValue(config["probe_epochs"])
    for row in experiment.table.rows:
        mean_std = row.linear_mean_std
        shown = "—" if mean_std is None else f"{100 * mean_std[0]:.1f} ± {100 * mean_std[1]:.1f} %"
        print(f"{row.method} {row.arm}: linear top-1 {shown} over {row.done} of {row.runs} seed(s)")
    grab(app, page, args.out / "augment-experiment.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist-demo")
    parser.add_argument("--index", type=int, default=0, help="the source image (train split)")
    parser.add_argument("--generator", default="lantern")
    parser.add_argument("--checkpoint", help="the generator's checkpoint (default: the one the page offers)")
    parser.add_argument("--count", type=int, default=13, help="views to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--experiment", type=int, help="the ssl.experiment job id (default: the newest)")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    app, services, page = open_page(AugmentPage)
    try:
        page.resize(PAGE_SIZE)
        page.show_tab("Views")
        page.show()
        views_shot(app, page, args)
        bank_shot(app, page, args)
        experiment_shot(app, page, args)
    finally:
        close_page(app, page)
        shutdown(services)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
