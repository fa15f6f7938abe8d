"""SQLite declared types ↔ canonical kinds, and value storage.

SQLite stores by *affinity* derived from the declared type. The names we generate keep
every canonical value exact: decimals are declared ``DECIMAL TEXT(p,s)`` (TEXT affinity:
``DECIMAL(p,s)`` alone has NUMERIC affinity, which rounds 38-digit values to a double),
JSON ``JSON TEXT``, temporal values and uuids are stored as their ``.ckt`` text (which
sorts chronologically / by bytes), and NaN is stored as the text ``NaN`` because SQLite
turns a NaN REAL into NULL. Tables made by other tools reflect through the same dict.
"""
from __future__ import annotations

import datetime as dt
import math
import re

from targetsync_core.codec.values import encoder
from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.schema import Column
from targetsync_core.model.types import Kind

UTC = dt.timezone.utc
SQLITE_MAX_INTEGER = 2**63 - 1  # SQLite integers are 64-bit signed

NATIVE_TO_KIND: dict[str, Kind] = {
    "BOOLEAN": Kind.BOOLEAN, "BOOL": Kind.BOOLEAN,
    "TINYINT": Kind.INT16, "SMALLINT": Kind.INT16, "INT2": Kind.INT16,
    "INT": Kind.INT32, "MEDIUMINT": Kind.INT32, "INT4": Kind.INT32,
    "INTEGER": Kind.INT64, "BIGINT": Kind.INT64, "INT8": Kind.INT64,
    "UNSIGNED SMALLINT": Kind.UINT16, "UNSIGNED INT": Kind.UINT32,
    "UNSIGNED BIGINT": Kind.UINT64, "UNSIGNED BIG INT": Kind.UINT64,
    "DECIMAL TEXT": Kind.DECIMAL, "DECIMAL": Kind.DECIMAL, "NUMERIC": Kind.DECIMAL,
    "FLOAT": Kind.FLOAT32, "REAL": Kind.FLOAT64, "DOUBLE": Kind.FLOAT64, "DOUBLE PRECISION": Kind.FLOAT64,
    "CHAR": Kind.CHAR, "CHARACTER": Kind.CHAR, "NCHAR": Kind.CHAR,
    "VARCHAR": Kind.VARCHAR, "NVARCHAR": Kind.VARCHAR, "CHARACTER VARYING": Kind.VARCHAR,
    "TEXT": Kind.TEXT, "CLOB": Kind.TEXT,
    "BINARY": Kind.BINARY, "VARBINARY": Kind.VARBINARY, "BLOB": Kind.BLOB,
    "DATE": Kind.DATE, "TIME": Kind.TIME, "TIMESTAMP": Kind.TIMESTAMP, "DATETIME": Kind.TIMESTAMP,
    "TIMESTAMPTZ": Kind.TIMESTAMPTZ, "UUID": Kind.UUID, "JSON TEXT": Kind.JSON, "JSON": Kind.JSON,
}

KIND_TO_NATIVE: dict[Kind, str] = {
    Kind.BOOLEAN: "BOOLEAN", Kind.INT16: "SMALLINT", Kind.INT32: "INT", Kind.INT64: "BIGINT",
    Kind.UINT16: "UNSIGNED SMALLINT", Kind.UINT32: "UNSIGNED INT", Kind.UINT64: "UNSIGNED BIGINT",
    Kind.DECIMAL: "DECIMAL TEXT({precision},{scale})", Kind.FLOAT32: "FLOAT", Kind.FLOAT64: "DOUBLE",
    Kind.CHAR: "CHAR({length})", Kind.VARCHAR: "VARCHAR({length})", Kind.TEXT: "TEXT",
    Kind.BINARY: "BINARY({length})", Kind.VARBINARY: "VARBINARY({length})", Kind.BLOB: "BLOB",
    Kind.DATE: "DATE", Kind.TIME: "TIME({precision})", Kind.TIMESTAMP: "TIMESTAMP({precision})",
    Kind.TIMESTAMPTZ: "TIMESTAMPTZ({precision})", Kind.UUID: "UUID", Kind.JSON: "JSON TEXT",
}

_DECLARED_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")


def column_from_declared(name: str, declared: str, nullable: bool, where: str) -> Column:
    """Map one ``PRAGMA table_info`` row onto a canonical column, or refuse it by name."""
    m = _DECLARED_RE.match(declared or "")
    base = " ".join(m.group(1).upper().split()) if m else ""
    kind = NATIVE_TO_KIND.get(base)
    if kind is None:
        raise SchemaMismatch(f"{where} column {name} has type {declared or '(none)'!r}, which targetsync does not map")
    a = int(m.group(2)) if m.group(2) else None
    b = int(m.group(3)) if m.group(3) else None
    length = precision = scale = None
    if kind in (Kind.CHAR, Kind.VARCHAR, Kind.BINARY, Kind.VARBINARY):
        length = a if a is not None else (1 if kind in (Kind.CHAR, Kind.BINARY) else None)
    elif kind is Kind.DECIMAL:
        precision, scale = a, (b if b is not None else (0 if a is not None else None))
    elif kind in (Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        precision = a if a is not None else 6
    return Column(name, kind, nullable, length, precision, scale, declared)


def declared_type(col: Column) -> str:
    fmt = KIND_TO_NATIVE[col.kind]
    if col.kind is Kind.DECIMAL and col.precision is None:
        return "DECIMAL TEXT"
    if col.kind in (Kind.VARCHAR, Kind.VARBINARY) and col.length is None:
        return "TEXT" if col.kind is Kind.VARCHAR else "BLOB"
    return fmt.format(length=col.length, precision=6 if col.precision is None else col.precision,
                      scale=col.scale or 0)


# ---- canonical → stored ---------------------------------------------------------------

def _store_float(v):
    return "NaN" if math.isnan(v) else v


def _int64_only(col: Column):
    def store(v: int) -> int:
        if v > SQLITE_MAX_INTEGER:
            raise ValueError(f"column {col.name}: {v} is above SQLite's largest integer {SQLITE_MAX_INTEGER}")
        return v
    return store


def to_storage(col: Column):
    """A function from the canonical value to what SQLite stores, or None for identity."""
    k = col.kind
    if k is Kind.UINT64:
        return _int64_only(col)
    if k is Kind.BOOLEAN:
        return int
    if k in (Kind.FLOAT32, Kind.FLOAT64):
        return _store_float
    if k in (Kind.DECIMAL, Kind.DATE, Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ, Kind.UUID):
        return encoder(col)
    return None


# ---- stored → canonical: the shared coercions read SQLite's text forms too ------------
