"""Apply bookkeeping shared by every relational target: the applied-file record and the
lease, in two small tables, inside the same transaction as the file's changes.

The lease row always exists (it is created with the tables) so that taking the lease is a
row lock (``SELECT … FOR UPDATE``) followed by an UPDATE on every database, never a
race between two first inserts. Subclasses give the transaction calls, the placeholder
style, the quoting, and :meth:`apply_batch`.
"""
from __future__ import annotations

import abc
import os
import time
from typing import Iterable

from targetsync_core.adapters.base import Applier, LeaseHolder, TableBatch
from targetsync_core.errors import ConnectError, LeaseHeld, TargetSyncError


class SqlApplier(Applier):
    mark = "%s"              # the driver's placeholder
    for_update = " FOR UPDATE"
    #: a table hint that locks the lease row instead (SQL Server has no FOR UPDATE)
    lease_hint = ""

    def __init__(self, conn, applied_table: str, lease_table: str):
        self.conn, self.applied, self.lease = conn, applied_table, lease_table
        self.missed: dict[str, int] = {}

    def count_missed(self, batch: TableBatch, updated: int) -> None:
        """Note the U records of ``batch`` that ``updated`` rows fell short of."""
        short = batch.count("U") - updated
        if short > 0:
            self.missed[batch.table.qualified] = self.missed.get(batch.table.qualified, 0) + short

    # -- what a subclass provides --
    @abc.abstractmethod
    def begin(self) -> None: ...

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    @abc.abstractmethod
    def apply_batch(self, batch: TableBatch) -> None:
        """Apply one table's changes inside the open transaction."""

    def translate(self, exc: Exception, batch: TableBatch | None) -> Exception:
        """Map a driver error to a TargetSyncError naming the table (default: unchanged)."""
        return exc

    def begin_file(self) -> None:
        """Inside a file's transaction, before its first batch (PostgreSQL defers its
        deferrable foreign keys here)."""

    def end_file(self) -> None:
        """Inside a file's transaction, after its last batch and before the record that it
        was applied (the MySQL family checks the foreign keys it did not enforce here)."""

    # -- shared --
    def sql(self, text: str, params=()):
        cur = self.conn.cursor()
        if params:
            cur.execute(text.replace("?", self.mark), params)
        else:  # no parameters: some drivers would otherwise %-format the text
            cur.execute(text)
        return cur

    def create_table(self, name: str, columns: str) -> None:
        """Create table ``name`` unless it exists (``CREATE TABLE IF NOT EXISTS``)."""
        self.sql(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")

    def create_metadata(self) -> None:
        """Create the two tables and the lease row if missing (idempotent)."""
        def tables():
            self.create_table(self.applied, "run_id VARCHAR(64) NOT NULL, file_no BIGINT NOT NULL, "
                              "records BIGINT NOT NULL, applied_at DOUBLE PRECISION NOT NULL, "
                              "PRIMARY KEY (run_id, file_no)")
            self.create_table(self.lease, "name VARCHAR(16) NOT NULL PRIMARY KEY, holder VARCHAR(64) NOT NULL, "
                              "host VARCHAR(255) NOT NULL, pid BIGINT NOT NULL, expires_at DOUBLE PRECISION NOT NULL")

        def lease_row():
            if not self.sql(f"SELECT 1 FROM {self.lease} WHERE name = 'loader'").fetchone():
                self.sql(f"INSERT INTO {self.lease} VALUES ('loader', '', '', 0, 0)")
        self._in_transaction(tables)
        try:
            self._in_transaction(lease_row)
        except ConnectError:
            raise
        except TargetSyncError:  # a concurrent loader inserted the row first: fine
            pass

    def _claim(self, holder: LeaseHolder, ttl: float) -> None:
        """Inside a transaction: take the lease or raise LeaseHeld."""
        row = self.sql(f"SELECT holder, host, pid, expires_at FROM {self.lease}{self.lease_hint} "
                       f"WHERE name = 'loader'{self.for_update}").fetchone()
        if row and row[0] and row[0] != holder.id and row[3] > time.time() and _alive(row[1], row[2], holder.host):
            raise LeaseHeld(f"another loader (pid {row[2]} on {row[1]}) holds the apply lease on this target "
                            f"until {time.strftime('%H:%M:%S', time.localtime(row[3]))}; refusing to run a second")
        self.sql(f"UPDATE {self.lease} SET holder = ?, host = ?, pid = ?, expires_at = ? WHERE name = 'loader'",
                 (holder.id, holder.host, holder.pid, time.time() + ttl))

    def _in_transaction(self, work, batch=lambda: None) -> None:
        """Run ``work`` and commit; on failure roll back (a rollback that fails too, on a
        connection the server dropped, must not hide the first error) and raise the
        error translated into the tool's own (naming ``batch()``'s table, if any)."""
        try:
            self.begin()
            work()
            self.commit()
        except Exception as exc:
            try:
                self.rollback()
            except Exception:  # noqa: BLE001 - the connection is gone; report the cause
                pass
            if isinstance(exc, TargetSyncError):
                raise
            translated = self.translate(exc, batch())
            if translated is exc:
                raise
            raise translated from None

    def acquire_lease(self, holder: LeaseHolder, ttl: float) -> None:
        self._in_transaction(lambda: self._claim(holder, ttl))

    def release_lease(self, holder: LeaseHolder) -> None:
        self._in_transaction(lambda: self.sql(
            f"UPDATE {self.lease} SET holder = '', expires_at = 0 WHERE name = 'loader' AND holder = ?",
            (holder.id,)))

    def applied_files(self, run_id: str) -> set[int]:
        rows = []
        self._in_transaction(lambda: rows.extend(  # a transaction: ends the read some drivers open
            self.sql(f"SELECT file_no FROM {self.applied} WHERE run_id = ?", (run_id,)).fetchall()))
        return {int(r[0]) for r in rows}

    def apply_file(self, run_id: str, file_no: int, batches: Iterable[TableBatch],
                   holder: LeaseHolder, ttl: float) -> None:
        current = None
        self.missed = {}

        def work():
            nonlocal current
            self.missed = {}
            self._claim(holder, ttl)
            if self.sql(f"SELECT 1 FROM {self.applied} WHERE run_id = ? AND file_no = ?",
                        (run_id, file_no)).fetchone():
                return  # applied by an earlier life of this loader: never twice
            records = 0
            self.begin_file()
            for current in batches:   # decoded lazily, a chunk at a time
                self.apply_batch(current)
                records += current.records
            current = None
            self.end_file()
            self.sql(f"INSERT INTO {self.applied} VALUES (?, ?, ?, ?)", (run_id, file_no, records, time.time()))

        self._in_transaction(work, lambda: current)

    def close(self) -> None:
        self.conn.close()


def shadow_rows(batch: TableBatch):
    """(op, group, columns…) for every record of a batch, as loaded into a shadow table;
    the columns a record does not set are NULL (U rows are told apart by their group,
    which names the set of columns they set)."""
    t = batch.table
    n = len(t.columns)
    keypos = t.key_positions

    def keyed(key):
        row = [None] * n
        for p, v in zip(keypos, key):
            row[p] = v
        return row

    for key in batch.deletes:
        yield ("D", None, *keyed(key))
    for full in batch.upserts:
        yield ("I", None, *full)
    for grp, (offsets, items) in enumerate(batch.updates.items()):
        for key, values in items:
            row = keyed(key)
            for p, v in zip(offsets, values):
                row[p] = v
            yield ("U", grp, *row)


def _alive(host: str, pid: int, my_host: str) -> bool:
    """A holder on another host is presumed alive until its lease expires; on this host
    a dead pid frees the lease at once (a crashed loader restarts without waiting)."""
    if host != my_host:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
