"""Applying change files to MongoDB on a replica set (or through mongos): one
multi-document transaction per file, with the file's record and the lease; and what the
standalone applier (``standalone.py``) shares with it: the records as pymongo writes, their
bulk_writes, the lease, the applied-file records.

Bookkeeping, in the DSN's database: ``_targetsync_lease`` holds one document,
``{_id: "loader", holder, host, pid, expires_at}``; ``_targetsync_sessions`` one per
running loader, ``{_id: its session id, host, pid}``; ``_targetsync_applied`` one document
per applied file, ``{_id: "run/file", run_id, file_no, records, applied_at}``, and, on a
standalone server, one per applied chunk of a file, ``{_id: "run/file/chunk", …, chunk,
start, end}`` (the writes it covered), which :meth:`MongoApplier.applied_files` ignores.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from targetsync_core import faults
from targetsync_core.adapters.base import Applier, LeaseHolder, TableBatch
from targetsync_core.adapters.mongodb import validator
from targetsync_core.adapters.sql.sqlapply import _alive
from targetsync_core.errors import DataError, LeaseHeld
from targetsync_core.model.schema import Table

if TYPE_CHECKING:
    from targetsync_core.adapters.mongodb.adapter import MongoDatabase

APPLIED, LEASE, SESSIONS = "_targetsync_applied", "_targetsync_lease", "_targetsync_sessions"
VALIDATION_FAILED = 121   # DocumentValidationFailure


@dataclass(frozen=True)
class Write:
    """One record as a pymongo write request on its table's collection; ``op`` is its
    record's D, I or U."""

    table: Table
    op: str
    request: object


def writes(db: "MongoDatabase", batches: list[TableBatch]) -> Iterator[Write]:
    """Every record of ``batches`` as a write, in apply order: per batch its deletes, then
    its upserts (``ReplaceOne`` with upsert), then its updates (``UpdateOne`` with
    ``$set``). The order is the same on every call (a resumed file counts on it)."""
    for batch in batches:
        yield from _batch_writes(db, batch)


def _batch_writes(db: "MongoDatabase", batch: TableBatch) -> Iterator[Write]:
    from pymongo import DeleteOne, ReplaceOne, UpdateOne
    t = batch.table
    names = [c.name for c in t.columns]
    for key in batch.deletes:
        yield Write(t, "D", DeleteOne({"_id": db.key_id(t, key)}))
    for row in batch.upserts:
        doc = _document(db, t, row)
        yield Write(t, "I", ReplaceOne({"_id": doc["_id"]}, doc, upsert=True))
    for offsets, items in batch.updates.items():
        for key, values in items:
            changed = {names[o]: db.to_bson(t.columns[o], v) for o, v in zip(offsets, values)}
            yield Write(t, "U", UpdateOne({"_id": db.key_id(t, key)}, {"$set": changed}))


def _document(db: "MongoDatabase", t: Table, row: tuple) -> dict:
    try:
        doc = {"_id": db.key_id(t, tuple(row[p] for p in t.key_positions))}
        doc.update((c.name, db.to_bson(c, v)) for c, v in zip(t.columns, row))
        return doc
    except (ValueError, TypeError) as exc:
        raise DataError(f"applying to mongodb table {t.qualified}: {exc}") from None


def bulk_write(db: "MongoDatabase", items: Iterable[Write], session, missed: dict[str, int]) -> None:
    """``items`` as one unordered ``bulk_write`` per run of one table and op (a file holds
    a key once per table, so nothing in a run depends on another); updates that matched no
    document are counted per table in ``missed``."""
    from pymongo.errors import BulkWriteError
    for (name, op), run in itertools.groupby(items, key=lambda w: (w.table.qualified, w.op)):
        run = list(run)
        try:
            result = db.collection(run[0].table).bulk_write([w.request for w in run], ordered=False, session=session)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or [{}]
            if errors[0].get("code") != VALIDATION_FAILED:
                raise   # sorted by MongoDatabase.call (and retried by a transaction where transient)
            raise DataError(_refusal(db, name, errors)) from None
        short = len(run) - result.matched_count if op == "U" else 0
        if short:
            missed[name] = missed.get(name, 0) + short


def _refusal(db: "MongoDatabase", table: str, errors: list[dict]) -> str:
    """One line for documents the collection's validator refused: the first one's ``_id``
    and the fields it broke (not their values)."""
    info = errors[0].get("errInfo", {})
    rules = info.get("details", {}).get("schemaRulesNotSatisfied", [])
    fields = [p["propertyName"] for rule in rules for p in rule.get("propertiesNotSatisfied", [])]
    fields += [f"{name} missing" for rule in rules for name in rule.get("missingProperties", [])]
    more = f", and {len(errors) - 1} more document(s)" if len(errors) > 1 else ""
    return (f"mongodb table {table} on {db.identity()}: the collection's validator refuses document _id "
            f"{info.get('failingDocumentId')!r} (field {', '.join(fields) or '?'}){more}; schema --apply made the "
            f"validator from the .skt ({validator.PARAM}=off in the DSN, and schema --apply again, drops it)")


