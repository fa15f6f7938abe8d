"""Applying change files to Databricks: stage each batch's rows in S3, ``COPY INTO`` a
staging Delta table, then ``DELETE`` and ``MERGE`` into the table; the file's record last.

**Steps of one file** (Delta has no multi-statement transactions: each statement below
commits on its own):

1. take or renew the lease: read the lease row, then a compare-and-swap ``UPDATE … WHERE
   version = <seen>`` that must change exactly one row (Delta's optimistic concurrency
   aborts one of two conflicting writers; either way the loser stops with LeaseHeld);
2. if the file's record exists, stop: it was applied;
3. per batch (one table's records, a chunk of the file): upload its shadow rows (``__op``,
   ``__grp``, the columns; ``sqlapply.shadow_rows``) as JSON lines to
   ``s3://…/targetsync/<run>/<file>/<table>/b<n>.json``; ``TRUNCATE`` the table's staging
   table ``_targetsync.<table>_wkm<hash>``; ``COPY INTO`` it from that object (``force``:
   COPY INTO otherwise skips a file it loaded before, which a replay must load again); then
   the kit's three statements (``sql/statements.py``): DELETE of the ``D`` keys, MERGE of
   the ``I`` rows (update or insert the full row), one MERGE per ``U`` group setting its
   columns (its row count is the rows found; the rest are ``missed``); the lease is renewed
   when a quarter of its time has gone;
4. the record, by one MERGE that inserts ``(run, file)`` only if it is absent and only
   while this loader holds the lease (its source is the lease row filtered by holder);
5. delete the file's staged objects (a session empties the staging tables it used when
   it closes).

**Why it is exactly once in effect.** Only the record makes a file applied
(``applied_files``); a file is applied again until its record exists, and never after.
A loader killed anywhere in steps 1-4 leaves some statements of the file committed and
no record; its next life takes the lease, finds no record and runs every step of the
file again. Each statement is idempotent given the staged rows, and they restage the
same rows (the file is decoded in full first, the same way): the DELETE of keys
already deleted deletes nothing, the MERGE of full ``I`` rows sets rows to the same full
values whether it inserts or updates, a ``U`` MERGE sets the same columns to the same
values; a key changes at most once per table in a file, so no statement of the file
undoes another. The replay therefore ends in the state one uninterrupted apply would
have left, and writes the record; a crash after the record (step 5) leaves staged
objects, which are overwritten or deleted by the next apply of a file of that name, or
are harmless where none comes (nothing reads them). The lease keeps a second loader from
interleaving its statements; one whose lease was taken stops at its next renewal or at
the record, whose MERGE is conditional on the holder.

**What it gives up.** Between a file's first statement and its record, a reader sees the
file part-applied (``capabilities.transactional_apply`` is False); a loader that dies
there leaves it so until it runs again.
"""
from __future__ import annotations

import io
import json
import logging
import time
from typing import Iterable

from targetsync_core import faults
from targetsync_core.adapters.base import Applier, LeaseHolder, TableBatch
from targetsync_core.adapters.databricks.adapter import TABLE_PROPERTIES, quote
from targetsync_core.adapters.databricks.types import STAGED, staged_expr
from targetsync_core.adapters.sql import statements
from targetsync_core.adapters.sql.server import apply_error
from targetsync_core.adapters.sql.sqlapply import _alive, shadow_rows
from targetsync_core.errors import LeaseHeld, SchemaMismatch, TargetSyncError

log = logging.getLogger(__name__)

#: fault points: after a batch's COPY INTO, before its DELETE and MERGEs; after a
#: batch's statements; after the file's record, before the staged objects are deleted
BATCH_STAGED = "databricks.batch_staged"
BATCH_APPLIED = "databricks.batch_applied"
FILE_RECORDED = "databricks.file_recorded"


