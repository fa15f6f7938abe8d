"""An external sort: ``(key, payload)`` items arriving in any order become one key-ordered
store on disk, read back by key range, while at most ``mem_rows`` items are held in memory.

For sources that cannot return a table in primary-key order (Cassandra): the emitter
projects each row to ``(key, hash)`` or keeps it whole, sorts it here, and diffs windows of
the sorted store against the target as it would any ordered source.

How: items are buffered until ``mem_rows`` are held, then sorted and written as a *run*;
at the end the runs are merged k ways (``heapq.merge``, one block of each run in memory at
a time, and at most :data:`FAN_IN` runs at once: more are first merged into longer runs)
into the store: blocks of :data:`BLOCK` items with an index of each block's first key,
which a window's read bisects. When every item fits in memory no run is written. Keys
compare as Python tuples, which is the diff's binary order. A key arriving twice is refused:
a scan that returned a row twice would otherwise turn into a wrong change.

Files are pickles of plain canonical values written and read by this process only, in a
private temporary directory removed by :meth:`SortedStore.close` (or when the sorter fails).
"""
from __future__ import annotations

import heapq
import os
import pickle
import shutil
import struct
import tempfile
from bisect import bisect_right
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

from targetsync_core.errors import OrderError

#: items per block of a run or of the store (one block of each run is in memory while merging)
BLOCK = 1024
#: runs merged at once; more are merged in rounds, so no more files than this are open
FAN_IN = 64
_LEN = struct.Struct("<I")


def _write_blocks(path: Path, items: Iterable[tuple], on_block=None) -> int:
    """Write ``items`` to ``path`` as length-prefixed pickled blocks; ``on_block(first
    key, offset)`` is told where each block starts. Returns how many items were written."""
    n = 0
    with open(path, "wb") as fh:
        it = iter(items)
        while block := list(islice(it, BLOCK)):
            if on_block is not None:
                on_block(block[0][0], fh.tell())
            data = pickle.dumps(block, protocol=pickle.HIGHEST_PROTOCOL)
            fh.write(_LEN.pack(len(data)))
            fh.write(data)
            n += len(block)
    return n


def _read_blocks(path: Path, offset: int = 0) -> Iterator[list[tuple]]:
    with open(path, "rb") as fh:
        fh.seek(offset)
        while head := fh.read(_LEN.size):
            (size,) = _LEN.unpack(head)
            yield pickle.loads(fh.read(size))


def _items(path: Path) -> Iterator[tuple]:
    for block in _read_blocks(path):
        yield from block


def _key(item: tuple):
    return item[0]


class SortedStore:
    """Items in key order on disk; :meth:`read` streams a key range. Safe to read from many
    threads at once (each read opens the file)."""

    def __init__(self, directory: Path, path: Path | None, index: list[tuple], count: int,
                 bounds: list[tuple], memory: list[tuple] | None = None):
        self.directory, self.path = directory, path
        self._firsts = [k for k, _ in index]
        self._offsets = [o for _, o in index]
        self.count, self.bounds = count, bounds
        self._memory = memory   # everything fitted in memory: no file at all
        #: sorted runs spilled to disk on the way (0: it all fitted in memory)
        self.runs = 0

    def read(self, lo: tuple | None = None, lo_inclusive: bool = True, hi: tuple | None = None) -> Iterator[tuple]:
        """The items whose key ``k`` lies in ``[lo, hi)`` (``(lo, hi)`` when not
        ``lo_inclusive``; None: unbounded), in key order."""
        if self._memory is not None:
            start = 0 if lo is None else _search(self._memory, lo, lo_inclusive)
            items: Iterable[tuple] = islice(self._memory, start, None)
        else:
            if not self._offsets:
                return
            at = 0 if lo is None else max(0, bisect_right(self._firsts, lo) - 1)
            items = (item for block in _read_blocks(self.path, self._offsets[at]) for item in block)
        for item in items:
            k = item[0]
            if lo is not None and (k < lo or (k == lo and not lo_inclusive)):
                continue
            if hi is not None and not k < hi:
                return
            yield item

    def close(self) -> None:
        self._memory = None
        shutil.rmtree(self.directory, ignore_errors=True)


