"""Lantern's desktop application (PySide6 + pyqtgraph).

It never imports torch: compute runs in engine processes.
"""
