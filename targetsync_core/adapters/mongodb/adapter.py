"""MongoDB as a target, through pymongo. DSN ``mongodb://user:pw@host:27017/db?replicaSet=…``.

**Tables.** Table ``schema.name`` is collection ``name`` of database ``schema``; the DSN's
database keeps the bookkeeping: ``_targetsync_tables`` (each synced table's ``.skt``
definition, which ``schema --apply`` writes and every later stage checks against, as a
relational target's catalog), ``_targetsync_applied``, ``_targetsync_lease`` and
``_targetsync_sessions`` (each running loader's session, host and pid).

**Documents.** ``_id`` is the primary key: the key's value for a one-column key, an
ordered subdocument ``{k1: …, k2: …}`` for a composite one. Every column is a field, NULL
stored as ``null`` (never absent). BSON types by canonical kind: integers as int32/int64
(uint64 as Decimal128), decimals as Decimal128 (where it holds the value exactly: 34
significant digits; a longer one as its decimal text, and as a key refused), floats as doubles, strings as strings, JSON as an
embedded document or array, binaries as Binary (uuids as subtype 4), dates as the
datetime of their midnight, times as ``HH:MM:SS.ffffff`` strings, timestamps as UTC
datetimes. A BSON datetime holds milliseconds: timestamps are compared as the target holds
them (precision 3), so the microseconds a source has never churn and are not kept.

**Order.** Windows are ``_id`` ranges read with ``sort({_id: 1})`` in the simple (binary)
collation: strings compare by UTF-8 bytes (code-point order), uuids as 16 bytes, numbers
by value, a composite ``_id`` field by field in key order; the diff's own order
(``tests/conformance/test_mongodb.py`` holds them equal on non-ASCII and composite keys).

**Apply.** A file's changes are one multi-document transaction per file (replica sets,
MongoDB 4.0+), with the record that it was applied and the lease: per table a
``bulk_write`` of ``DeleteOne``, one of ``ReplaceOne(upsert=True)`` and one of
``UpdateOne($set)`` (its matched count finds the updates that found no document), each
unordered (a file holds one record per key and pass). A loader's transactions run in
one session; a loader that finds one of this host dead ends its session first, aborting
a transaction it was killed in, which would otherwise hold the lease document until the
server reaps it (a minute). Not yet: a standalone server
(no transactions) is refused in one line rather than applied chunk by chunk, and no JSON
schema validator is created.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from typing import Iterable, Iterator

from targetsync_core import faults
from targetsync_core.adapters.base import Applier, Capabilities, Database, LeaseHolder, TableBatch
from targetsync_core.adapters.coerce import row_converter
from targetsync_core.adapters.sql.sqlapply import _alive
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConfigError, ConnectError, DataError, LeaseHeld, SchemaMismatch
from targetsync_core.model import skt
from targetsync_core.model.schema import Table
from targetsync_core.model.types import Kind

TABLES, APPLIED, LEASE = "_targetsync_tables", "_targetsync_applied", "_targetsync_lease"
SESSIONS = "_targetsync_sessions"
UTC = dt.timezone.utc


def _decimal(v: Decimal, key: bool = False):
    """A Decimal128 where it holds ``v`` exactly (34 significant digits), else the decimal
    text (read back as the same decimal); a key must be a Decimal128, so ``_id``s order."""
    import decimal
    from bson.decimal128 import Decimal128
    v = v if isinstance(v, Decimal) else Decimal(v)
    try:
        return Decimal128(v)
    except (decimal.Inexact, decimal.InvalidOperation):
        if key:
            raise ValueError(f"key value {v} has more than the 34 significant digits a Decimal128 holds") from None
        return str(v)


def _binary(subtype: int):
    def to(v: bytes):
        from bson.binary import Binary
        return Binary(bytes(v), subtype)
    return to


#: canonical kind → the BSON value pymongo writes (None: as it is)
TO_BSON = {
    Kind.UINT64: _decimal, Kind.DECIMAL: _decimal,
    Kind.JSON: json.loads, Kind.BINARY: _binary(0), Kind.VARBINARY: _binary(0), Kind.BLOB: _binary(0),
    Kind.UUID: lambda v: _binary(4)(v.bytes), Kind.DATE: lambda v: dt.datetime(v.year, v.month, v.day),
    Kind.TIME: lambda v: v.isoformat(timespec="microseconds"),
    Kind.TIMESTAMPTZ: lambda v: v.astimezone(UTC).replace(tzinfo=None),
}


def _from_bson(kind: Kind):
    """The value pymongo returns, as the canonical one."""
    if kind in (Kind.UINT64, Kind.DECIMAL):
        return lambda v: v.to_decimal() if hasattr(v, "to_decimal") else Decimal(v) if isinstance(v, str) else v
    if kind is Kind.JSON:
        return lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True)
    if kind is Kind.DATE:
        return lambda v: v.date() if isinstance(v, dt.datetime) else v
    return None


class MongoDatabase(Database):
    capabilities = Capabilities(name="mongodb", source=False, max_integer=2**64 - 1, max_identifier_length=120)

    def __init__(self, dsn: Dsn, type_name: str = "mongodb"):
        self.dsn, self.type_name = dsn, type_name
        self._client = None

    @classmethod
    def from_dsn(cls, type_name: str, dsn: Dsn) -> "MongoDatabase":
        if dsn.scheme not in ("mongodb", "mongodb+srv"):
            raise ConfigError(f"{dsn.source}: mongodb needs a DSN of the form mongodb://user:password@host:27017/db")
        if not dsn.database:
            raise ConfigError(f"{dsn.source}: the mongodb DSN names no database (mongodb://host:27017/DB), "
                              "which keeps targetsync's bookkeeping")
        return cls(dsn, type_name)

    def identity(self) -> str:
        return f"{self.type_name} {self.server()}/{self.dsn.database}"

    def server(self) -> str:
        return f"{self.dsn.host or 'localhost'}:{self.dsn.port or 27017}"

    def where(self) -> str:
        return f"{self.identity()} (DSN file {self.dsn.source})"

    def client(self):
        if self._client is None:
            try:
                import pymongo
            except ImportError as exc:
                raise ConnectError(f"{self.where()}: mongodb needs pymongo: pip install 'targetsync[mongodb]' "
                                   f"({exc})") from None
            d = self.dsn
            self._client = pymongo.MongoClient(host=d.host or "localhost", port=d.port or 27017,
                                               username=d.username, password=d.password,
                                               serverSelectionTimeoutMS=10_000, tz_aware=False,
                                               **_options(d.query))
        return self._client

    def call(self, what: str, fn, *args, **kw):
        """``fn`` with pymongo's errors sorted: lost connection, refused login, the rest."""
        import pymongo.errors as E
        try:
            return fn(*args, **kw)
        except E.PyMongoError as exc:
            raise self.sorted(exc, what) from None

    def sorted(self, exc, what: str) -> Exception:
        import pymongo.errors as E
        if isinstance(exc, (E.ServerSelectionTimeoutError, E.AutoReconnect, E.NetworkTimeout)):
            return ConnectError(f"cannot reach {self.where()} {what}: {_first(exc)}")
        if isinstance(exc, E.OperationFailure) and exc.code in (13, 18):   # unauthorized, authentication failed
            return ConfigError(f"{what} on {self.where()}: {_first(exc)}")
        return DataError(f"{what} on {self.where()}: {_first(exc)}")

    def meta(self):
        return self.client()[self.dsn.database]

    def collection(self, table: Table):
        return self.client()[table.schema][table.name]

    # -- shape and schema ----------------------------------------------------------------
    def reflect(self, schema: str, name: str) -> Table | None:
        """The table ``schema --apply`` recorded, if its collection exists; a collection
        made otherwise holds no definition and is refused."""
        found = self.call(f"reading {TABLES}", self.meta()[TABLES].find_one, {"_id": f"{schema}.{name}"})
        exists = name in self.call("listing collections", self.client()[schema].list_collection_names)
        if not exists:
            return None
        if found is None:
            raise SchemaMismatch(f"collection {schema}.{name} on {self.where()} was not made by targetsync schema "
                                 "--apply and holds no table definition; drop it or let schema --apply make it")
        table = skt.loads({"format": "targetsync-schema", "version": 1, "tables": [found["table"]]}, TABLES)[0]
        return _as_held(table)

    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        """No SQL here: ``c.sql`` holds one JSON line per collection to create (with the
        table's definition), ``d.sql`` one per collection to drop; ``i.sql`` and ``f.sql``
        are empty (``_id`` is the key; MongoDB has no foreign keys)."""
        head = "-- generated by targetsync for mongodb: one JSON command a line\n"
        create = "".join(json.dumps({"create": t.qualified, "table": skt.table_to_dict(t)}, sort_keys=True) + "\n"
                         for t in tables)
        drop = "".join(json.dumps({"drop": t.qualified}) + "\n" for t in tables)
        return {"c.sql": head + create, "i.sql": head, "f.sql": head, "d.sql": head + drop}

    def execute_script(self, sql: str) -> None:
        for line in sql.splitlines():
            if not line.strip() or line.startswith("--"):
                continue
            command = json.loads(line)
            if "create" in command:
                schema, _, name = command["create"].partition(".")
                db = self.client()[schema]
                if name not in self.call("listing collections", db.list_collection_names):
                    self.call(f"creating {command['create']}", db.create_collection, name)
                self.call(f"recording {command['create']}", self.meta()[TABLES].replace_one,
                          {"_id": command["create"]}, {"_id": command["create"], "table": command["table"]},
                          upsert=True)
            elif "drop" in command:
                schema, _, name = command["drop"].partition(".")
                self.call(f"dropping {command['drop']}", self.client()[schema].drop_collection, name)
                self.call(f"forgetting {command['drop']}", self.meta()[TABLES].delete_one, {"_id": command["drop"]})

    # -- reading as a target -------------------------------------------------------------
    def read_keys(self, table: Table) -> Iterator[tuple]:
        for doc in self._find(table, {}, {"_id": 1}):
            yield tuple(self._converter(table, True)(_key_of(table, doc["_id"])))

    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        bounds = {}
        if window.lo is not None:
            bounds["$gte" if window.lo_inclusive else "$gt"] = self.key_id(table, window.lo)
        if window.hi is not None:
            bounds["$lt"] = self.key_id(table, window.hi)
        convert = self._converter(table, False)
        names = [c.name for c in table.columns]
        keys = set(table.primary_key)
        for doc in self._find(table, {"_id": bounds} if bounds else {}, None):
            ids = dict(zip(table.primary_key, _key_of(table, doc["_id"])))
            yield convert(tuple(ids[n] if n in keys else doc.get(n) for n in names))

    def _find(self, table: Table, query: dict, projection):
        import pymongo.errors as E
        cursor = self.collection(table).find(query, projection).sort("_id", 1).batch_size(5000)
        try:
            yield from cursor
        except E.PyMongoError as exc:
            raise self.sorted(exc, f"reading {table.qualified}") from None
        except ValueError as exc:
            raise DataError(f"reading mongodb {exc}") from None

    def _converter(self, table: Table, keys_only: bool):
        cols = list(table.key_columns if keys_only else table.columns)
        special = {c.kind: f for c in cols if (f := _from_bson(c.kind))}
        convert = row_converter([c.kind for c in cols], table.qualified, [c.name for c in cols],
                                frozenset({Kind.INT16, Kind.INT32, Kind.INT64, Kind.FLOAT64, Kind.VARCHAR, Kind.TEXT,
                                           Kind.CHAR, Kind.BOOLEAN, Kind.TIMESTAMP}), special)
        return convert or (lambda r: r)

    def key_id(self, table: Table, key: tuple):
        """``_id`` of a key: its value, or an ordered subdocument of a composite key."""
        values = [_decimal(v, key=True) if c.kind in (Kind.DECIMAL, Kind.UINT64) else self.to_bson(c, v)
                  for c, v in zip(table.key_columns, key)]
        if len(values) == 1:
            return values[0]
        from bson.son import SON
        return SON(zip(table.primary_key, values))

    def to_bson(self, col, v):
        if v is None:
            return None
        f = TO_BSON.get(col.kind)
        return v if f is None else f(v)

    def open_applier(self) -> "MongoApplier":
        hello = self.call("connecting", self.client().admin.command, "hello")
        if not hello.get("setName") and hello.get("msg") != "isdbgrid":
            raise ConfigError(f"{self.where()} is a standalone server, which has no multi-document transactions: "
                              "targetsync applies a file in one transaction; run it as a replica set (a "
                              "single-node one will do)")
        return MongoApplier(self)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _as_held(table: Table) -> Table:
    """The table as MongoDB holds it: timestamps to the millisecond."""
    from dataclasses import replace
    cols = tuple(replace(c, precision=min(3, 6 if c.precision is None else c.precision))
                 if c.kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ) else c for c in table.columns)
    return replace(table, columns=cols)


