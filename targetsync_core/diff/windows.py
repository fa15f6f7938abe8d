"""Windows: contiguous primary-key ranges of one table, the unit of parallel work.

Boundaries come from the source keys, ``window_size`` rows each. The first window has no
lower bound and the last no upper bound, so target rows below or above the source's key
range fall in a window and are deleted.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Iterable, Iterator


@dataclass(frozen=True)
class Window:
    """Rows with ``lo <= key < hi`` (``lo < key`` when not ``lo_inclusive``); None is open."""

    table_index: int
    index: int
    lo: tuple | None
    hi: tuple | None
    lo_inclusive: bool = True

    def after(self, key: tuple) -> "Window":
        """The rest of this window past ``key`` (used to resume a half-published window)."""
        return replace(self, lo=key, lo_inclusive=False)


def boundaries(keys: Iterable[tuple], window_size: int) -> list[tuple]:
    """Every ``window_size``-th key of a key-ordered stream, starting with the one at that
    index: the lower bounds of windows 1..n."""
    if window_size < 1:
        raise ValueError("window_size must be at least 1")
    out = []
    for i, key in enumerate(keys):
        if i and i % window_size == 0:
            out.append(tuple(key))
    return out


def windows(table_index: int, bounds: list[tuple]) -> Iterator[Window]:
    """The windows that ``bounds`` cut a table into: len(bounds) + 1 of them."""
    edges = [None, *bounds, None]
    for i in range(len(edges) - 1):
        yield Window(table_index, i, edges[i], edges[i + 1])


class ProbePolicy:
    """When to ask both databases for a window checksum before reading the window (the
    emitter uses a second one for block comparison, where "matched" means "paid").

    A matching checksum (count and hash sum of the window's rows) proves the window
    unchanged without moving its rows; a mismatch wastes the probe, because the window is
    then read anyway. So a table probes every window while they match and, after each
    mismatch, reads the next 1, 2, 4 … up to ``max_gap`` windows without probing: with
    drift everywhere the probes cost a handful of windows' checksums, and a stretch of
    unchanged windows is found again within ``max_gap`` windows. Thread-safe."""

    def __init__(self, max_gap: int = 64):
        self.max_gap = max_gap
        self._gap = 0
        self._skip = 0
        self._lock = threading.Lock()

    def should_probe(self) -> bool:
        with self._lock:
            if self._skip:
                self._skip -= 1
                return False
            return True

    def record(self, matched: bool) -> None:
        with self._lock:
            if matched:
                self._gap = 0
            else:
                self._gap = min(self.max_gap, max(1, 2 * self._gap))
                self._skip = self._gap
