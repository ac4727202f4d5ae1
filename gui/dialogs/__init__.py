"""Dialogs opened from the pages: each collects one thing (a job spec, settings) and validates it."""
