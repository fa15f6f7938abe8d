"""Windows of a source that cannot read a table in primary-key order (Cassandra:
``Capabilities.ordered_reads`` false), for the emitter.

The first time a table is needed its rows are scanned once, in whatever order the source
gives them (:meth:`Database.scan`), and sorted on disk (``diff.external``):

* **(pk, hash)** (``cassandraPKHashValidation=true``, the default, for a one-column key):
  each row is kept as its key and a 16-byte digest, at most ``cassandraPKHashMemRows``
  of them in memory. A window compares those digests with the target's rows, and fetches
  from the source whole only the rows whose digests differ or that the target lacks
  (``diff.pkhash``): the rows read twice are the drift.
* **whole rows** (a composite key, or the option off): each row is kept whole, at most
  ``cassandraSortMemRows`` in memory, and a window is diffed as any ordered source's.

The sorted table stays on disk until the run ends (a table's second pass over foreign
keys reads it again). A resumed run scans again: windows are cut from the bounds it
recorded, and read from the new scan by key range.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from targetsync_core.adapters.base import Database
from targetsync_core.diff.external import SortedStore, default_directory, sort_items
from targetsync_core.diff.merge import Counts, diff_rows
from targetsync_core.diff.pkhash import diff_hashed, project, row_digest
from targetsync_core.diff.windows import Window

log = logging.getLogger("targetsync.emit")


@dataclass(frozen=True)
class SortSettings:
    """The Cassandra source options of SPEC 4."""

    pk_hash: bool = True
    pk_hash_mem_rows: int = 1_000_000
    sort_mem_rows: int = 1_000_000
    directory: Path | None = None


#: how often a long scan says how far it got
PROGRESS_ROWS = 1_000_000


def _counted(rows, name: str):
    """``rows``, logging every :data:`PROGRESS_ROWS` of them: a scan of a large table runs
    long before its first window is diffed."""
    n = 0
    for row in rows:
        n += 1
        if n % PROGRESS_ROWS == 0:
            log.info("%s: %d source rows scanned", name, n)
        yield row


class _Sorted:
    def __init__(self, store: SortedStore, hashed: bool, digest):
        self.store, self.hashed, self.digest = store, hashed, digest


class SortedReads:
    """The sorted scans of one run's tables, built on first use, one table at a time."""

    def __init__(self, source: Database, settings: SortSettings, window_size: int, threads: int):
        self.source, self.s, self.window_size, self.threads = source, settings, window_size, threads
        self._tables: dict[int, _Sorted] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def _sorted(self, pair) -> _Sorted:
        with self._guard:
            lock = self._locks.setdefault(pair.slot, threading.Lock())
        with lock:
            done = self._tables.get(pair.slot)
            if done is None:
                done = self._tables[pair.slot] = self._build(pair)
            return done

    def _build(self, pair) -> _Sorted:
        table = pair.source
        hashed = self.s.pk_hash and len(table.primary_key) == 1
        where = str(self.s.directory) if self.s.directory else default_directory()
        rows = _counted(self.source.scan(table, self.threads), table.qualified)
        if hashed:
            digest = row_digest(table, pair.target)
            store = sort_items(project(table, rows, digest), self.s.pk_hash_mem_rows, table.qualified,
                               self.window_size, where)
        else:
            digest = None
            keypos = table.key_positions
            store = sort_items(((tuple(r[p] for p in keypos), r) for r in rows), self.s.sort_mem_rows,
                               table.qualified, self.window_size, where)
        log.info("%s: %d source rows scanned and sorted (%s; %s)", table.qualified, store.count,
                 "key and row hash" if hashed else "whole rows",
                 f"{store.runs} runs spilled to disk" if store.runs else "in memory")
        return _Sorted(store, hashed, digest)

    def bounds(self, pair) -> list[tuple]:
        return list(self._sorted(pair).store.bounds)

    def diff(self, pair, window: Window, target: Database, counts: Counts):
        done = self._sorted(pair)
        items = done.store.read(window.lo, window.lo_inclusive, window.hi)
        target_rows = target.read_window(pair.target, window)
        if done.hashed:
            return diff_hashed(pair.source, items, target_rows, done.digest,
                               lambda keys: self.source.fetch(pair.source, keys), pair.comparer, counts,
                               pair.codec.name)
        return diff_rows(pair.source, (row for _, row in items), target_rows, pair.comparer, counts,
                         pair.codec.name)

    def close(self) -> None:
        for done in self._tables.values():
            done.store.close()
        self._tables.clear()
