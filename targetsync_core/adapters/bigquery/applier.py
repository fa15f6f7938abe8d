"""Applying change files to BigQuery: load jobs into staging tables, then one script.

**Bookkeeping**, in the DSN's dataset: ``_targetsync_applied`` (one row per applied file:
run_id, file_no, records, applied_at) and ``_targetsync_lease`` (one row, ``name =
'loader'``: holder, host, pid, expires_at), made by ``CREATE TABLE IF NOT EXISTS … AS
SELECT`` (the lease table with its one row, so two loaders starting at once cannot make
two rows: BigQuery has no unique key).

**A file.** Its batches (decoded a chunk at a time) are written, per table, to a
temporary NDJSON file; each table's is then loaded by one load job (``WRITE_TRUNCATE``)
into staging table ``<table>_wkm<n>`` (``n``: the table's place in the file) in the
table's dataset, made once per applier with the live table's column types (a table of
that name that is no staging table is refused, never replaced) and dropped when the
applier closes. A file holds a key once per table, so one staging table per table
serves all its batches, update groups numbered per file. Then the whole file is one
script, one job::

    BEGIN TRANSACTION;
    IF NOT EXISTS (lease row held by this loader) THEN SELECT ERROR('… lease …'); END IF;
    UPDATE lease SET expires_at = … WHERE holder = this loader;
    IF NOT EXISTS (SELECT 1 FROM applied WHERE run_id = … AND file_no = …) THEN
      per batch: DELETE …; MERGE … (upsert); SET found = (U rows whose key the table holds);
                 MERGE … (one per update group);
      INSERT INTO applied VALUES (…);
    END IF;
    COMMIT TRANSACTION;
    SELECT found…;

**Why exactly once.** The file's changes and its record commit in one transaction, or
neither does (a failing statement, ``ERROR()`` included, rolls the transaction back).
The record's absence is checked inside that transaction, so a replay finds the record
and changes nothing. Two transactions applying the same file at once both write the
``applied`` table (and the lease row): BigQuery aborts the one that commits second
(concurrent transactions mutating one table conflict), and the file is applied once.
The lease is taken by a compare-and-swap UPDATE (``WHERE holder = <as read> AND
expires_at = <as read>``) whose affected-row count says whether it won; a concurrent
claim either conflicts (the job fails: the lease is read again) or finds the row changed.
"""
from __future__ import annotations

import json
import tempfile
import time
from typing import TYPE_CHECKING, Iterable

from targetsync_core.adapters.base import Applier, LeaseHolder, TableBatch
from targetsync_core.adapters.bigquery import types as T
from targetsync_core.adapters.bigquery.adapter import _string, quote
from targetsync_core.adapters.sql import statements
from targetsync_core.adapters.sql.sqlapply import _alive, shadow_rows
from targetsync_core.errors import DataError, LeaseHeld, SchemaMismatch
from targetsync_core.model.schema import Table
from targetsync_core.model.types import Kind

if TYPE_CHECKING:
    from targetsync_core.adapters.bigquery.adapter import BigQueryDatabase

APPLIED, LEASE = "_targetsync_applied", "_targetsync_lease"
LEASE_LOST = "targetsync: this loader no longer holds the apply lease"


