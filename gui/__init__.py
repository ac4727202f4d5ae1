"""Lantern's desktop application (PySide6 + pyqtgraph).

It never imports torch: compute runs in engine processes.
"""

from gui.pyside_guard import protect_singletons

# Before any Qt call: PySide6 6.12 on CPython 3.11 under-counts None/True/False and aborts the
# interpreter after a few thousand signal emissions unless they are protected first.
protect_singletons()