class MongoApplier(Applier):
    """One file, one transaction (with its record and the lease), every transaction of
    the loader in one session, recorded with its process (:meth:`_start_session`)."""

    def __init__(self, db: "MongoDatabase"):
        self.db = db
        self.missed: dict[str, int] = {}
        self.meta = db.meta()
        self.session = None

    def acquire_lease(self, holder: LeaseHolder, ttl: float) -> None:
        if self.session is None:
            self.db.call("starting the loader's session", self._start_session, holder)
        self.db.call("taking the apply lease", self._claim, holder, ttl)

    def _start_session(self, holder: LeaseHolder) -> None:
        """Start the session this applier's transactions run in, recorded (outside any
        transaction) with its host and pid. First end the sessions of loaders that died on
        this host: one killed inside a file left its transaction open, holding the lease
        document it wrote until the server reaps it (a minute), where a dead pid is meant
        to free the lease at once."""
        sessions, client = self.meta[SESSIONS], self.db.client()
        for doc in list(sessions.find({"host": holder.host})):
            if not _alive(doc["host"], doc["pid"], holder.host):
                client.admin.command("killSessions", [doc["_id"]])
                sessions.delete_one({"_id": doc["_id"]})
        self.session = client.start_session()
        sessions.insert_one({"_id": self.session.session_id, "host": holder.host, "pid": holder.pid})

    def release_lease(self, holder: LeaseHolder) -> None:
        self.db.call("releasing the apply lease", self.meta[LEASE].update_one,
                     {"_id": "loader", "holder": holder.id}, {"$set": {"holder": "", "expires_at": 0}})

    def _claim(self, holder: LeaseHolder, ttl: float, session=None) -> None:
        """Take or renew the lease: read its document and, unless another live loader
        holds it, replace it in one single-document update that matches only the document
        as read (compare and swap: atomic without a transaction, and a rival's change in
        between makes it match nothing, when the lease is read again)."""
        from pymongo.errors import DuplicateKeyError
        lease = self.meta[LEASE]
        for _ in range(3):
            row = lease.find_one({"_id": "loader"}, session=session)
            if row and row["holder"] not in ("", holder.id) and row["expires_at"] > time.time() \
                    and _alive(row["host"], row["pid"], holder.host):
                raise LeaseHeld(f"another loader (pid {row['pid']} on {row['host']}) holds the apply lease on "
                                f"this target until {time.strftime('%H:%M:%S', time.localtime(row['expires_at']))}; "
                                "refusing to run a second")
            mine = {"holder": holder.id, "host": holder.host, "pid": holder.pid, "expires_at": time.time() + ttl}
            if row is None:
                try:
                    lease.insert_one({"_id": "loader", **mine}, session=session)
                    return
                except DuplicateKeyError:   # another loader made it first
                    continue
            seen = {"_id": "loader", "holder": row["holder"], "expires_at": row["expires_at"]}
            if lease.update_one(seen, {"$set": mine}, session=session).matched_count:
                return
        raise LeaseHeld("the apply lease on this target changed hands three times while this loader took it; "
                        "another loader is starting: run one at a time")

    def applied_files(self, run_id: str) -> set[int]:
        found = self.db.call("reading applied files", list,
                             self.meta[APPLIED].find({"run_id": run_id, "chunk": {"$exists": False}}))
        return {d["file_no"] for d in found}

    def apply_file(self, run_id: str, file_no: int, batches: Iterable[TableBatch],
                   holder: LeaseHolder, ttl: float) -> None:
        batches = list(batches)   # decoded in full first: a file failing to decode applies nothing
        try:
            self.db.call("applying", self._apply, run_id, file_no, batches, holder, ttl)
        except ValueError as exc:
            raise DataError(f"applying to mongodb: {exc}") from None

    def _apply(self, run_id: str, file_no: int, batches: list[TableBatch], holder: LeaseHolder, ttl: float) -> None:
        def work(session):   # may run again: with_transaction retries a transient error
            self.missed = {}
            self._claim(holder, ttl, session)
            if not self._applied(run_id, file_no, session):
                bulk_write(self.db, writes(self.db, batches), session, self.missed)
                self._record_file(run_id, file_no, batches, session)
                faults.point("mongodb.before_commit")
        if self.session is None:
            self.session = self.db.client().start_session()
        self.session.with_transaction(work)

    def _applied(self, run_id: str, file_no: int, session=None) -> bool:
        return self.meta[APPLIED].find_one({"_id": f"{run_id}/{file_no}"}, {"_id": 1}, session=session) is not None

    def _record_file(self, run_id: str, file_no: int, batches: list[TableBatch], session=None) -> None:
        self.meta[APPLIED].insert_one({"_id": f"{run_id}/{file_no}", "run_id": run_id, "file_no": file_no,
                                       "records": sum(b.records for b in batches), "applied_at": time.time()},
                                      session=session)

    def close(self) -> None:
        import pymongo.errors as E
        if self.session is not None:
            try:
                self.meta[SESSIONS].delete_one({"_id": self.session.session_id})
                self.session.end_session()
            except E.PyMongoError:
                pass   # a lost connection: the record goes when the next loader finds this pid gone
            self.session = None