class BigQueryApplier(Applier):
    def __init__(self, db: "BigQueryDatabase"):
        self.db = db
        self.missed: dict[str, int] = {}
        self.applied = f"{quote(db.dataset)}.{quote(APPLIED)}"
        self.lease = f"{quote(db.dataset)}.{quote(LEASE)}"
        self._staged: dict[tuple[str, str], str] = {}   # (dataset, staging name) → its column types
        self._made_meta = False

    # -- bookkeeping ---------------------------------------------------------------------
    def _meta(self) -> None:
        if self._made_meta:
            return
        self.db.query(f"CREATE TABLE IF NOT EXISTS {self.applied} (run_id STRING NOT NULL, file_no INT64 NOT NULL, "
                      "records INT64 NOT NULL, applied_at FLOAT64 NOT NULL)", what="creating the applied-file record")
        self.db.query(f"CREATE TABLE IF NOT EXISTS {self.lease} AS SELECT 'loader' AS name, '' AS holder, "
                      "'' AS host, 0 AS pid, 0.0 AS expires_at", what="creating the apply lease")
        self._made_meta = True

    def acquire_lease(self, holder: LeaseHolder, ttl: float) -> None:
        self._meta()
        for _ in range(3):
            rows = list(self.db.query(f"SELECT holder, host, pid, expires_at FROM {self.lease} "
                                      "WHERE name = 'loader'", what="reading the apply lease").result())
            row = tuple(rows[0].values()) if rows else ("", "", 0, 0.0)
            if row[0] and row[0] != holder.id and row[3] > time.time() and _alive(row[1], row[2], holder.host):
                raise LeaseHeld(f"another loader (pid {row[2]} on {row[1]}) holds the apply lease on this target "
                                f"until {time.strftime('%H:%M:%S', time.localtime(row[3]))}; refusing to run a second")
            try:
                job = self.db.query(
                    f"UPDATE {self.lease} SET holder = {_string(holder.id)}, host = {_string(holder.host)}, "
                    f"pid = {int(holder.pid)}, expires_at = {time.time() + ttl!r} WHERE name = 'loader' "
                    f"AND holder = {_string(row[0])} AND expires_at = {float(row[3])!r}", what="taking the apply lease")
            except DataError:   # a concurrent claim: the table changed under this one; read it again
                continue
            if job.num_dml_affected_rows:
                return
        raise LeaseHeld("the apply lease on this target changed hands three times while this loader took it; "
                        "another loader is starting: run one at a time")

    def release_lease(self, holder: LeaseHolder) -> None:
        self.db.query(f"UPDATE {self.lease} SET holder = '', expires_at = 0 WHERE name = 'loader' "
                      f"AND holder = {_string(holder.id)}", what="releasing the apply lease")

    def applied_files(self, run_id: str) -> set[int]:
        self._meta()
        job = self.db.query(f"SELECT file_no FROM {self.applied} WHERE run_id = {_string(run_id)}",
                            what="reading applied files")
        return {int(r[0]) for r in job.result()}

    # -- a file ----------------------------------------------------------------------------
    def apply_file(self, run_id: str, file_no: int, batches: Iterable[TableBatch],
                   holder: LeaseHolder, ttl: float) -> None:
        self.missed = {}
        spools: dict[str, _Spool] = {}
        records = 0
        try:
            for batch in batches:   # decoded lazily: each written to its table's spool as it comes
                records += batch.records
                if batch.records:
                    spool = spools.get(batch.table.qualified)
                    if spool is None:
                        spool = spools[batch.table.qualified] = _Spool(batch.table)
                    spool.add(batch)
            body, found = [], []
            for n, spool in enumerate(spools.values()):
                s = self._stage(spool, n)
                body += self._statements(spool, s, f"ts_found{n}")
                if spool.counts["U"]:
                    found.append((f"ts_found{n}", spool))
        finally:
            for spool in spools.values():
                spool.file.close()
        lease_check = (f"IF NOT EXISTS (SELECT 1 FROM {self.lease} WHERE name = 'loader' AND holder = "
                       f"{_string(holder.id)}) THEN\n  SELECT ERROR({_string(LEASE_LOST)});\nEND IF;\n")
        script = ("".join(f"DECLARE {v} INT64 DEFAULT 0;\n" for v, _ in found) + "DECLARE ts_new BOOL DEFAULT FALSE;\n"
                  + "BEGIN TRANSACTION;\n" + lease_check
                  + f"UPDATE {self.lease} SET expires_at = {time.time() + ttl!r} WHERE name = 'loader' AND holder = "
                    f"{_string(holder.id)};\n"
                  + f"IF NOT EXISTS (SELECT 1 FROM {self.applied} WHERE run_id = {_string(run_id)} AND file_no = "
                    f"{int(file_no)}) THEN\n  SET ts_new = TRUE;\n"
                  + "".join(f"  {s};\n" for s in body)
                  + f"  INSERT INTO {self.applied} (run_id, file_no, records, applied_at) VALUES ({_string(run_id)}, "
                    f"{int(file_no)}, {records}, {time.time()!r});\n"
                  + "END IF;\nCOMMIT TRANSACTION;\n"
                  + f"SELECT {', '.join(['ts_new', *(v for v, _ in found)])};\n")
        try:
            job = self.db.query(script, what=f"applying change file {file_no}")
        except DataError as exc:
            if LEASE_LOST in str(exc):
                raise LeaseHeld(f"{LEASE_LOST} (it expired and another loader took it); nothing of change file "
                                f"{file_no} was applied") from None
            raise
        new, *row = tuple(next(iter(job.result())).values())
        if new:   # else applied by an earlier life of this loader: nothing now, nothing missed
            for (_, spool), got in zip(found, row):
                short = spool.counts["U"] - int(got)
                if short > 0:
                    name = spool.table.qualified
                    self.missed[name] = self.missed.get(name, 0) + short

    def _statements(self, spool: "_Spool", s: statements.Shadowed, found: str) -> list[str]:
        """The DELETE, the upsert MERGE, the count of U rows whose key the table holds
        (into variable ``found``) and the update MERGEs of one table's staged records."""
        out = []
        stage = f"{quote(s.shadow_schema)}.{quote(s.shadow)}"
        keys = " AND ".join(f"ts_t.{quote(c)} = ts_w.{quote(c)}" for c in s.keys)
        if spool.counts["D"]:
            # statements.delete_sql's, with the table aliased (which BigQuery allows): the
            # emulator cannot resolve a column qualified by dataset.table
            out.append(f"DELETE FROM {quote(s.table[0])}.{quote(s.table[1])} AS ts_t WHERE EXISTS (SELECT 1 FROM "
                       f"{stage} AS ts_w WHERE ts_w.`__op` = 'D' AND {keys})")
        if spool.counts["I"]:
            out.append(statements.upsert_sql(s, "bigquery"))
        if spool.counts["U"]:
            out.append(f"SET {found} = (SELECT COUNT(*) FROM {stage} AS ts_w WHERE ts_w.`__op` = 'U' AND EXISTS "
                       f"(SELECT 1 FROM {quote(s.table[0])}.{quote(s.table[1])} AS ts_t WHERE {keys}))")
            t = spool.table
            for offsets, grp in spool.groups.items():
                out.append(statements.update_sql(s, "bigquery", grp, tuple(t.columns[o].name for o in offsets)))
        return out

    def _stage(self, spool: "_Spool", n: int) -> statements.Shadowed:
        """A table's records of the file in its staging table, by one load job."""
        t = spool.table
        name = f"{t.name[:40]}_wkm{n}"
        columns = self._staging_columns(t)
        if self._staged.get((t.schema, name)) != columns:
            held = self.db.get_table(t.schema, name)
            if held is not None and (not held.schema or held.schema[0].name != "__op"):
                raise SchemaMismatch(f"table {t.schema}.{name} on {self.db.where()} is not a targetsync staging table "
                                     f"(it has no __op column), and {t.qualified}'s changes are staged under that "
                                     "name: rename it")
            self.db.query(f"CREATE OR REPLACE TABLE {quote(t.schema)}.{quote(name)} ({columns})",
                          what=f"creating staging table {t.schema}.{name}")
            self._staged[(t.schema, name)] = columns
        self._load(t, f"{self.db.project}.{t.schema}.{name}", spool)
        return statements.Shadowed((t.schema, t.name), name, tuple(t.primary_key), tuple(c.name for c in t.columns),
                                   t.schema)

    def _staging_columns(self, t: Table) -> str:
        """``__op``, ``__grp`` and the table's columns in the live table's types."""
        live = self.db.shape(t.schema, t.name)
        if live is None:
            raise SchemaMismatch(f"table {t.qualified} does not exist on {self.db.where()}")
        types = {c.name: T.column_type(c, t.qualified) for c in live.columns}
        return ", ".join(["`__op` STRING", "`__grp` INT64", *(f"{quote(c.name)} {types[c.name]}" for c in t.columns)])

    def _load(self, t: Table, table_id: str, spool: "_Spool") -> None:
        from google.cloud import bigquery
        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                                        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE)
        spool.file.seek(0)

        def load():
            job = self.db.client().load_table_from_file(spool.file, table_id, job_config=config, num_retries=2,
                                                        rewind=True, location=self.db.location, timeout=120)
            job.result(retry=self.db.retry(), timeout=600)
        self.db.call(f"loading the changes of {t.qualified}", load)

    def close(self) -> None:
        """Drop the staging tables this applier made (best effort: each is replaced on next use)."""
        for schema, name in list(self._staged):
            try:
                self.db.client().delete_table(f"{self.db.project}.{schema}.{name}", not_found_ok=True,
                                              retry=self.db.retry())
            except Exception:  # noqa: BLE001 - the next applier replaces it
                pass
        self._staged.clear()


