"""The pure sort-merge diff of two primary-key-ordered row streams."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import filterfalse
from operator import itemgetter
from typing import Iterable, Iterator

from targetsync_core.codec.ckt import DELETE, INSERT, UPDATE, Change
from targetsync_core.diff.compare import RowComparer
from targetsync_core.errors import OrderError
from targetsync_core.model.schema import Table


@dataclass
class Counts:
    """Mutable tallies of one diff; the merge updates them as it goes."""

    source_rows: int = 0
    target_rows: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0

    def add(self, other: "Counts") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def changes(self) -> int:
        return self.inserts + self.updates + self.deletes


def _key_getter(table: Table):
    pos = table.key_positions
    if len(pos) == 1:
        p = pos[0]
        return lambda row: (row[p],)
    return itemgetter(*pos)


def _ordered(rows: Iterable[tuple], key, side: str, table: str, counts: Counts, attr: str):
    """Yield (key, row), refusing a stream whose keys do not strictly ascend: a database
    that sorted by another collation than the diff's would otherwise yield wrong changes."""
    last = None
    n = 0
    try:
        for row in rows:
            k = key(row)
            if last is not None and not last < k:
                raise OrderError(f"{side} table {table} returned key {k!r} after {last!r}; "
                                 "keys must ascend in binary order")
            last = k
            n += 1
            yield k, row
    finally:
        setattr(counts, attr, getattr(counts, attr) + n)


def diff_rows(table: Table, source: Iterable[tuple], target: Iterable[tuple],
              comparer: RowComparer, counts: Counts | None = None,
              name: str | None = None) -> Iterator[Change]:
    """Yield the I/U/D changes that make ``target`` equal to ``source``.

    Both iterables yield full rows in ``.skt`` column order, sorted by primary key
    ascending (tuples compare in code-point order for strings). Changes come out in key
    order; U carries only the changed columns. ``name`` is the table name put in the
    records (the target-side name)."""
    counts = counts if counts is not None else Counts()
    name = name or table.qualified
    key = _key_getter(table)
    src = _ordered(source, key, "source", table.qualified, counts, "source_rows")
    tgt = _ordered(target, key, "target", table.qualified, counts, "target_rows")
    end = (None, None)
    sk, srow = next(src, end)
    tk, trow = next(tgt, end)
    while srow is not None or trow is not None:
        if trow is None or (srow is not None and sk < tk):
            counts.inserts += 1
            yield Change(INSERT, name, sk, row=srow)
            sk, srow = next(src, end)
        elif srow is None or tk < sk:
            counts.deletes += 1
            yield Change(DELETE, name, tk)
            tk, trow = next(tgt, end)
        else:
            changed = comparer.changed(srow, trow)
            if changed:
                counts.updates += 1
                yield Change(UPDATE, name, sk, changed=tuple(changed))
            sk, srow = next(src, end)
            tk, trow = next(tgt, end)


def split_lines(blob: bytes) -> list[bytes]:
    """The ``\\n``-ended lines of ``blob``, without their newlines."""
    lines = blob.split(b"\n")
    lines.pop()  # the empty text after the last newline (or the whole of an empty blob)
    return lines


def diff_lines(table: Table, source: bytes, target: bytes, parse_source, parse_target,
               comparer: RowComparer, counts: Counts | None = None, name: str | None = None) -> Iterator[Change]:
    """:func:`diff_rows` over two windows rendered as lines (see ``WindowText``), in any
    order: one line a row, and a row's line holds its key, so no line repeats.

    A line both sides hold is one row both hold unchanged, so only the lines one side
    lacks are decoded (``parse_*`` turns lines into rows), sorted by key (Python's
    order, the binary order windows are cut in) and merged. Windows that match byte for
    byte cost one comparison; drift costs in proportion to the rows it touched."""
    counts = counts if counts is not None else Counts()
    if source == target:
        n = source.count(b"\n")
        counts.source_rows += n
        counts.target_rows += n
        return iter(())
    src, tgt_lines = set(split_lines(source)), split_lines(target)
    held = len(src)
    tgt_only = list(filterfalse(src.__contains__, tgt_lines))   # one set, not two: 15% less
    src.difference_update(tgt_lines)
    src_only = list(src)
    common = held - len(src_only)
    counts.source_rows += common
    counts.target_rows += common
    key = _key_getter(table)
    return diff_rows(table, sorted(parse_source(src_only), key=key), sorted(parse_target(tgt_only), key=key),
                     comparer, counts, name)
