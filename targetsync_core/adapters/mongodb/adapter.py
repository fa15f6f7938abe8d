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

**Schema.** ``schema --apply`` creates each collection with a ``$jsonSchema`` validator
made from the table's columns (every column required, its BSON types as written here,
null where nullable), which the server enforces: ``targetsyncValidator=strict`` (the
default), ``warn`` or ``off`` in the DSN's query (``validator.py``).

**Apply** (``applier.py``). On a replica set or through mongos (MongoDB 4.0+) a file is one
multi-document transaction with the record that it was applied and the lease: per table a
``bulk_write`` of ``DeleteOne``, one of ``ReplaceOne(upsert=True)`` and one of
``UpdateOne($set)`` (its matched count finds the updates that found no document), each
unordered (a file holds one record per key and pass). A standalone server has no
transactions: ``open_applier`` says so in one warning and applies each file in recorded
chunks of the same writes, idempotent to replay (``standalone.py``); the instance's
``capabilities.transactional_apply`` then says False (the class's says False too: not
every server has transactions; an instance says True once it found one that has).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import replace
from decimal import Decimal
from typing import Iterator

from targetsync_core.adapters.base import Capabilities, Database
from targetsync_core.adapters.coerce import row_converter
from targetsync_core.adapters.mongodb import standalone, validator
from targetsync_core.adapters.mongodb.applier import MongoApplier
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConfigError, ConnectError, DataError, SchemaMismatch
from targetsync_core.model import skt
from targetsync_core.model.schema import Table
from targetsync_core.model.types import Kind

TABLES = "_targetsync_tables"
UTC = dt.timezone.utc
log = logging.getLogger("targetsync.mongodb")


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
    #: ``transactional_apply``: not on every server; an instance says what its server does
    #: once ``open_applier`` has asked it (True on a replica set or through mongos)
    capabilities = Capabilities(name="mongodb", source=False, transactional_apply=False, max_integer=2**64 - 1,
                                max_identifier_length=120)

    def __init__(self, dsn: Dsn, type_name: str = "mongodb"):
        self.dsn, self.type_name = dsn, type_name
        self._client = None
        self._said_standalone = False
        self.options = _options(dsn.query)   # pymongo's, less targetsync's own
        self.validator = self.options.pop(validator.PARAM, validator.DEFAULT)
        if self.validator not in validator.MODES:
            raise ConfigError(f"{dsn.source}: {validator.PARAM}={self.validator} in the mongodb DSN is none of "
                              f"{', '.join(validator.MODES)}")

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
                                               **self.options)
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
        return _as_held(_table(found["table"]))

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
                self._create(command["create"], command["table"])
            elif "drop" in command:
                schema, _, name = command["drop"].partition(".")
                self.call(f"dropping {command['drop']}", self.client()[schema].drop_collection, name)
                self.call(f"forgetting {command['drop']}", self.meta()[TABLES].delete_one, {"_id": command["drop"]})

    def _create(self, qualified: str, definition: dict) -> None:
        """The collection with the validator the DSN asks (``validator.py``), or that
        validator set on the collection that exists; then its definition recorded."""
        schema, _, name = qualified.partition(".")
        db = self.client()[schema]
        options = validator.options(_table(definition), self.validator)
        if name in self.call("listing collections", db.list_collection_names):
            self.call(f"setting the validator of {qualified}", db.command, "collMod", name,
                      **(options or {"validator": {}}))
        else:
            self.call(f"creating {qualified}", db.create_collection, name, **options)
        self.call(f"recording {qualified}", self.meta()[TABLES].replace_one,
                  {"_id": qualified}, {"_id": qualified, "table": definition}, upsert=True)

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

    def open_applier(self) -> MongoApplier:
        """A file in one transaction on a replica set or through mongos; on a standalone
        server, which has none, chunk by recorded chunk (``standalone.py``), said once."""
        hello = self.call("connecting", self.client().admin.command, "hello")
        transactions = bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
        self.capabilities = replace(type(self).capabilities, transactional_apply=transactions)
        if transactions:
            return MongoApplier(self)
        if not self._said_standalone:
            self._said_standalone = True
            log.warning("%s is a standalone server, which has no multi-document transactions: each change file is "
                        "applied in chunks of %d writes, each recorded (a reader may see a file half applied; a "
                        "loader stopped mid-file resumes after its last recorded chunk); run a replica set (a "
                        "single-node one will do) to apply each file in one transaction", self.identity(),
                        standalone.CHUNK_OPS)
        return standalone.ChunkedApplier(self)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _as_held(table: Table) -> Table:
    """The table as MongoDB holds it: timestamps to the millisecond."""
    cols = tuple(replace(c, precision=min(3, 6 if c.precision is None else c.precision))
                 if c.kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ) else c for c in table.columns)
    return replace(table, columns=cols)


def _table(definition: dict) -> Table:
    """The table of a ``.skt`` table definition (as ``_targetsync_tables`` keeps it)."""
    return skt.loads({"format": "targetsync-schema", "version": 1, "tables": [definition]}, TABLES)[0]


def _key_of(table: Table, _id) -> list:
    return [_id] if len(table.primary_key) == 1 else [_id.get(k) for k in table.primary_key]


def _options(query: str) -> dict:
    from urllib.parse import parse_qsl
    return dict(parse_qsl(query))


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
