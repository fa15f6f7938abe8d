"""What the cloud targets' apply benchmarks (``bench/apply_*.py``) share: the table they
fill, its rows, and one change file's batches cut as the loader cuts them."""
from __future__ import annotations

import os
import socket
import time
from decimal import Decimal

from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.load.loader import CHUNK_RECORDS
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

ME = LeaseHolder("bench", socket.gethostname(), os.getpid())


def items(schema: str) -> Table:
    return Table(schema, "items", (Column("id", Kind.INT64, False), Column("v", Kind.VARCHAR, length=40),
                                   Column("n", Kind.INT64), Column("f", Kind.FLOAT64),
                                   Column("d", Kind.DECIMAL, precision=18, scale=4)), ("id",))


def row(i: int, tag: str) -> tuple:
    return (i, f"{tag}-{i}", i * 7, i / 3, Decimal(i) / 16)


def change_file(table: Table, changes: int, base: int) -> list[TableBatch]:
    """One file's batches over a table holding the even ids below ``2 * base``: a third
    inserts (new odd ids), a third updates of two columns, a third deletes, at most
    CHUNK_RECORDS records a batch."""
    third = changes // 3
    inserts = [row(2 * base + 2 * i + 1, "new") for i in range(third)]
    updates = [((2 * i,), (f"upd-{i}", -i)) for i in range(third)]
    deletes = [(2 * (base - 1 - i),) for i in range(third)]
    out, step = [], CHUNK_RECORDS // 3
    for s in range(0, third, step):
        out.append(TableBatch(table, inserts[s:s + step], deletes[s:s + step], {(1, 2): updates[s:s + step]}))
    return out


def filled(b, base: int, changes: int) -> tuple:
    """The bench table on backend ``b`` holding the even ids below ``2 * base``, and one
    change file of ``changes`` records over it (see :func:`change_file`)."""
    table = items(b.schema)
    b.create([table])
    for start in range(0, base, 20_000):
        b.insert(table, [row(i * 2, "base") for i in range(start, min(base, start + 20_000))])
    return table, change_file(table, changes, base)


def timed(steps: dict, kind_of, real):
    """``real`` with its time added to ``steps[kind_of(first argument)]``."""
    def call(first, *args, **kwargs):
        t = time.perf_counter()
        try:
            return real(first, *args, **kwargs)
        finally:
            kind = kind_of(first)
            if kind:
                steps[kind] += time.perf_counter() - t
    return call


def applied(b, db, ap, table, batches, base: int, run: int) -> tuple[float, int]:
    """Apply the change file with ``ap`` (its steps already wrapped by :func:`timed`);
    (seconds, records), after checking the table holds ``base`` rows and nothing missed."""
    start = time.perf_counter()
    ap.apply_file(f"bench-{run}", 0, batches, ME, 600)
    took = time.perf_counter() - start
    assert not ap.missed, ap.missed
    rows = len(b.read(table))
    assert rows == base, rows
    ap.close()
    db.close()
    return took, sum(x.records for x in batches)
