"""The type matrix (issue 18): for every ordered pair of backends, every source type ×
every target type of one family that the target engine has, the target pre-created by
hand in its own type and drifted; then ``sync``.

Each cell must converge: the target then holds what the target engine itself stores for
the source's stored values (found by inserting those values, read back raw from the
source, into a reference table of the target's types through the target's own driver;
where engines differ in how they fit a value, truncating or rounding, a target value that
either would produce is accepted), a second ``validate`` exits 0 and a second ``sync``
emits no record. Pairs of types of different families are refused in one line naming the
column and both types, with nothing changed.

MongoDB, a target only, has no column types: its collections are made by ``schema
--apply`` alone, so a cell's target is "as schema --apply makes it", and the documents it
holds after the sync, read afresh with pymongo, must hold each value as the adapter's
docstring promises (:func:`as_bson`: Decimal128, Binary subtype 4 for a uuid, a datetime
at milliseconds for a timestamp, an embedded document for JSON, null for NULL…), in the
BSON type as well as the value; the drifted documents are written as the docstring lays
them out. The pairs into MongoDB are SQLite, PostgreSQL and MariaDB.

Data is read and written through the raw drivers, never the adapters; the matrix of
outcomes is printed in the test report.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import json
import sqlite3
import struct
import uuid
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal

import pytest

from targetsync_core.cli import main
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import ALL_BACKENDS, BACKENDS, write_configs
from tests.conformance.backends import canon as canon_of

ENGINES = ["sqlite", "postgres", "mariadb", "mysql"]
#: cloud targets (``backends.CLOUD``), their native types by family in :data:`CLOUD_TYPES`
CLOUD_TARGETS = ("databricks", "spanner", "firebolt", "bigquery", "snowflake")
PAIRS = ([(s, t) for s in ENGINES for t in ENGINES] + [(s, "mongodb") for s in ("sqlite", "postgres", "mariadb")]
         + [(s, t) for t in CLOUD_TARGETS for s in ("sqlite", "postgres", "mariadb")])
ROWS = 24            # source ids 1..24; the target holds 3..30 but 7
TARGET_IDS = [i for i in range(3, ROWS + 7) if i != 7]   # 7, all NULL at the source, is inserted


@dataclass(frozen=True)
class Native:
    """A type as one engine spells it, with the kind the test reads its values as."""

    ddl: str
    kind: Kind
    scale: int | None = None        # decimals: digits after the point (None: unconstrained)
    precision: int | None = None    # temporal: fractional digits
    length: int | None = None       # CHAR / BINARY padding

    @property
    def label(self) -> str:
        return self.ddl.replace(" NULL", "")


def N(ddl, kind, **kw) -> Native:
    return Native(ddl, kind, **kw)


def ts(v: str) -> dt.datetime:
    return dt.datetime.fromisoformat(v)


@dataclass(frozen=True)
class Family:
    values: list
    near: object                    # value -> a value close to it (the drift's nearly-equal edit)
    pg: list
    my: list
    sqlite: list
    my_target: tuple = ()           # types only a target of the MySQL family uses


FAMILIES: dict[str, Family] = {
    "integer": Family(
        [0, 1, 42, 100, 126, 7, 99], lambda v: v + 1,
        [N("smallint", Kind.INT16), N("integer", Kind.INT32), N("bigint", Kind.INT64)],
        [N("tinyint", Kind.INT16), N("smallint", Kind.INT16), N("int", Kind.INT32), N("bigint", Kind.INT64),
         N("int unsigned", Kind.UINT32), N("bigint unsigned", Kind.UINT64)],
        [N("SMALLINT", Kind.INT16), N("INT", Kind.INT32), N("BIGINT", Kind.INT64)]),
    "decimal": Family(
        [Decimal(v) for v in ("12.3456789012", "-999.4", "0.0005", "0", "12.5", "-12.5", "1.2", "999.1234567891",
                              "-0.0015", "7.0625")],
        lambda v: v + Decimal("0.0001"),
        [N("numeric(38,10)", Kind.DECIMAL, scale=10), N("numeric(6,3)", Kind.DECIMAL, scale=3),
         N("numeric(12,0)", Kind.DECIMAL, scale=0), N("numeric", Kind.DECIMAL)],
        [N("decimal(38,10)", Kind.DECIMAL, scale=10), N("decimal(6,3)", Kind.DECIMAL, scale=3),
         N("decimal", Kind.DECIMAL, scale=0), N("decimal(30,20)", Kind.DECIMAL, scale=20)],
        [N("DECIMAL TEXT(38,10)", Kind.DECIMAL, scale=10), N("DECIMAL TEXT(6,3)", Kind.DECIMAL, scale=3)]),
    "float": Family(
        [0.1, 1 / 3, -2.5, 1e10, 123456.789, 3.0e38, 1e-30, 16777217.0, -0.0, 2.0 ** -20],
        lambda v: v * (1 + 1e-7) if v else 1e-9,
        [N("real", Kind.FLOAT32), N("double precision", Kind.FLOAT64)],
        [N("float", Kind.FLOAT32), N("double", Kind.FLOAT64)],
        [N("FLOAT", Kind.FLOAT32), N("DOUBLE", Kind.FLOAT64)]),
    "timestamp": Family(
        [ts(v) for v in ("2020-01-02 03:04:05.123456", "2021-06-07 08:09:10", "1999-12-31 23:59:59.999600",
                         "2010-05-05 05:05:05.500000", "2037-12-31 00:00:00.000001", "1971-01-01 00:00:00.500500",
                         "1980-02-29 12:00:00.000400")],
        lambda v: v + dt.timedelta(microseconds=3030),
        [N(f"timestamp({p})", Kind.TIMESTAMP, precision=p) for p in (0, 3, 6)]
        + [N(f"timestamptz({p})", Kind.TIMESTAMPTZ, precision=p) for p in (0, 3, 6)],
        [N(f"datetime({p})", Kind.TIMESTAMP, precision=p) for p in (0, 3, 6)]
        + [N(f"timestamp({p}) NULL", Kind.TIMESTAMPTZ, precision=p) for p in (0, 3, 6)],
        [N("TIMESTAMP(0)", Kind.TIMESTAMP, precision=0), N("TIMESTAMP(6)", Kind.TIMESTAMP, precision=6),
         N("TIMESTAMPTZ(6)", Kind.TIMESTAMPTZ, precision=6)]),
    "time": Family(
        [dt.time(10, 0, 0, 600000), dt.time(23, 59, 58, 400000), dt.time(0), dt.time(12, 34, 56, 123456),
         dt.time(1, 2, 3, 4500)],
        lambda v: (dt.datetime.combine(dt.date(2000, 1, 1), v) + dt.timedelta(microseconds=3030)).time(),
        [N(f"time({p})", Kind.TIME, precision=p) for p in (0, 3, 6)],
        [N(f"time({p})", Kind.TIME, precision=p) for p in (0, 3, 6)],
        [N("TIME(0)", Kind.TIME, precision=0), N("TIME(6)", Kind.TIME, precision=6)]),
    "string": Family(
        ["ab", "ab  ", " lead", "", "héllo wörld", "日本語", "x" * 12, "MiXeD"],
        lambda v: (v + "  ")[:12] if len(v) < 12 else v[:-1] + " ",
        [N("char(12)", Kind.CHAR), N("varchar(12)", Kind.VARCHAR), N("varchar(40)", Kind.VARCHAR),
         N("text", Kind.TEXT)],
        [N("char(12)", Kind.CHAR), N("varchar(12)", Kind.VARCHAR), N("varchar(40)", Kind.VARCHAR),
         N("text", Kind.TEXT)],
        [N("CHAR(12)", Kind.CHAR), N("VARCHAR(12)", Kind.VARCHAR), N("TEXT", Kind.TEXT)]),
    "binary": Family(
        [b"", b"\x00", b"ab", b"a\x00", bytes(range(1, 9)), b"\xff\xfe"],
        lambda v: v + b"\x00" if len(v) < 8 else v[:-1] + b"\x00",
        [N("bytea", Kind.BLOB)],
        [N("binary(8)", Kind.BINARY, length=8), N("varbinary(8)", Kind.VARBINARY), N("blob", Kind.BLOB)],
        [N("BLOB", Kind.BLOB), N("BINARY(8)", Kind.BINARY), N("VARBINARY(8)", Kind.VARBINARY)]),
    "boolean": Family(
        [True, False], lambda v: not v,
        [N("boolean", Kind.BOOLEAN)], [N("tinyint(1)", Kind.BOOLEAN)], [N("BOOLEAN", Kind.BOOLEAN)]),
    "uuid": Family(
        [uuid.UUID(int=n * 0x1234567890ABCDEF1234567) for n in range(1, 6)], lambda v: uuid.UUID(int=v.int ^ 1),
        [N("uuid", Kind.UUID)], [], [N("UUID", Kind.UUID)],
        my_target=(N("char(36)", Kind.UUID),)),
    "json": Family(
        ['{"a": 1, "b": [1, 2]}', "[]", '{"k": "日本"}', "12.5", '"s"', '{"z": null, "a": {"b": true}}'],
        lambda v: json.dumps(json.loads(v), indent=1, sort_keys=True),
        [N("json", Kind.JSON), N("jsonb", Kind.JSON)], [N("json", Kind.JSON)], [N("JSON TEXT", Kind.JSON)]),
}

#: a cloud target's types by family (where it has one): Databricks has no time and no
#: uuid or JSON type, and keeps a uuid or a JSON document in a STRING; Spanner has no time
#: or uuid type (text) and one integer type
CLOUD_TYPES: dict[str, dict[str, list[Native]]] = {
    "databricks": {
        "integer": [N("SMALLINT", Kind.INT16), N("INT", Kind.INT32), N("BIGINT", Kind.INT64)],
        "decimal": [N("DECIMAL(38,10)", Kind.DECIMAL, scale=10), N("DECIMAL(6,3)", Kind.DECIMAL, scale=3),
                    N("DECIMAL(12,0)", Kind.DECIMAL, scale=0)],
        "float": [N("FLOAT", Kind.FLOAT32), N("DOUBLE", Kind.FLOAT64)],
        "timestamp": [N("TIMESTAMP_NTZ", Kind.TIMESTAMP, precision=6), N("TIMESTAMP", Kind.TIMESTAMPTZ, precision=6)],
        "string": [N("STRING", Kind.TEXT), N("VARCHAR(40)", Kind.VARCHAR)],
        "binary": [N("BINARY", Kind.BLOB)],
        "boolean": [N("BOOLEAN", Kind.BOOLEAN)],
        "uuid": [N("STRING", Kind.UUID)],
        "json": [N("STRING", Kind.JSON)],
    },
    "spanner": {
        "integer": [N("INT64", Kind.INT64)],
        "decimal": [N("NUMERIC", Kind.DECIMAL, scale=9), N("STRING(MAX)", Kind.DECIMAL)],
        "float": [N("FLOAT32", Kind.FLOAT32), N("FLOAT64", Kind.FLOAT64)],
        "timestamp": [N("TIMESTAMP", Kind.TIMESTAMPTZ)],
        "time": [N("STRING(15)", Kind.TIME)],
        "string": [N("STRING(12)", Kind.VARCHAR), N("STRING(MAX)", Kind.TEXT)],
        "binary": [N("BYTES(8)", Kind.VARBINARY), N("BYTES(MAX)", Kind.BLOB)],
        "boolean": [N("BOOL", Kind.BOOLEAN)],
        "uuid": [N("STRING(36)", Kind.UUID)],
        "json": [N("JSON", Kind.JSON)],
    },
    "bigquery": {
        "integer": [N("INT64", Kind.INT64)],
        "decimal": [N("NUMERIC(6, 3)", Kind.DECIMAL, scale=3), N("NUMERIC(12, 0)", Kind.DECIMAL, scale=0),
                    N("NUMERIC", Kind.DECIMAL, scale=9), N("BIGNUMERIC(38, 10)", Kind.DECIMAL, scale=10)],
        "float": [N("FLOAT64", Kind.FLOAT64)],
        "timestamp": [N("DATETIME", Kind.TIMESTAMP, precision=6), N("TIMESTAMP", Kind.TIMESTAMPTZ, precision=6)],
        "time": [N("TIME", Kind.TIME, precision=6)],
        "string": [N("STRING(12)", Kind.VARCHAR), N("STRING", Kind.TEXT)],
        "binary": [N("BYTES(8)", Kind.VARBINARY), N("BYTES", Kind.BLOB)],
        "boolean": [N("BOOL", Kind.BOOLEAN)],
        "json": [N("JSON", Kind.JSON)],
    },
    "snowflake": {
        "integer": [N("NUMBER(5,0)", Kind.INT32), N("NUMBER(19,0)", Kind.INT64), N("NUMBER(38,0)", Kind.INT64)],
        "decimal": [N("NUMBER(38,10)", Kind.DECIMAL, scale=10), N("NUMBER(6,3)", Kind.DECIMAL, scale=3)],
        "float": [N("FLOAT", Kind.FLOAT64)],
        "timestamp": [N("TIMESTAMP_NTZ(6)", Kind.TIMESTAMP, precision=6),
                      N("TIMESTAMP_TZ(6)", Kind.TIMESTAMPTZ, precision=6)],
        "time": [N("TIME(6)", Kind.TIME, precision=6)],
        "string": [N("VARCHAR(12)", Kind.VARCHAR), N("VARCHAR", Kind.TEXT)],
        "binary": [N("BINARY", Kind.BLOB)],
        "boolean": [N("BOOLEAN", Kind.BOOLEAN)],
        "uuid": [N("VARCHAR(36)", Kind.UUID)],
        "json": [N("VARIANT", Kind.JSON)],
    },
    "firebolt": {   # no small or unsigned integers; a time, a uuid and JSON held as TEXT
        "integer": [N("INTEGER", Kind.INT32), N("BIGINT", Kind.INT64)],
        "decimal": [N("NUMERIC(38, 10)", Kind.DECIMAL, scale=10), N("NUMERIC(6, 3)", Kind.DECIMAL, scale=3),
                    N("NUMERIC(12, 0)", Kind.DECIMAL, scale=0)],
        "float": [N("REAL", Kind.FLOAT32), N("DOUBLE PRECISION", Kind.FLOAT64)],
        "timestamp": [N("TIMESTAMP", Kind.TIMESTAMP, precision=6), N("TIMESTAMPTZ", Kind.TIMESTAMPTZ, precision=6)],
        "time": [N("TEXT", Kind.TIME)], "string": [N("TEXT", Kind.TEXT)], "binary": [N("BYTEA", Kind.BLOB)],
        "boolean": [N("BOOLEAN", Kind.BOOLEAN)], "uuid": [N("TEXT", Kind.UUID)], "json": [N("TEXT", Kind.JSON)],
    },
}

#: pairs of types of different families: refused before any work
REFUSED = [
    ("postgres", "double precision", "mariadb", "decimal(12,4)"),
    ("mariadb", "float", "postgres", "numeric(6,3)"),
    ("postgres", "text", "postgres", "bytea"),
    ("mariadb", "varchar(20)", "sqlite", "BLOB"),
    ("sqlite", "INT", "mariadb", "tinyint(1)"),
    ("postgres", "timestamp(6)", "mariadb", "date"),
    ("postgres", "text", "databricks", "BINARY"),
    ("postgres", "double precision", "bigquery", "NUMERIC(12, 4)"),
]


def side(kind: str) -> str:
    return {"postgres": "pg", "mariadb": "my", "mysql": "my", "sqlite": "sqlite"}.get(kind, kind)


def types_of(family: Family, engine: str, target: bool) -> list[Native]:
    if engine in CLOUD_TYPES:
        return CLOUD_TYPES[engine].get(next(n for n, f in FAMILIES.items() if f is family), [])
    own = getattr(family, side(engine))
    return own + list(family.my_target) if target and side(engine) == "my" else own


def as_applied(source: Native) -> Native:
    """A MongoDB cell's target: the collection ``schema --apply`` made, holding the BSON
    type the adapter chooses for the source column's kind (timestamps at milliseconds)."""
    ms = 3 if source.kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ) else None
    return Native("BSON (schema --apply)", source.kind, precision=ms)


