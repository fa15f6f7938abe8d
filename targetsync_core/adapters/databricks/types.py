"""Databricks' types: canonical kind → the Delta column type generated DDL declares, a
live column's type (``information_schema.columns.full_data_type``) → canonical kind, and
how a canonical value is written into the staged JSON lines (every value a JSON string,
or null, cast by ``COPY INTO``'s select to the column's type).

Databricks has no unsigned integers, no ``time``, no uuid and no JSON type: generated DDL
stores them as ``INT``/``BIGINT``/``DECIMAL(20,0)`` and ``STRING`` and reads them back as
the ``.skt``'s kind (``STORED_AS``); ``time`` as ``HH:MM:SS.ffffff`` text, which sorts as
the times do, a uuid as its lower-case text, which sorts as its bytes. Strings of every
length are ``STRING`` (``CHAR(n)`` pads on read; ``VARCHAR(n)`` would refuse nothing the
source holds), bytes of every length ``BINARY``. ``TIMESTAMP`` is an instant (shown in
the session's time zone, UTC here), ``TIMESTAMP_NTZ`` a wall-clock time; both hold
microseconds. ``DECIMAL`` holds at most 38 digits: a wider one is refused.
"""
from __future__ import annotations

import base64
import datetime as dt
import math
import re
from dataclasses import replace
from decimal import Decimal

from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.schema import Column
from targetsync_core.model.types import Kind

MAX_PRECISION = 38
#: a decimal of no declared precision (a SQLite or PostgreSQL ``numeric``)
UNBOUNDED_DECIMAL = (38, 10)

_FIXED = {Kind.BOOLEAN: "BOOLEAN", Kind.INT16: "SMALLINT", Kind.INT32: "INT", Kind.INT64: "BIGINT",
          Kind.UINT16: "INT", Kind.UINT32: "BIGINT", Kind.UINT64: "DECIMAL(20, 0)", Kind.FLOAT32: "FLOAT",
          Kind.FLOAT64: "DOUBLE", Kind.CHAR: "STRING", Kind.VARCHAR: "STRING", Kind.TEXT: "STRING",
          Kind.BINARY: "BINARY", Kind.VARBINARY: "BINARY", Kind.BLOB: "BINARY", Kind.DATE: "DATE",
          Kind.TIME: "STRING", Kind.TIMESTAMP: "TIMESTAMP_NTZ", Kind.TIMESTAMPTZ: "TIMESTAMP", Kind.UUID: "STRING",
          Kind.JSON: "STRING"}

#: kinds generated DDL stores in another kind's type, read back as the .skt's kind
STORED_AS = {Kind.UINT16: Kind.INT32, Kind.UINT32: Kind.INT64, Kind.UINT64: Kind.DECIMAL, Kind.CHAR: Kind.TEXT,
             Kind.VARCHAR: Kind.TEXT, Kind.BINARY: Kind.BLOB, Kind.VARBINARY: Kind.BLOB, Kind.TIME: Kind.TEXT,
             Kind.UUID: Kind.TEXT, Kind.JSON: Kind.TEXT}


def declared(col: Column, where: str) -> str:
    """The Delta type of ``col`` in generated DDL."""
    if col.kind is Kind.DECIMAL:
        p, s = (col.precision, col.scale or 0) if col.precision else UNBOUNDED_DECIMAL
        if p > MAX_PRECISION:
            raise SchemaMismatch(f"{where} column {col.name} is decimal({p},{s}); Databricks holds at most "
                                 f"{MAX_PRECISION} digits: narrow it or sync into a table without it")
        return f"DECIMAL({p}, {s})"
    return _FIXED[col.kind]


_SIMPLE = {"tinyint": Kind.INT16, "byte": Kind.INT16, "smallint": Kind.INT16, "short": Kind.INT16,
           "int": Kind.INT32, "integer": Kind.INT32, "bigint": Kind.INT64, "long": Kind.INT64,
           "float": Kind.FLOAT32, "real": Kind.FLOAT32, "double": Kind.FLOAT64, "boolean": Kind.BOOLEAN,
           "string": Kind.TEXT, "binary": Kind.BLOB, "date": Kind.DATE}