def _key_of(table: Table, _id) -> list:
    return [_id] if len(table.primary_key) == 1 else [_id.get(k) for k in table.primary_key]


def _options(query: str) -> dict:
    from urllib.parse import parse_qsl
    return dict(parse_qsl(query))


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


class MongoApplier(Applier):
    """One file, one transaction (with its record and the lease), all in one session."""

    def __init__(self, db: MongoDatabase):
        self.db = db
        self.missed: dict[str, int] = {}
        self.meta = db.meta()
        self.session = None

    def _transaction(self, work):
        if self.session is None:
            self.session = self.db.client().start_session()
        return self.db.call("applying", self.session.with_transaction, lambda s: work(s))

    def _start_session(self, holder: LeaseHolder) -> None:
        """Start the session this applier's transactions run in, recorded (outside any
        transaction) with its process. First end the sessions of loaders that died on
        this host: one killed inside a file left its transaction open, holding the lease
        document until the server reaps it (60 s), where a dead pid frees the lease at once."""
        sessions, client = self.meta[SESSIONS], self.db.client()
        for doc in self.db.call("reading loader sessions", list, sessions.find({"host": holder.host})):
            if not _alive(doc["host"], doc["pid"], holder.host):
                self.db.call("ending a dead loader's session", client.admin.command, "killSessions", [doc["_id"]])
                self.db.call("forgetting a dead loader's session", sessions.delete_one, {"_id": doc["_id"]})
        self.session = client.start_session()
        self.db.call("recording the loader's session", sessions.insert_one,
                     {"_id": self.session.session_id, "host": holder.host, "pid": holder.pid})

    def _claim(self, session, holder: LeaseHolder, ttl: float) -> None:
        row = self.meta[LEASE].find_one({"_id": "loader"}, session=session)
        if row and row["holder"] and row["holder"] != holder.id and row["expires_at"] > time.time() \
                and _alive(row["host"], row["pid"], holder.host):
            raise LeaseHeld(f"another loader (pid {row['pid']} on {row['host']}) holds the apply lease on this "
                            f"target until {time.strftime('%H:%M:%S', time.localtime(row['expires_at']))}; "
                            "refusing to run a second")
        self.meta[LEASE].replace_one({"_id": "loader"}, {"_id": "loader", "holder": holder.id, "host": holder.host,
                                                         "pid": holder.pid, "expires_at": time.time() + ttl},
                                     upsert=True, session=session)

    def acquire_lease(self, holder: LeaseHolder, ttl: float) -> None:
        if self.session is None:
            self._start_session(holder)
        self._transaction(lambda s: self._claim(s, holder, ttl))

    def release_lease(self, holder: LeaseHolder) -> None:
        self._transaction(lambda s: self.meta[LEASE].update_one(
            {"_id": "loader", "holder": holder.id}, {"$set": {"holder": "", "expires_at": 0}}, session=s))

    def applied_files(self, run_id: str) -> set[int]:
        return {d["file_no"] for d in self.db.call("reading applied files", list,
                                                   self.meta[APPLIED].find({"run_id": run_id}))}

    def apply_file(self, run_id: str, file_no: int, batches: Iterable[TableBatch],
                   holder: LeaseHolder, ttl: float) -> None:
        batches = list(batches)   # decoded before the transaction, which may be retried

        def work(session):
            self.missed = {}
            self._claim(session, holder, ttl)
            if self.meta[APPLIED].find_one({"_id": f"{run_id}/{file_no}"}, session=session):
                return
            records = 0
            for batch in batches:
                self._apply_batch(batch, session)
                records += batch.records
            self.meta[APPLIED].insert_one({"_id": f"{run_id}/{file_no}", "run_id": run_id, "file_no": file_no,
                                           "records": records, "applied_at": time.time()}, session=session)
            faults.point("mongodb.before_commit")
        try:
            self._transaction(work)
        except ValueError as exc:
            raise DataError(f"applying to mongodb: {exc}") from None

    def _apply_batch(self, batch: TableBatch, session) -> None:
        from pymongo import DeleteOne, ReplaceOne, UpdateOne
        t, db = batch.table, self.db
        coll = db.collection(t)
        names = [c.name for c in t.columns]
        keypos = t.key_positions

        def document(row):
            try:
                doc = {"_id": db.key_id(t, tuple(row[p] for p in keypos))}
                doc.update((c.name, db.to_bson(c, v)) for c, v in zip(t.columns, row))
                return doc
            except (ValueError, TypeError) as exc:
                raise DataError(f"applying to mongodb table {t.qualified}: {exc}") from None
        if batch.deletes:
            coll.bulk_write([DeleteOne({"_id": db.key_id(t, k)}) for k in batch.deletes], ordered=False,
                            session=session)
        if batch.upserts:
            ops = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in map(document, batch.upserts)]
            coll.bulk_write(ops, ordered=False, session=session)
        updates = [UpdateOne({"_id": db.key_id(t, key)},
                             {"$set": {names[o]: db.to_bson(t.columns[o], v) for o, v in zip(offsets, values)}})
                   for offsets, items in batch.updates.items() for key, values in items]
        if updates:
            matched = coll.bulk_write(updates, ordered=False, session=session).matched_count
            short = len(updates) - matched
            if short:
                self.missed[t.qualified] = self.missed.get(t.qualified, 0) + short

    def close(self) -> None:
        import pymongo.errors as E
        if self.session is not None:
            try:
                self.meta[SESSIONS].delete_one({"_id": self.session.session_id})
                self.session.end_session()
            except E.PyMongoError:
                pass   # a lost connection: the record goes when the next loader finds this pid gone
            self.session = None
