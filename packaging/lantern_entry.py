# PyInstaller entry point for the Lantern bundle (built by packaging/lantern.spec).
#
# multiprocessing.freeze_support() must be the very first statement a frozen
# executable runs: torch DataLoader workers and other multiprocessing children
# re-execute this binary, and freeze_support() turns those re-executions into
# worker processes instead of a second copy of the app. That is also why this
# file has comments instead of a module docstring (a docstring would be the
# first statement; tests/packaging checks the order).
#
# gui.launcher:main opens the desktop app when called with no arguments and
# runs the headless engine subcommands when given arguments, so this one script
# backs both the windowed `lantern` and the console `lantern-cli` executables.
import multiprocessing

multiprocessing.freeze_support()

from gui.launcher import main  # noqa: E402

raise SystemExit(main())