def targets_of(family: Family, engine: str, source: Native) -> list[Native]:
    return [as_applied(source)] if engine == "mongodb" else types_of(family, engine, True)


def quote(engine: str, name: str) -> str:
    return f"`{name}`" if side(engine) in ("my", "databricks", "spanner", "bigquery") else f'"{name}"'


def qualified(b, name: str) -> str:
    return quote(b.kind, name) if b.kind == "sqlite" else f"{quote(b.kind, b.schema)}.{quote(b.kind, name)}"


# ---- raw access, not through the adapters ----------------------------------------------

class _Kept:
    """A cloud backend's one raw connection (``raw.conn()``), which ``close`` keeps."""

    def __init__(self, conn):
        self.conn = conn

    def cursor(self):
        return self.conn.cursor()

    def close(self) -> None:
        pass


def connect(b):
    if hasattr(b.raw, "conn"):   # a cloud target's one raw connection
        return _Kept(b.raw.conn())
    if b.kind == "bigquery":   # Google's DB-API over the backend's own client
        from google.cloud.bigquery import dbapi
        return dbapi.connect(b.raw.client)
    if b.kind == "sqlite":
        return sqlite3.connect(b.path)
    if b.kind == "postgres":
        import psycopg
        return psycopg.connect(b.url, autocommit=True, options="-c TimeZone=UTC")
    if b.kind == "snowflake":
        return b.raw.connect()
    return b._mysql()


