"""Stages that create objects by the hundred thousand, without the garbage collector.

Python's cyclic garbage collector runs whenever enough new objects have been made, and each
run of an older generation walks every object still alive: at 100,000 photos, the scan's
records alone are millions of objects, walked again and again while a cache is read or a
plan is made. The records hold no reference cycles (they are freed by reference counting
as ever), so these stages pause the collector and give it back as it was.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (as a decorator: for the call), then
    back on if it was on; nested blocks leave it to the outermost."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