def _encoder(kind: Kind):
    """A canonical value of ``kind`` → its JSON text in an NDJSON line (None: json.dumps)."""
    if kind is Kind.JSON:
        return lambda v: v   # the JSON text itself: the column holds the document
    f = T.to_json(kind)
    if f is None:
        return lambda v: json.dumps(v, ensure_ascii=False)
    return lambda v: json.dumps(f(v), ensure_ascii=False)


class _Spool:
    """One table's records of a file as NDJSON lines of its staging table, in a temporary
    file (a file's batches come a chunk at a time); U groups numbered per file."""

    def __init__(self, table: Table):
        self.table = table
        self.file = tempfile.TemporaryFile()   # mode rb+, as the client wants
        self.groups: dict[tuple[int, ...], int] = {}
        self.counts = {"I": 0, "U": 0, "D": 0}
        names = ["__op", "__grp", *(c.name for c in table.columns)]
        self.enc = [_encoder(Kind.TEXT), _encoder(Kind.INT32), *(_encoder(c.kind) for c in table.columns)]
        self.keys = [json.dumps(n, ensure_ascii=False) + ":" for n in names]

    def add(self, batch: TableBatch) -> None:
        mine = [self.groups.setdefault(offsets, len(self.groups)) for offsets in batch.updates]
        out = []
        try:
            for op, grp, *values in shadow_rows(batch):
                row = (op, None if grp is None else mine[grp], *values)
                out.append("{" + ",".join(k + ("null" if v is None else f(v)) for k, f, v in zip(self.keys, self.enc, row))
                           + "}\n")
        except (ValueError, TypeError) as exc:
            raise DataError(f"applying to bigquery table {self.table.qualified}: {exc}") from None
        self.file.write("".join(out).encode("utf-8"))
        for op in self.counts:
            self.counts[op] += batch.count(op)