def run(b, statements: list[str], rows: list[tuple] = (), insert: str | None = None) -> None:
    if hasattr(b.raw, "run"):   # a cloud target with raw access of its own
        return b.raw.run(statements, insert, rows)
    conn = connect(b)
    try:
        cur = conn.cursor()
        for s in statements:
            cur.execute(s)
        if insert and rows and b.kind == "snowflake":   # VARIANT and BINARY values need casts
            b.raw.insert(insert, rows)
        elif insert and rows:
            cur.executemany(insert, rows)
        if b.kind == "sqlite":
            conn.commit()
    finally:
        conn.close()


def fetch(b, sql: str) -> list[tuple]:
    if b.kind == "spanner":   # BYTES come back as base64, JSON as the client's JsonObject
        return [tuple(base64.b64decode(v) if isinstance(v, bytes) else v.serialize() if hasattr(v, "serialize")
                      else v for v in r) for r in b.raw.query(sql)]
    if hasattr(b.raw, "fetch"):
        return b.raw.fetch(sql)
    conn = connect(b)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def by_id(b, table: str, cols: list[Native]) -> dict[int, tuple]:
    """The columns ``c0``… of ``table``, read raw, by id."""
    return {r[0]: r[1:] for r in fetch(b, f"SELECT id, {select_list(b.kind, cols)} FROM {qualified(b, table)}")}


