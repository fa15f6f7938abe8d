"""Applying change files to Spanner: mutations in read-write transactions, a file in
chunks of at most :data:`MAX_MUTATIONS` mutations, each chunk committed with its record.

**Writes.** A file's records become mutations in one fixed order (:func:`writes`: per
batch its deletes, upserts, then updates, as the loader gives the batches): D records as
``delete`` by key, I records as ``insert_or_update`` of the whole row, U records as
``update`` of the key and the columns they set. An ``update`` of a missing row would fail
the whole commit (NOT_FOUND), so each chunk first reads, inside its transaction, which of
its U keys exist: the others are counted in ``missed`` and not written.

**Chunks.** A commit holds at most 80,000 mutations, counted as Spanner counts them: an
insert or update one per column it sets (the key's included), a delete one per row; and for
each index over the table (its unique keys, and the index a foreign key makes) an insert or
update counts the index row's columns (its own and the key's) more, a delete one more. A
commit also carries at most 100 MB: a chunk is cut at 64 MB of values too. The emulator
enforces neither limit: the adapter counts. Chunk ``k`` of a file
commits, in one transaction, its mutations, the renewed lease and its record
``targetsync_chunks (run_id, file_no, chunk, end_write)``; the last chunk also commits the
file's record ``targetsync_applied (run_id, file_no)``, which alone makes the file applied.
A file that fits one commit is therefore one transaction. A loader killed mid-file finds
the chunk records, skips the writes they cover (committed with them: never applied twice)
and goes on from there; the skip counts writes, so another chunk size after a restart is
fine. Replaying a whole file changes nothing: every mutation is idempotent per key and a
file changes a key at most once per table. The file is decoded in full first: one that
fails to decode applies nothing.

**What it gives up.** Between a large file's first chunk and its last, a reader sees part
of the file (``Capabilities.transactional_apply`` is False). Spanner checks foreign keys at
each commit: the emitter orders a file's records over the foreign keys (parents' inserts
before their children's, children's deletes before their parents'), so every chunk boundary
falls at a consistent point, except inside a table referring to itself or a cycle of
tables, whose rows come in key order: where such a file needs more than one commit, a
child row may reach a commit before its parent, and Spanner refuses it; the error says
so (drop the constraint, or give the loader files small enough for one commit with a
smaller ``emitFileTargetMB``).

**Lease.** One row of ``targetsync_lease``, read and updated in a read-write transaction
(Spanner locks what a read-write transaction reads): by :meth:`acquire_lease`, and again
inside every chunk's transaction, so a loader that lost the lease commits nothing more.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from targetsync_core import faults
from targetsync_core.adapters.base import Applier, LeaseHolder, TableBatch
from targetsync_core.adapters.spanner import types as T
from targetsync_core.adapters.spanner.adapter import mutation_name
from targetsync_core.adapters.sql.sqlapply import _alive
from targetsync_core.errors import DataError, LeaseHeld, TargetSyncError
from targetsync_core.model.schema import Table

if TYPE_CHECKING:
    from targetsync_core.adapters.spanner.adapter import SpannerDatabase

APPLIED, CHUNKS, LEASE = "targetsync_applied", "targetsync_chunks", "targetsync_lease"
#: mutations one commit may hold (Spanner's limit), and those its bookkeeping takes
MAX_MUTATIONS = 80_000
BOOKKEEPING = 20
#: bytes of values one commit may carry (Spanner refuses a commit over 100 MB)
MAX_BYTES = 64 * 1024 * 1024
#: fault points: a chunk's mutations buffered, before its commit; after its commit
BEFORE_COMMIT, CHUNK_COMMITTED = "spanner.before_commit", "spanner.chunk_committed"

BOOKKEEPING_DDL = [
    f"CREATE TABLE IF NOT EXISTS {APPLIED} (run_id STRING(64) NOT NULL, file_no INT64 NOT NULL, "
    "records INT64 NOT NULL, applied_at FLOAT64 NOT NULL) PRIMARY KEY (run_id, file_no)",
    f"CREATE TABLE IF NOT EXISTS {CHUNKS} (run_id STRING(64) NOT NULL, file_no INT64 NOT NULL, "
    "chunk INT64 NOT NULL, end_write INT64 NOT NULL, applied_at FLOAT64 NOT NULL) PRIMARY KEY (run_id, file_no, chunk)",
    f"CREATE TABLE IF NOT EXISTS {LEASE} (name STRING(16) NOT NULL, holder STRING(64) NOT NULL, "
    "host STRING(255) NOT NULL, pid INT64 NOT NULL, expires_at FLOAT64 NOT NULL) PRIMARY KEY (name)",
]
LEASE_COLUMNS = ["name", "holder", "host", "pid", "expires_at"]


@dataclass(frozen=True)
class Write:
    """One record as a mutation on its table: ``op`` its record's D, I or U; ``columns``
    the columns it writes (a D: the key's), ``values`` as the client takes them, ``key``
    the canonical key (for a U: to find whether its row exists), ``cells`` the mutations
    Spanner counts for it, ``size`` about the bytes it carries."""

    table: Table
    op: str
    columns: tuple[str, ...]
    values: list
    key: tuple
    cells: int
    size: int = 0


def writes(batches: list[TableBatch], live=lambda table: None) -> Iterator[Write]:
    """Every record of ``batches`` as a write, in apply order, the same on every call;
    ``live(table)`` gives the table as the database holds it (None: as generated DDL made
    it), which says how its decimals are written."""
    for batch in batches:
        t = batch.table
        held = live(t)
        of = (lambda cols: [held.columns[held.position(c.name)] for c in cols]) if held else (lambda cols: None)
        indexes = [*t.unique, *(fk.columns for fk in t.foreign_keys)]   # a foreign key makes an index too
        extra = sum(len(cols) + len(t.primary_key) for cols in indexes)   # an index row's cells, counted too
        keys = t.primary_key
        key_write = T.writer(t.key_columns, of(t.key_columns))
        try:
            for key in batch.deletes:
                values = key_write(key)
                yield Write(t, "D", keys, values, key, 1 + len(indexes), _size(values))
            names, row_write = tuple(c.name for c in t.columns), T.writer(t.columns, of(t.columns))
            for row in batch.upserts:
                values = row_write(row)
                yield Write(t, "I", names, values, (), len(names) + extra, _size(values))
            for offsets, items in batch.updates.items():
                cols = [t.columns[o] for o in offsets]
                set_write = T.writer(cols, of(cols))
                columns = keys + tuple(c.name for c in cols)
                for key, values in items:
                    written = key_write(key) + set_write(values)
                    yield Write(t, "U", columns, written, key, len(columns) + extra, _size(written))
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise DataError(f"applying to spanner table {t.qualified}: {_culprit(t, batch, exc, of)}") from None


def _culprit(t: Table, batch: TableBatch, exc: Exception, of) -> str:
    """The error with the column whose value failed (the writer does not know it)."""
    for row in batch.upserts:
        for c, v in zip(t.columns, row):
            try:
                T.writer([c], of([c]))([v])
            except (ValueError, TypeError, ArithmeticError) as err:
                return f"column {c.name}: {err}"
    return str(exc)


def _size(values: list) -> int:
    return sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in values)


def chunks(items: Iterable[Write], budget: int, max_bytes: int = MAX_BYTES) -> Iterator[list[Write]]:
    """``items`` cut into lists of at most ``budget`` cells and ``max_bytes`` bytes (a
    write never split)."""
    chunk, cells, size = [], 0, 0
    for w in items:
        if chunk and (cells + w.cells > budget or size + w.size > max_bytes):
            yield chunk
            chunk, cells, size = [], 0, 0
        chunk.append(w)
        cells += w.cells
        size += w.size
    if chunk:
        yield chunk


class SpannerApplier(Applier):
    """One loader's session: every commit a read-write transaction of its own."""

    def __init__(self, db: "SpannerDatabase"):
        self.db = db
        self.missed: dict[str, int] = {}
        self._held: dict[str, Table | None] = {}
        self._ensure_tables()

    def _ensure_tables(self) -> None:
        """The bookkeeping tables, made once per database (``IF NOT EXISTS``: two loaders
        starting together both succeed)."""
        have = {r[0] for r in self.db.query("SELECT table_name FROM information_schema.tables WHERE "
                                            "table_catalog = '' AND table_schema = ''")}
        if not {APPLIED, CHUNKS, LEASE} <= have:
            self.db.execute_script(";\n".join(BOOKKEEPING_DDL))

    def _run(self, what: str, work, *args):
        """``work(transaction, *args)`` in a read-write transaction (the client retries it
        whole when Spanner aborts it), its errors sorted."""
        try:
            return self.db.db().run_in_transaction(work, *args)
        except TargetSyncError:
            raise
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            err = self.db.sorted(exc, what)
            if err is exc:
                raise
            if "Foreign key" in str(err):   # see the module: a cycle split across commits
                raise DataError(f"{err}; a file applied in more than one commit can meet a row before the row it "
                                "refers to where tables refer to themselves or to each other: drop the constraint, "
                                "or lower emitFileTargetMB so that each file fits one commit") from None
            raise err from None

    # -- the lease ------------------------------------------------------------------------
    def _claim(self, tx, holder: LeaseHolder, ttl: float) -> None:
        from google.cloud.spanner_v1 import KeySet
        rows = list(tx.read(LEASE, ["holder", "host", "pid", "expires_at"], KeySet(keys=[["loader"]])))
        if rows:
            h, host, pid, expires = rows[0]
            if h and h != holder.id and expires > time.time() and _alive(host, pid, holder.host):
                raise LeaseHeld(f"another loader (pid {pid} on {host}) holds the apply lease on this target until "
                                f"{time.strftime('%H:%M:%S', time.localtime(expires))}; refusing to run a second")
        tx.insert_or_update(LEASE, LEASE_COLUMNS, [["loader", holder.id, holder.host, holder.pid, time.time() + ttl]])

    def acquire_lease(self, holder: LeaseHolder, ttl: float) -> None:
        self._run("taking the apply lease", self._claim, holder, ttl)

    def release_lease(self, holder: LeaseHolder) -> None:
        def release(tx):
            from google.cloud.spanner_v1 import KeySet
            rows = list(tx.read(LEASE, ["holder"], KeySet(keys=[["loader"]])))
            if rows and rows[0][0] == holder.id:
                tx.update(LEASE, ["name", "holder", "expires_at"], [["loader", "", 0.0]])
        self._run("releasing the apply lease", release)

    # -- applied files ----------------------------------------------------------------------
    def applied_files(self, run_id: str) -> set[int]:
        from google.cloud.spanner_v1 import param_types as P
        rows = self.db.query(f"SELECT file_no FROM {APPLIED} WHERE run_id = @r", {"r": run_id}, {"r": P.STRING},
                             "reading applied files")
        return {int(r[0]) for r in rows}

    def _progress(self, run_id: str, file_no: int) -> tuple[bool, int, int]:
        """(file applied, chunks recorded, writes they covered), from one snapshot."""
        from google.cloud.spanner_v1 import param_types as P
        params, types = {"r": run_id, "f": file_no}, {"r": P.STRING, "f": P.INT64}
        rows = self.db.query(f"SELECT (SELECT COUNT(*) FROM {APPLIED} WHERE run_id = @r AND file_no = @f), "
                             f"COUNT(*), MAX(end_write) FROM {CHUNKS} WHERE run_id = @r AND file_no = @f",
                             params, types, "reading applied chunks")
        applied, count, end = rows[0]
        return bool(applied), int(count), int(end or 0)

    # -- applying -------------------------------------------------------------------------
    def apply_file(self, run_id: str, file_no: int, batches: Iterable[TableBatch],
                   holder: LeaseHolder, ttl: float) -> None:
        batches = list(batches)   # decoded in full first: a file failing to decode applies nothing
        self.missed = {}
        applied, number, done = self._progress(run_id, file_no)
        if applied:
            return
        items = list(writes(batches, self._live))
        records = sum(b.records for b in batches)
        parts = list(chunks(items[done:], MAX_MUTATIONS - BOOKKEEPING, MAX_BYTES)) or [[]]
        for i, chunk in enumerate(parts):
            last = i == len(parts) - 1
            end = done + len(chunk)
            missed = self._run(f"applying file {file_no}", self._commit_chunk, chunk, (run_id, file_no, number, end),
                               records if last else None, holder, ttl)
            for name, n in missed.items():
                self.missed[name] = self.missed.get(name, 0) + n
            faults.point(CHUNK_COMMITTED)
            number, done = number + 1, end

    def _commit_chunk(self, tx, chunk: list[Write], record: tuple, records: int | None,
                      holder: LeaseHolder, ttl: float) -> dict[str, int]:
        """One chunk's transaction: the lease, the U keys that exist, the mutations, the
        chunk's record and (``records`` given: the last chunk) the file's. Returns the U
        records that found no row, per table; may run again (an aborted transaction)."""
        self._claim(tx, holder, ttl)
        existing, missed = self._existing(tx, chunk)
        for w, run in _runs(chunk):
            name = mutation_name(w.table)
            try:
                if w.op == "D":
                    from google.cloud.spanner_v1 import KeySet
                    tx.delete(name, KeySet(keys=[x.values for x in run]))
                elif w.op == "I":
                    tx.insert_or_update(name, w.columns, [x.values for x in run])
                else:
                    rows = [x.values for x in run if x.key in existing[w.table.qualified]]
                    if rows:
                        tx.update(name, w.columns, rows)
            except (ValueError, TypeError) as exc:
                raise DataError(f"applying to spanner table {w.table.qualified}: {exc}") from None
        run_id, file_no, number, end = record
        now = time.time()
        tx.insert(CHUNKS, ["run_id", "file_no", "chunk", "end_write", "applied_at"], [[run_id, file_no, number, end, now]])
        if records is not None:
            tx.insert(APPLIED, ["run_id", "file_no", "records", "applied_at"], [[run_id, file_no, records, now]])
        faults.point(BEFORE_COMMIT)
        return missed

    def _existing(self, tx, chunk: list[Write]) -> tuple[dict[str, set], dict[str, int]]:
        """The keys of the chunk's U writes that have a row, per table, read in the
        transaction (so they stay until it commits), and the count of those that have none."""
        from google.cloud.spanner_v1 import KeySet
        wanted: dict[str, list[Write]] = {}
        for w in chunk:
            if w.op == "U":
                wanted.setdefault(w.table.qualified, []).append(w)
        existing, missed = {}, {}
        for qualified, ws in wanted.items():
            t = ws[0].table
            convert = T.reader(t.key_columns)
            keyset = KeySet(keys=[w.values[:len(t.primary_key)] for w in ws])
            found = {convert(r) for r in tx.read(mutation_name(t), list(t.primary_key), keyset)}
            existing[qualified] = found
            short = sum(1 for w in ws if w.key not in found)
            if short:
                missed[qualified] = short
        return existing, missed

    def _live(self, table: Table) -> Table | None:
        """The table as the database holds it, read once per applier."""
        if table.qualified not in self._held:
            self._held[table.qualified] = self.db.shape(table.schema, table.name)
        return self._held[table.qualified]

    def close(self) -> None:
        pass


def _runs(chunk: list[Write]) -> Iterator[tuple[Write, list[Write]]]:
    """Consecutive writes of one table, op and column list, with the first of each run."""
    run: list[Write] = []
    for w in chunk:
        if run and (w.table is not run[0].table or w.op != run[0].op or w.columns != run[0].columns):
            yield run[0], run
            run = []
        run.append(w)
    if run:
        yield run[0], run
