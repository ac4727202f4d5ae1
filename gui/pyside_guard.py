"""A guard against PySide6 6.12's reference-count bug on CPython 3.11 (see protect_singletons)."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

_SINGLETON_GUARD = 1 << 40
_singletons_protected = False


def protect_singletons() -> None:
    """Keep PySide6 6.12 from crashing CPython 3.11 by making None, True and False immortal, as 3.12 does.

    PySide6/shiboken 6.12.0 hands back None (every void method called from Python) and True (every
    Signal.emit/connect) without a new reference. On CPython >= 3.12 those objects are immortal (PEP 683)
    and nothing happens; on 3.11 each call lowers their reference count by one, and after a few thousand
    calls (a few minutes of job progress) the interpreter aborts with "none_dealloc"/"bool_dealloc".
    A reference count no session can use up gives 3.11 the same immortality. Idempotent; no-op on 3.12+.
    """
    global _singletons_protected
    if _singletons_protected or sys.version_info >= (3, 12):
        return
    import ctypes

    for singleton in (None, True, False):
        before = sys.getrefcount(singleton)
        # ob_refcnt is the first field of every object in a release build of CPython.
        count = ctypes.c_ssize_t.from_address(id(singleton))
        count.value += _SINGLETON_GUARD
        # Other code holds and drops references to None meanwhile, so allow a small drift.
        if abs(sys.getrefcount(singleton) - before - _SINGLETON_GUARD) > 10_000:
            count.value -= _SINGLETON_GUARD  # an unusual object layout (debug build): leave it alone
            log.warning("could not protect %r from PySide6's reference-count bug", singleton)
    _singletons_protected = True