def to_driver(engine: str, native: Native, v):
    """A test value as this engine's driver takes it for a column of ``native``."""
    if v is None:
        return None
    k = native.kind
    if engine == "sqlite":   # stored as the text or number targetsync's SQLite files hold
        if k is Kind.BOOLEAN:
            return int(v)
        if k in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
            return v.isoformat(" ") + ("+00:00" if k is Kind.TIMESTAMPTZ else "")
        if k in (Kind.DECIMAL, Kind.TIME, Kind.UUID):
            return str(v)
        return v
    if side(engine) == "my" and k is Kind.UUID:
        return str(v)
    if engine == "databricks" and k is Kind.UUID:   # kept in a STRING
        return str(v)
    if engine == "spanner":
        return spanner_value(native, v)
    if engine == "firebolt":
        from tests.conformance.cloud.firebolt import _param
        return _param(k, v)
    if engine == "bigquery" and k is Kind.TIMESTAMPTZ and v.tzinfo is None:
        return v.replace(tzinfo=dt.timezone.utc)   # a TIMESTAMP takes an instant, not a DATETIME
    return v


def spanner_value(native: Native, v):
    """A value as the Spanner client writes it into a column of ``native``: BYTES as base64,
    a time or uuid as its text, a timestamp aware; a decimal into NUMERIC rounded half up to
    its 9 places (the client refuses more), into STRING as its text."""
    k = native.kind
    if k in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
        return base64.b64encode(v)
    if k is Kind.DECIMAL:
        return str(v) if native.ddl.startswith("STRING") else v.quantize(Decimal("1e-9"), ROUND_HALF_UP)
    if k in (Kind.TIME, Kind.UUID):
        return v.isoformat(timespec="microseconds") if k is Kind.TIME else str(v)
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=dt.timezone.utc) if v.tzinfo is None else v
    return v


