"""The pages of the main window; each can be opened alone on demo data with `python -m gui.pages.NAME`."""
