"""The `lantern` entry point: no arguments open the desktop app, any arguments run the headless CLI.

This module must stay light: the GUI path never imports torch, and the CLI is imported only when asked for.
"""

from __future__ import annotations

import multiprocessing
import sys
import time

STARTED_AT = time.time()  # when the entry point began (epoch seconds), for the cold-start benchmark


def main(argv: list[str] | None = None) -> int:
    """`lantern` -> the desktop app; `lantern COMMAND ...` (or `--help`) -> engine.cli."""
    # First thing: in a frozen bundle, spawned engine processes re-run this executable.
    multiprocessing.freeze_support()
    args = sys.argv[1:] if argv is None else list(argv)
    if args:
        from engine.cli import main as cli_main

        return cli_main(args)
    from gui.app import main as app_main

    return app_main()


if __name__ == "__main__":
    raise SystemExit(main())
