"""Lantern's engine: a Qt-free library that trains, loads and stores models."""

__version__ = "0.1.0"
