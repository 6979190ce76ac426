"""Garbage collection paused while a response body becomes models.

Parsing a page and decoding it allocates tens of thousands of container
objects (a 500-user page: ~21,000 dicts from the parser, as many model
instances, their lists) and frees none of them until the page is dropped.
CPython's cyclic collector runs every 700 net container allocations and,
as the survivors pile up, rescans the older generations over and over:
on that page it cost about as much as the decoding itself. The trees built
here hold no reference cycles, so pausing the collector for the few
milliseconds of one parse and decode loses nothing; it runs again (and
catches up) on the next allocation after.

The collector is global to the process: it is re-enabled only if it was
enabled on entry, so a caller that disabled it keeps it disabled.
"""

from __future__ import annotations

import gc

__all__ = ["gc_paused"]


class gc_paused:  # lower case: reads as the ``with`` statement it is used in
    """``with gc_paused(): ...`` runs the block with automatic collection off."""

    __slots__ = ("_was_enabled",)

    def __enter__(self) -> None:
        self._was_enabled = gc.isenabled()
        if self._was_enabled:
            gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self._was_enabled:
            gc.enable()