def insert_rows(b, table: str, tcols: list[Native], rows: list[tuple]) -> None:
    """``rows`` (an id and a value a column of ``tcols``, as ``to_driver`` gives them) into
    ``table``; into Spanner as one ``insert`` mutation, through the client."""
    n = len(tcols)
    if b.kind != "spanner":
        return run(b, [], rows, insert_sql(b, table, n, tcols))
    cols = ["id", *(f"c{j}" for j in range(n))]
    b.raw.database.run_in_transaction(lambda tx: tx.insert(f"{b.schema}.{table}", cols, [list(r) for r in rows]))


def select_list(engine: str, cols: list[Native]) -> str:
    out = []
    for i, n in enumerate(cols):
        c = quote(engine, f"c{i}")
        if side(engine) == "my" and n.kind is Kind.FLOAT32:
            out.append(f"CAST({c} AS DOUBLE)")      # MySQL prints FLOAT with 6 digits
        elif engine == "postgres" and n.kind is Kind.JSON:
            out.append(f"{c}::text")
        elif engine == "bigquery" and n.kind is Kind.JSON:
            out.append(f"TO_JSON_STRING({c})")
        else:
            out.append(c)
    return ", ".join(out)


def f32(v: float) -> float:
    return struct.unpack("f", struct.pack("f", v))[0]


def canon(native: Native, v, pad: bool = False):
    """The test's own idea of a value read raw from a column of ``native`` (``pad``:
    CHAR padding is insignificant for this cell)."""
    if v is None:
        return None
    k = native.kind
    if k is Kind.BOOLEAN:
        return bool(int(v))
    if k in (Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT32, Kind.UINT64):
        return int(v)
    if k is Kind.DECIMAL:
        return Decimal(str(v))
    if k in (Kind.FLOAT32, Kind.FLOAT64):
        f = float(v)
        return (f32(f) if k is Kind.FLOAT32 else f) + 0.0
    if k in (Kind.CHAR, Kind.VARCHAR, Kind.TEXT):
        return v.rstrip(" ") if pad or k is Kind.CHAR else v
    if k is Kind.JSON:   # the document, as one text whatever its spacing and key order
        return json.dumps(json.loads(v), sort_keys=True, ensure_ascii=False)
    return canon_of(Column("v", k), v)