def reflected(name: str, type_text: str, nullable: bool, where: str) -> Column:
    """A live column of full data type ``type_text`` (``decimal(10,2)``, ``string``,
    ``timestamp_ntz``…) as a canonical column; SchemaMismatch for a type with no kind."""
    native = type_text
    collated = re.fullmatch(r"\s*(string|(?:var)?char\s*\(\s*\d+\s*\))\s+collate\s+(\w+)\s*", type_text, re.I)
    if collated:   # a string of a named collation: what it compares by is the key's business
        return replace(reflected(name, collated.group(1), nullable, where), native=native)
    t = re.sub(r"\s+", "", type_text.lower())
    if t in _SIMPLE:
        return Column(name, _SIMPLE[t], nullable, native=native)
    m = re.fullmatch(r"decimal(?:\((\d+)(?:,(\d+))?\))?", t)
    if m:
        p = int(m.group(1)) if m.group(1) else 10
        return Column(name, Kind.DECIMAL, nullable, precision=p, scale=int(m.group(2) or 0), native=native)
    m = re.fullmatch(r"(var)?char\((\d+)\)", t)
    if m:
        return Column(name, Kind.VARCHAR if m.group(1) else Kind.CHAR, nullable, length=int(m.group(2)), native=native)
    if t in ("timestamp", "timestamp_ltz"):
        return Column(name, Kind.TIMESTAMPTZ, nullable, precision=6, native=native)
    if t == "timestamp_ntz":
        return Column(name, Kind.TIMESTAMP, nullable, precision=6, native=native)
    raise SchemaMismatch(f"{where} column {name} is {type_text}, which targetsync cannot sync "
                         "(no canonical kind); sync into a table without it")


def collation(native: str) -> str:
    """The collation a column's type names (``string collate UTF8_LCASE``), upper-case;
    ``UTF8_BINARY`` (the default) where it names none."""
    m = re.search(r"\scollate\s+(\w+)", native, re.I)
    return m.group(1).upper() if m else "UTF8_BINARY"


def _float(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(float(v))


def _timestamptz(v: dt.datetime) -> str:
    v = v.astimezone(dt.timezone.utc) if v.tzinfo else v
    return v.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") + "+00:00"


def _time(v: dt.time) -> str:
    return v.replace(tzinfo=None).isoformat(timespec="microseconds")


#: canonical value → the text staged for it (JSON string), per kind
STAGED = {
    Kind.BOOLEAN: lambda v: "true" if v else "false",
    **{k: str for k in (Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32)},
    Kind.UINT64: str, Kind.DECIMAL: lambda v: format(Decimal(v), "f"),
    Kind.FLOAT32: _float, Kind.FLOAT64: _float,
    Kind.CHAR: str, Kind.VARCHAR: str, Kind.TEXT: str, Kind.JSON: str, Kind.UUID: str,
    **{k: (lambda v: base64.b64encode(bytes(v)).decode("ascii")) for k in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB)},
    Kind.DATE: lambda v: v.isoformat(), Kind.TIME: _time,
    Kind.TIMESTAMP: lambda v: v.isoformat(sep=" ", timespec="microseconds"), Kind.TIMESTAMPTZ: _timestamptz,
}

#: canonical value → what the driver binds (a window bound, a key): where the column
#: stores another kind's type, that type's value
TO_DRIVER = {Kind.UUID: str, Kind.TIME: _time, Kind.UINT64: Decimal, Kind.JSON: str}


def staged_expr(source: str, live_type: str) -> str:
    """How ``COPY INTO``'s select turns staged text ``source`` into a value of the live
    column type ``live_type`` (bytes come base64-encoded)."""
    if re.sub(r"\s+", "", live_type.lower()) == "binary":
        return f"unbase64({source})"
    return f"CAST({source} AS {live_type})"