def _search(items: list[tuple], lo: tuple, inclusive: bool) -> int:
    lo_i, hi_i = 0, len(items)
    while lo_i < hi_i:   # the first item at or (not inclusive) after lo
        mid = (lo_i + hi_i) // 2
        k = items[mid][0]
        if k < lo or (not inclusive and k == lo):
            lo_i = mid + 1
        else:
            hi_i = mid
    return lo_i


class ExternalSorter:
    """Sorts ``(key, payload)`` items holding at most ``mem_rows`` of them in memory.

    ``what`` names the items' table in errors; ``every`` makes :meth:`finish` note every
    ``every``-th key in order (the lower bounds of windows 1..n). ``runs`` counts the runs
    spilled and ``peak`` the most items held at once, for tests and benchmarks."""

    def __init__(self, mem_rows: int, what: str, every: int = 0, directory: str | Path | None = None):
        if mem_rows < 1:
            raise ValueError("mem_rows must be at least 1")
        self.mem_rows, self.what, self.every = mem_rows, what, every
        self.dir = Path(tempfile.mkdtemp(prefix="targetsync-sort-", dir=directory))
        self._buffer: list[tuple] = []
        self._runs: list[Path] = []
        self.runs = self.peak = self.added = 0

    def add(self, key: tuple, payload) -> None:
        buf = self._buffer
        buf.append((key, payload))
        if len(buf) >= self.mem_rows:
            self.peak = max(self.peak, len(buf))
            self._spill()

    def extend(self, items: Iterable[tuple]) -> None:
        for key, payload in items:
            self.add(key, payload)

    def _spill(self) -> None:
        self._buffer.sort(key=_key)
        path = self.dir / f"run{len(self._runs)}"
        self.added += _write_blocks(path, self._buffer)
        self._buffer = []
        self._runs.append(path)
        self.runs += 1

    def finish(self) -> SortedStore:
        """The sorted store (the sorter is spent). Raises OrderError on a repeated key."""
        try:
            return self._finish()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self._buffer = []
        shutil.rmtree(self.dir, ignore_errors=True)

    def _finish(self) -> SortedStore:
        self.peak = max(self.peak, len(self._buffer))
        if not self._runs:   # it all fitted: keep it in memory, write nothing
            items = sorted(self._buffer, key=_key)
            self._buffer = []
            bounds: list[tuple] = []
            for _ in self._checked(items, bounds):
                pass
            return SortedStore(self.dir, None, [], len(items), bounds, memory=items)
        if self._buffer:
            self._spill()
        runs = self._runs
        while len(runs) > FAN_IN:   # merge in rounds: never more than FAN_IN open files
            merged = []
            for i in range(0, len(runs), FAN_IN):
                group, path = runs[i:i + FAN_IN], self.dir / f"round{len(merged)}-{len(runs)}"
                _write_blocks(path, heapq.merge(*map(_items, group), key=_key))
                for p in group:
                    p.unlink()
                merged.append(path)
            runs = merged
        index: list[tuple] = []
        bounds: list[tuple] = []
        path = self.dir / "sorted"
        count = _write_blocks(path, self._checked(heapq.merge(*map(_items, runs), key=_key), bounds),
                              lambda k, o: index.append((k, o)))
        for p in runs:
            p.unlink()
        return SortedStore(self.dir, path, index, count, bounds)

    def _checked(self, items: Iterable[tuple], bounds: list[tuple]) -> Iterator[tuple]:
        """``items`` (sorted), refusing a key seen twice and noting every ``every``-th key
        into ``bounds``."""
        last, every, n = None, self.every, 0
        collect = bounds.append
        for item in items:
            k = item[0]
            if last is not None and not last < k:
                raise OrderError(f"source table {self.what} returned key {k!r} twice; a source must "
                                 "return each row once (was it written to while it was read?)")
            last = k
            if every and n and n % every == 0:
                collect(k)
            n += 1
            yield item


def sort_items(items: Iterable[tuple], mem_rows: int, what: str, every: int = 0,
               directory: str | Path | None = None) -> SortedStore:
    """The store of ``items`` sorted with at most ``mem_rows`` in memory."""
    sorter = ExternalSorter(mem_rows, what, every, directory)
    try:
        sorter.extend(items)
    except BaseException:
        sorter.abort()
        raise
    store = sorter.finish()
    store.runs = sorter.runs
    return store


def default_directory() -> str | None:
    """Where spilled runs go: ``TARGETSYNC_SPILL_DIR`` or the system's temporary directory."""
    return os.environ.get("TARGETSYNC_SPILL_DIR") or None