def fittings(source: Native, target: Native, v) -> list:
    """The values a target may hold for source value ``v`` where engines fit it
    differently (decimals and fractional seconds: truncated, or rounded either way at an
    exact half), beyond what the target's own engine gave the reference table."""
    if v is None:
        return []
    if target.kind is Kind.DECIMAL and target.scale is not None:
        q = Decimal(1).scaleb(-target.scale)
        return [v.quantize(q, r) for r in (ROUND_DOWN, ROUND_HALF_UP, ROUND_HALF_DOWN)]
    if target.precision is not None and target.precision < 6 and isinstance(v, (dt.datetime, dt.time)):
        step = 10 ** (6 - target.precision)
        base = dt.datetime.combine(dt.date(2000, 1, 1), v) if isinstance(v, dt.time) else v
        down = base.replace(microsecond=base.microsecond // step * step)
        out = [down, down + dt.timedelta(microseconds=step)]
        return [o.time() for o in out] if isinstance(v, dt.time) else out
    return []


# ---- MongoDB, through pymongo -----------------------------------------------------------

class _Absent:
    def __repr__(self) -> str:
        return "<no such field>"


ABSENT = _Absent()


@contextlib.contextmanager
def collection(b, name: str):
    import pymongo
    client = pymongo.MongoClient(b.url)
    try:
        yield client[b.schema][name]
    finally:
        client.close()


def as_bson(kind: Kind, v):
    """What the adapter's docstring promises a MongoDB target holds for canonical value
    ``v`` of ``kind``, as pymongo returns it: NULL as null; a decimal (and a uint64) as
    Decimal128 where that holds it exactly, else its text; JSON as the document, array or
    scalar it parses to; binaries as Binary subtype 0 (bytes to pymongo), a uuid as
    subtype 4; a time as ``HH:MM:SS.ffffff``; a timestamp as a UTC datetime cut to the
    millisecond; the rest (booleans, integers, doubles, strings) as they are."""
    from bson.binary import Binary
    from bson.decimal128 import Decimal128
    if v is None:
        return None
    if kind in (Kind.DECIMAL, Kind.UINT64):
        try:
            return Decimal128(Decimal(v))
        except (decimal.Inexact, decimal.InvalidOperation):
            return str(v)
    if kind is Kind.JSON:
        return json.loads(v)
    if kind is Kind.UUID:
        return Binary(v.bytes, 4)
    if kind in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
        return bytes(v)
    if kind is Kind.TIME:
        return v.isoformat(timespec="microseconds")
    if kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        return v.replace(microsecond=v.microsecond // 1000 * 1000)
    return v


def as_compared(v, pad: bool = False):
    """A value pymongo returned, as the test compares it: its BSON type with its value (a
    Decimal128 by value, a document or array as sorted JSON text; ``pad``: CHAR padding
    is insignificant), so a right value in another BSON type differs."""
    from bson.binary import Binary
    from bson.decimal128 import Decimal128
    if isinstance(v, Decimal128):
        return "decimal128", v.to_decimal()
    if isinstance(v, Binary):
        return f"binary subtype {v.subtype}", bytes(v)
    if isinstance(v, (dict, list)):
        return type(v).__name__, json.dumps(v, sort_keys=True, ensure_ascii=False)
    if isinstance(v, int) and not isinstance(v, bool):
        return "int", int(v)   # int32 or int64
    if isinstance(v, float):
        return "double", v + 0.0
    if isinstance(v, str) and pad:
        return "str", v.rstrip(" ")
    return type(v).__name__, v


# ---- one engine pair -------------------------------------------------------------------

@dataclass
class Cell:
    family: str
    source: Native
    target: Native
    outcome: str = "converged"


def source_value(fam: Family, i: int, j: int):
    if i % 7 == 0:
        return None
    return fam.values[(i + j) % len(fam.values)]


def target_value(fam: Family, i: int, j: int, stored):
    """Drift: every third row equal to the source's stored value, every third nearly equal
    (a digit beyond the source's precision, trailing spaces or zero bytes, a reformatted
    JSON document), the rest another value."""
    v = source_value(fam, i, j)
    if i % 3 == 0:
        return stored
    if i % 3 == 1 and v is not None:
        return fam.near(v)
    return fam.values[(i + j + 1) % len(fam.values)]


def valid(engine: str, native: Native, v):
    """``v`` as a value of ``native``: the servers fit what they are given to the column,
    SQLite keeps it as it is, so a SQLite source is given values its declared type holds."""
    if engine != "sqlite" or v is None:
        return v
    if native.kind is Kind.DECIMAL and native.scale is not None:
        return v.quantize(Decimal(1).scaleb(-native.scale), ROUND_HALF_UP)
    if native.precision is not None and isinstance(v, (dt.datetime, dt.time)):
        step = 10 ** (6 - native.precision)
        return v.replace(microsecond=v.microsecond // step * step)
    return v


def create_sql(b, table: str, cols: list[Native]) -> str:
    defs = ", ".join(f"{quote(b.kind, f'c{j}')} {n.ddl}" for j, n in enumerate(cols))
    if b.kind == "spanner":
        return f"CREATE TABLE {qualified(b, table)} (`id` INT64 NOT NULL, {defs}) PRIMARY KEY (`id`)"
    if b.kind == "firebolt":   # no primary key: its primary index
        return f'CREATE TABLE {qualified(b, table)} ("id" INTEGER NOT NULL, {defs}) PRIMARY INDEX "id"'
    if b.kind == "bigquery":   # the key NOT ENFORCED, and in the description (the emulator drops the former)
        return (f"CREATE TABLE {qualified(b, table)} (`id` INT64 NOT NULL, {defs}, PRIMARY KEY (`id`) NOT ENFORCED) "
                "OPTIONS (description = 'targetsync primary key: [\"id\"]')")
    return f"CREATE TABLE {qualified(b, table)} ({quote(b.kind, 'id')} INTEGER NOT NULL PRIMARY KEY, {defs})"


def insert_sql(b, table: str, n: int, cols: list[Native] = ()):
    if b.kind == "snowflake":   # the table, for the raw insert of the backend
        names = ["id", *(f"c{j}" for j in range(n))]
        return Table(b.schema, table, tuple(Column(c, Kind.TEXT) for c in names), ("id",))
    mark = "?" if b.kind in ("sqlite", "databricks", "firebolt") else "%s"
    marks = [mark] * (n + 1)
    if b.kind == "bigquery":   # typed (a NULL has no type of its own); a JSON column from its text
        marks = ["%(:INT64)s"] + ["PARSE_JSON(%(:STRING)s)" if c.kind is Kind.JSON else
                                  f"%(:{c.ddl.split('(')[0].strip()})s" for c in cols]
    return f"INSERT INTO {qualified(b, table)} VALUES ({', '.join(marks)})"


def build(src, tgt, name: str, fam_name: str, fam: Family) -> tuple[list[Cell], dict[int, tuple]]:
    """Source table ``name`` with one column per (source type, target type) cell; returns
    the cells and the values the source stored, by id, as read back raw."""
    cells = [Cell(fam_name, s, t) for s in types_of(fam, src.kind, False) for t in targets_of(fam, tgt.kind, s)]
    if not cells:
        return [], {}
    scols = [c.source for c in cells]
    rows = [(i, *(to_driver(src.kind, n, valid(src.kind, n, source_value(fam, i, j))) for j, n in enumerate(scols)))
            for i in range(1, ROWS + 1)]
    run(src, [create_sql(src, name, scols)], rows, insert_sql(src, name, len(scols)))
    return cells, {i: tuple(canon(n, v) for n, v in zip(scols, r)) for i, r in by_id(src, name, scols).items()}


def drift(tgt, name: str, fam: Family, cells: list[Cell], stored: dict[int, tuple]) -> None:
    """The target of ``name`` pre-created in the target's types and drifted, and the
    reference table ``name_ref`` holding what the target engine stores for the source's
    stored values; into MongoDB, the drifted documents (``_id`` the key, a field a column,
    each value as :func:`as_bson` lays it out) in the collection ``schema --apply`` made."""
    tcols = [c.target for c in cells]
    values = {i: [target_value(fam, i, j, stored[i][j] if i in stored else None) for j in range(len(tcols))]
              for i in TARGET_IDS}
    if tgt.kind == "mongodb":
        with collection(tgt, name) as coll:
            coll.insert_many([{"_id": i, "id": i, **{f"c{j}": as_bson(n.kind, v) for j, (n, v)
                                                     in enumerate(zip(tcols, vs))}} for i, vs in values.items()])
        return
    ref = [(i, *(to_driver(tgt.kind, n, v) for n, v in zip(tcols, stored[i]))) for i in sorted(stored)]
    rows = [(i, *(to_driver(tgt.kind, n, v) for n, v in zip(tcols, vs))) for i, vs in values.items()]
    made = [create_sql(tgt, name, tcols), create_sql(tgt, f"{name}_ref", tcols)]
    if tgt.kind == "spanner":   # its backend's schema is made by generated DDL, which this test does not run
        tgt.raw.execute(";\n".join([f"CREATE SCHEMA IF NOT EXISTS `{tgt.schema}`", *made]))
    else:
        run(tgt, made)
    insert_rows(tgt, f"{name}_ref", tcols, ref)
    insert_rows(tgt, name, tcols, rows)


def configure(d, src, tgt, names: list[str]) -> None:
    write_configs(d, src, tgt, names, window_size=7, max_threads=2, file_mb=0.004)


def check_cells(src, tgt, name: str, cells: list[Cell]) -> None:
    """Mark each cell whose target column differs from the reference (beyond the other
    engines' fittings of the source value) as failed, naming the first row; into MongoDB
    the reference is what the adapter's docstring promises for the source's values, in
    BSON type and value."""
    scols, tcols = [c.source for c in cells], [c.target for c in cells]
    sval = by_id(src, name, scols)
    mongodb = tgt.kind == "mongodb"
    if mongodb:
        with collection(tgt, name) as coll:
            got = {d["_id"]: tuple(d.get(f"c{j}", ABSENT) for j in range(len(cells))) for d in coll.find()}
        want = {i: tuple(as_bson(c.target.kind, canon(c.source, v)) for c, v in zip(cells, r)) for i, r in sval.items()}
    else:
        got, want = by_id(tgt, name, tcols), by_id(tgt, f"{name}_ref", tcols)
    if sorted(got) != sorted(want):
        for c in cells:
            c.outcome = f"keys differ: {sorted(set(got) ^ set(want))}"
        return
    for j, c in enumerate(cells):
        pad = Kind.CHAR in (c.source.kind, c.target.kind)

        def same(v):
            return as_compared(v, pad) if mongodb else canon(c.target, v, pad)
        for i in sorted(want):
            g, w = same(got[i][j]), same(want[i][j])
            fitted = fittings(c.source, c.target, canon(c.source, sval[i][j]))
            if g != w and g not in [same(as_bson(c.target.kind, f) if mongodb else f) for f in fitted]:
                reference = "promised" if mongodb else "the engine stores"
                c.outcome = f"id {i}: target {got[i][j]!r}, {reference} {want[i][j]!r}"
                break


OUTCOMES: dict[tuple[str, str], list[Cell]] = {}
REFUSALS: list[tuple] = []


def report_lines() -> list[str]:
    """The matrix of outcomes, for the test report (``tests/conformance/conftest.py``)."""
    if not OUTCOMES and not REFUSALS:
        return []
    out = ["type matrix: each source type (rows) x target type (columns) cell; ok = converged"]
    for (s, t), cells in OUTCOMES.items():
        for fam in FAMILIES:
            mine = [c for c in cells if c.family == fam]
            if not mine:
                continue
            targets = list(dict.fromkeys(c.target.label for c in mine))
            out.append(f"  {s} -> {t}, {fam}: " + " | ".join(targets))
            for source in dict.fromkeys(c.source.label for c in mine):
                marks = ["ok" if c.outcome == "converged" else "FAIL" for c in mine if c.source.label == source]
                out.append(f"    {source:>20}: " + " | ".join(f"{m:^{len(tl)}}" for m, tl in zip(marks, targets)))
    for s, sn, t, tn, line in REFUSALS:
        out.append(f"  refused {s} {sn} -> {t} {tn}: {line}")
    return out


@pytest.mark.parametrize("source_kind,target_kind", PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_type_matrix_converges(tmp_path, source_kind, target_kind, capsys):
    with BACKENDS[source_kind](tmp_path, "s") as src, ALL_BACKENDS[target_kind](tmp_path, "t") as tgt:
        built = {f"m_{fam_name}": (fam, *build(src, tgt, f"m_{fam_name}", fam_name, fam))
                 for fam_name, fam in FAMILIES.items()}
        built = {name: b for name, b in built.items() if b[1]}
        cells_by_table = {name: cells for name, (_, cells, _) in built.items()}
        configure(tmp_path, src, tgt, list(cells_by_table))
        OUTCOMES[(source_kind, target_kind)] = [c for cells in cells_by_table.values() for c in cells]
        # a MongoDB target's collections are made by schema --apply alone
        apply = ["--apply"] if target_kind == "mongodb" else []
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), *apply]) == 0
        for name, (fam, cells, stored) in built.items():
            drift(tgt, name, fam, cells, stored)
        code = main(["sync", "--config", str(tmp_path / "sync.cfg")])
        err = capsys.readouterr().err
        if code != 0:
            for c in OUTCOMES[(source_kind, target_kind)]:
                c.outcome = f"sync failed: {err.strip()}"
        assert code == 0, err
        for name, cells in cells_by_table.items():
            check_cells(src, tgt, name, cells)
        # a second sync must emit nothing: any record it writes names the cells that churn
        assert main(["sync", "--config", str(tmp_path / "sync.cfg"), "--doneDirectory", str(tmp_path / "done2")]) == 0
        churn(tmp_path / "done2", tgt.schema, cells_by_table)
        capsys.readouterr()
        again = main(["validate", "--config", str(tmp_path / "emit.cfg")])
        report_text = capsys.readouterr().out
        failed = [f"{c.family} {c.source.label} -> {c.target.label}: {c.outcome}"
                  for c in OUTCOMES[(source_kind, target_kind)] if c.outcome != "converged"]
        assert not failed, "\n".join(failed)
        assert again == 0, report_text


def churn(done, schema: str, cells_by_table: dict[str, list[Cell]]) -> None:
    """Mark the cells that records of a second sync touch: a U record names its columns
    (offset 0 is the key ``id``); an I or D record, a row the first sync left unequal."""
    for path in sorted(done.glob("*.ckt")):
        for line in path.read_text().splitlines():
            fields = line.split("\t")[:-1]
            cells = cells_by_table.get(fields[1].rpartition(".")[2], [])
            hit = ([int(o) for o in fields[3::2]] if fields[0] == "U" else range(1, len(cells) + 1))
            for offset in hit:
                cell = cells[offset - 1]
                if cell.outcome == "converged":
                    cell.outcome = f"a second sync writes {line[:120]!r}"



@pytest.mark.parametrize("source_kind,source_type,target_kind,target_type", REFUSED,
                         ids=[f"{a}-{b}-to-{c}-{d}".replace(" ", "") for a, b, c, d in REFUSED])
def test_types_of_different_families_are_refused_in_one_line_with_nothing_changed(
        tmp_path, source_kind, source_type, target_kind, target_type, capsys):
    with BACKENDS[source_kind](tmp_path, "s") as src, ALL_BACKENDS[target_kind](tmp_path, "t") as tgt:
        run(src, [f"CREATE TABLE {qualified(src, 'x')} ({quote(src.kind, 'id')} INTEGER NOT NULL PRIMARY KEY, "
                  f"{quote(src.kind, 'col')} {source_type})",
                  f"INSERT INTO {qualified(src, 'x')} ({quote(src.kind, 'id')}) VALUES (1)"])
        run(tgt, [f"CREATE TABLE {qualified(tgt, 'x')} ({quote(tgt.kind, 'id')} INTEGER NOT NULL PRIMARY KEY, "
                  f"{quote(tgt.kind, 'col')} {target_type})",
                  f"INSERT INTO {qualified(tgt, 'x')} ({quote(tgt.kind, 'id')}) VALUES (5)"])
        configure(tmp_path, src, tgt, ["x"])
        assert main(["schema", "--config", str(tmp_path / "schema.cfg")]) == 0
        capsys.readouterr()
        code = main(["sync", "--config", str(tmp_path / "sync.cfg")])
        err = capsys.readouterr().err.strip()
        REFUSALS.append((source_kind, source_type, target_kind, target_type, err))
        assert code == 2, err
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        col = f"{tgt.schema}.x.col" if tgt.kind != "sqlite" else "main.x.col"
        assert col in err, err
        for spelled in (source_type, target_type):
            assert spelled.split("(")[0].lower() in err.lower(), (spelled, err)
        assert fetch(tgt, f"SELECT {quote(tgt.kind, 'id')} FROM {qualified(tgt, 'x')}") == [(5,)]