class DatabricksApplier(Applier):
    """One loader's session (see the module)."""

    def __init__(self, db):
        self.db = db
        self.conn = db.connect()
        self.stage = db.stage()
        self.meta = quote(db.meta_schema)
        self.applied = f"{self.meta}.{quote('applied')}"
        self.lease = f"{self.meta}.{quote('lease')}"
        self.missed: dict[str, int] = {}
        self._shadows: dict[str, tuple[statements.Shadowed, list[str]]] = {}
        self._statements: dict[tuple, str] = {}
        self._claimed_at = 0.0
        self._version: int | None = None   # the lease row's version as this loader last set it
        self._batch = None
        self.create_metadata()

    # -- statements ------------------------------------------------------------------------
    def sql(self, text: str, params=()):
        cur = self.conn.cursor()
        try:
            cur.execute(text, list(params)) if params else cur.execute(text)
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            if isinstance(exc, TargetSyncError) or not self.db.driver_error(exc):
                raise
            if "Concurrent" in str(exc) and self._batch is None:
                raise LeaseHeld(f"another loader wrote the apply lease on {self.db.where()} at the same time; "
                                "refusing to run a second") from None
            raise apply_error(self.db, exc, self._batch, type(exc)) from None
        return cur

    @staticmethod
    def affected(cur) -> int:
        """Rows a DML statement changed: Databricks returns them as a result row
        (``num_affected_rows`` first); a driver's rowcount otherwise."""
        if cur.description:
            row = cur.fetchone()
            if row is not None and row[0] is not None:
                return int(row[0])
        return max(cur.rowcount, 0)

    def create_metadata(self) -> None:
        self.sql(f"CREATE SCHEMA IF NOT EXISTS {self.meta}")
        self.sql(f"CREATE TABLE IF NOT EXISTS {self.applied} (run_id STRING NOT NULL, file_no BIGINT NOT NULL, "
                 "records BIGINT NOT NULL, applied_at DOUBLE NOT NULL, "
                 "CONSTRAINT ts_applied_pk PRIMARY KEY (run_id, file_no))")
        self.sql(f"CREATE TABLE IF NOT EXISTS {self.lease} (name STRING NOT NULL, holder STRING NOT NULL, "
                 "host STRING NOT NULL, pid BIGINT NOT NULL, expires_at DOUBLE NOT NULL, version BIGINT NOT NULL, "
                 "CONSTRAINT ts_lease_pk PRIMARY KEY (name))")
        try:
            self.sql(f"MERGE INTO {self.lease} AS l USING (SELECT 'loader' AS name) AS s ON l.name = s.name "
                     "WHEN NOT MATCHED THEN INSERT (name, holder, host, pid, expires_at, version) "
                     "VALUES ('loader', '', '', 0, 0, 0)")
        except TargetSyncError:   # a concurrent loader made the row first: fine if it exists
            if not self.sql(f"SELECT 1 FROM {self.lease} WHERE name = 'loader'").fetchone():
                raise

    # -- the lease -------------------------------------------------------------------------
    def _claim(self, holder: LeaseHolder, ttl: float) -> None:
        row = self.sql(f"SELECT holder, host, pid, expires_at, version FROM {self.lease} "
                       "WHERE name = 'loader'").fetchone()
        now = time.time()
        if row[0] and row[0] != holder.id and row[3] > now and _alive(row[1], row[2], holder.host):
            raise LeaseHeld(f"another loader (pid {row[2]} on {row[1]}) holds the apply lease on this target "
                            f"until {time.strftime('%H:%M:%S', time.localtime(row[3]))}; refusing to run a second")
        if self._version is not None and row[4] != self._version:
            raise LeaseHeld(f"the apply lease on this target was taken by another loader (pid {row[2]} on "
                            f"{row[1]}) since this one last held it; stopping")
        changed = self.affected(self.sql(
            f"UPDATE {self.lease} SET holder = ?, host = ?, pid = ?, expires_at = ?, version = version + 1 "
            "WHERE name = 'loader' AND version = ?", (holder.id, holder.host, holder.pid, now + ttl, row[4])))
        if changed != 1:
            raise LeaseHeld("another loader took the apply lease on this target meanwhile; refusing to run a second")
        self._claimed_at, self._version = now, row[4] + 1

    def _renew(self, holder: LeaseHolder, ttl: float) -> None:
        if time.time() - self._claimed_at > ttl / 4:
            self._claim(holder, ttl)

    def acquire_lease(self, holder: LeaseHolder, ttl: float) -> None:
        self._claim(holder, ttl)

    def release_lease(self, holder: LeaseHolder) -> None:
        self.sql(f"UPDATE {self.lease} SET holder = '', expires_at = 0, version = version + 1 "
                 "WHERE name = 'loader' AND holder = ?", (holder.id,))
        self._version = None

    # -- the record ------------------------------------------------------------------------
    def applied_files(self, run_id: str) -> set[int]:
        return {int(r[0]) for r in self.sql(f"SELECT file_no FROM {self.applied} WHERE run_id = ?",
                                            (run_id,)).fetchall()}

    def _recorded(self, run_id: str, file_no: int) -> bool:
        return bool(self.sql(f"SELECT 1 FROM {self.applied} WHERE run_id = ? AND file_no = ?",
                             (run_id, file_no)).fetchone())

    def _record(self, run_id: str, file_no: int, records: int, holder: LeaseHolder) -> None:
        """The record, inserted only while ``holder`` holds the lease and only once."""
        changed = self.affected(self.sql(
            f"MERGE INTO {self.applied} AS a USING (SELECT CAST(? AS STRING) AS run_id, CAST(? AS BIGINT) AS file_no, "
            f"CAST(? AS BIGINT) AS records, CAST(? AS DOUBLE) AS applied_at FROM {self.lease} "
            "WHERE name = 'loader' AND holder = ?) AS r ON a.run_id = r.run_id AND a.file_no = r.file_no "
            "WHEN NOT MATCHED THEN INSERT (run_id, file_no, records, applied_at) "
            "VALUES (r.run_id, r.file_no, r.records, r.applied_at)",
            (run_id, file_no, records, time.time(), holder.id)))
        if changed != 1 and not self._recorded(run_id, file_no):
            raise LeaseHeld("the apply lease on this target was taken by another loader before this file's record; "
                            "stopping (the file is applied again by whoever holds it)")

    # -- applying --------------------------------------------------------------------------
    def apply_file(self, run_id: str, file_no: int, batches: Iterable[TableBatch],
                   holder: LeaseHolder, ttl: float) -> None:
        self.missed = {}
        batches = [b for b in batches if b.records]   # decoded in full: a bad file applies nothing
        self._claim(holder, ttl)
        if self._recorded(run_id, file_no):   # applied; its objects too, if a crash left them
            self._clean(run_id, file_no)
            return
        records = 0
        for n, batch in enumerate(batches):
            self._batch = batch
            try:
                self.apply_batch(run_id, file_no, n, batch)
            finally:
                self._batch = None
            faults.point(BATCH_APPLIED)
            records += batch.records
            self._renew(holder, ttl)
        self._record(run_id, file_no, records, holder)
        faults.point(FILE_RECORDED)
        self._clean(run_id, file_no)

    def _clean(self, run_id: str, file_no: int) -> None:
        """Delete the file's staged objects; a failure leaves harmless leftovers."""
        try:
            self.stage.delete(self.stage.file_prefix(run_id, file_no))
        except TargetSyncError as exc:
            log.warning("%s", exc)

    def shadow(self, batch: TableBatch) -> tuple[statements.Shadowed, list[str]]:
        """The table's staging Delta table (made or remade once a session, in the live
        table's column types) and those types."""
        t = batch.table
        found = self._shadows.get(t.qualified)
        if found is None:
            live = self.db.shape(t.schema, t.name)
            if live is None:
                raise SchemaMismatch(f"table {t.qualified} does not exist on {self.db.where()}")
            types = {c.name.lower(): c.native for c in live.columns}
            natives = [types[c.name.lower()] for c in t.columns]
            s = statements.Shadowed((t.schema, t.name), self.db.shadow_name(t), tuple(t.primary_key),
                                    tuple(c.name for c in t.columns), self.db.meta_schema)
            cols = ", ".join(f"{quote(c.name)} {n}" for c, n in zip(t.columns, natives))
            self.sql(f"CREATE OR REPLACE TABLE {self.db.shadow_ref(s)} (`__op` STRING, `__grp` INT, {cols}) "
                     f"{TABLE_PROPERTIES}")
            found = self._shadows[t.qualified] = (s, natives)
        return found

    def statement(self, kind: str, s: statements.Shadowed, *args) -> str:
        key = (kind, s.table, *args)
        if key not in self._statements:
            make = {"delete": statements.delete_sql, "upsert": statements.upsert_sql,
                    "update": statements.update_sql}[kind]
            self._statements[key] = make(s, self.db.dialect, *args)
        return self._statements[key]

    def copy_sql(self, s: statements.Shadowed, natives: list[str], folder_uri: str, name: str) -> str:
        """``COPY INTO`` the staging table from one staged object: every staged value a
        string (``primitivesAsString``), cast to its column's type."""
        exprs = ["CAST(c0 AS STRING) AS `__op`", "CAST(c1 AS INT) AS `__grp`"]
        exprs += [f"{staged_expr(f'c{i + 2}', n)} AS {quote(c)}" for i, (c, n) in enumerate(zip(s.columns, natives))]
        return (f"COPY INTO {self.db.shadow_ref(s)} FROM (SELECT {', '.join(exprs)} FROM '{folder_uri}') "
                f"FILEFORMAT = JSON FILES = ('{name}') "
                "FORMAT_OPTIONS ('primitivesAsString' = 'true', 'mode' = 'FAILFAST') COPY_OPTIONS ('force' = 'true')")

    def apply_batch(self, run_id: str, file_no: int, n: int, batch: TableBatch) -> None:
        t = batch.table
        s, natives = self.shadow(batch)
        folder = self.stage.prefix_for(run_id, file_no, t.qualified)
        name = f"b{n:05d}.json"
        self.stage.put(folder + name, staged_lines(batch))
        self.sql(f"TRUNCATE TABLE {self.db.shadow_ref(s)}")
        self.sql(self.copy_sql(s, natives, self.stage.uri(folder), name))
        faults.point(BATCH_STAGED)
        if batch.count("D"):
            self.sql(self.statement("delete", s))
        if batch.count("I"):
            self.sql(self.statement("upsert", s))
        updated = 0
        for grp, offsets in enumerate(batch.updates):
            cols = tuple(t.columns[o].name for o in offsets)
            updated += self.affected(self.sql(self.statement("update", s, grp, cols)))
        short = batch.count("U") - updated
        if short > 0:
            self.missed[t.qualified] = self.missed.get(t.qualified, 0) + short

    def close(self) -> None:
        """Empty the staging tables this session used (their rows are copies of the
        data), then let go; a failure here must not hide the error that ended the session."""
        try:
            for s, _ in self._shadows.values():
                self.sql(f"TRUNCATE TABLE {self.db.shadow_ref(s)}")
        except Exception:  # noqa: BLE001 - emptied again before their next load anyway
            pass
        self.stage.close()
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001
            pass


def staged_lines(batch: TableBatch) -> bytes:
    """The batch's shadow rows as JSON lines ``{"c0": op, "c1": group, "c2": …}``, every
    value a JSON string (or null) in the text ``types.STAGED`` gives it."""
    render = [STAGED[c.kind] for c in batch.table.columns]
    out = io.StringIO()
    for op, grp, *values in shadow_rows(batch):
        doc = {"c0": op, "c1": None if grp is None else str(grp)}
        for i, (f, v) in enumerate(zip(render, values)):
            doc[f"c{i + 2}"] = None if v is None else f(v)
        out.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
    return out.getvalue().encode("utf-8")
