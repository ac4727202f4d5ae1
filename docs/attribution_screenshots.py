"""Screenshots of the Attribution page on real experiments, for the README and the issue's closing note.

    LANTERN_HOME=/path/with/experiments QT_QPA_PLATFORM=offscreen \\
        .venv/bin/python docs/attribution_screenshots.py --image-run 1 [--text-run 2] [--sweep-run 5]

Unlike tests/gui/test_attribution_screenshots.py (synthetic scores, to check the layout), every number and
heat map here comes from experiments the engine ran and stored (`lantern attribution run ...`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QSize

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from screenshot_support import grab, open_page  # noqa: E402

from gui.app import shutdown  # noqa: E402
from gui.pages.attribution import AttributionPage  # noqa: E402
from gui.widgets.attribution_designer import DesignRequest  # noqa: E402

PAGE_SIZE = QSize(1320, 920)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-run", type=int, required=True, help="run id of an image experiment")
    parser.add_argument("--text-run", type=int, help="run id of a text experiment")
    parser.add_argument("--sweep-run", type=int, help="run id of an experiment with a sweep")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    app, services, page = open_page(AttributionPage)
    try:
        page.resize(PAGE_SIZE)
        page.show()
        page.show_tab("Designer")
        page.designer.set_design(DesignRequest(manipulation="watermark", classes=(0, 6), r=0.5))
        while page.designer.is_busy() or page.designer.preview is None:
            app.processEvents()
        grab(app, page, args.out / "attribution-designer.png", clear_focus=False)

        page.select_experiment(args.image_run)
        page.show_tab("Leaderboard")
        grab(app, page, args.out / "attribution-leaderboard.png", clear_focus=False)
        page.show_tab("Gallery")
        page.gallery.focus("watermark")
        grab(app, page, args.out / "attribution-gallery.png", clear_focus=False)
        page.show_tab("Experiments")
        grab(app, page, args.out / "attribution-experiments.png", clear_focus=False)
        if args.sweep_run is not None:
            page.select_experiment(args.sweep_run)
            page.show_tab("Leaderboard")
            page.figure_tabs.setCurrentIndex(page.sweep_tab)
            grab(app, page, args.out / "attribution-sweep.png", clear_focus=False)
        if args.text_run is not None:
            page.select_experiment(args.text_run)
            page.show_tab("Gallery")
            grab(app, page, args.out / "attribution-text-gallery.png", clear_focus=False)
    finally:
        shutdown(services, [page])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
