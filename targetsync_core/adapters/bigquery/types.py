"""BigQuery types: canonical kind → the column type its DDL declares, BigQuery's schema
field → canonical kind, and canonical values → the JSON a load job reads (NDJSON) and
the query parameters a window bound is passed as.

======================  ==========================  ==========================================
canonical kind          BigQuery type               notes
======================  ==========================  ==========================================
boolean                 BOOL
int16/int32/int64       INT64                       read back as int64
uint16/uint32           INT64                       read back as int64
uint64                  NUMERIC(20)                 read back as decimal(20,0)
decimal(p,s)            NUMERIC(p,s)                s <= 9 and p - s <= 29
decimal(p,s)            BIGNUMERIC(p,s)             beyond that, s <= 38 and p - s <= 38; else refused
decimal                 BIGNUMERIC                  no precision given
float32/float64         FLOAT64                     a float32 read back as float64
char(n)/varchar(n)      STRING(n)                   no padding: read back as varchar(n)
text                    STRING
binary(n)/varbinary(n)  BYTES(n)                    no padding: read back as varbinary(n)
blob                    BYTES
date                    DATE
time(p)                 TIME                        microseconds
timestamp(p)            DATETIME                    microseconds, no time zone
timestamptz(p)          TIMESTAMP                   microseconds, UTC
uuid                    STRING(36)                  lower-case text, read back as the uuid
json                    JSON                        read back as its JSON text
======================  ==========================  ==========================================
"""
from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from decimal import Decimal

from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.schema import Column
from targetsync_core.model.types import Kind

#: a NUMERIC holds 29 integer and 9 fractional digits; a BIGNUMERIC 38 and 38
NUMERIC_INT, NUMERIC_SCALE, BIG_INT, BIG_SCALE = 29, 9, 38, 38

INTEGERS = (Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32)

#: kind → the kind BigQuery keeps it as, where it has no type of its own
STORED_AS = {Kind.INT16: Kind.INT64, Kind.INT32: Kind.INT64, Kind.UINT16: Kind.INT64, Kind.UINT32: Kind.INT64,
             Kind.UINT64: Kind.DECIMAL, Kind.FLOAT32: Kind.FLOAT64, Kind.CHAR: Kind.VARCHAR,
             Kind.BINARY: Kind.VARBINARY, Kind.UUID: Kind.VARCHAR}


def column_type(col: Column, table: str = "") -> str:
    """The type BigQuery's DDL declares for ``col`` (its name in ``table`` in refusals)."""
    k = col.kind
    if k is Kind.BOOLEAN:
        return "BOOL"
    if k in INTEGERS:
        return "INT64"
    if k is Kind.UINT64:
        return "NUMERIC(20)"
    if k is Kind.DECIMAL:
        return decimal_type(col, table)
    if k in (Kind.FLOAT32, Kind.FLOAT64):
        return "FLOAT64"
    if k in (Kind.CHAR, Kind.VARCHAR):
        return f"STRING({col.length})" if col.length else "STRING"
    if k in (Kind.TEXT,):
        return "STRING"
    if k is Kind.UUID:
        return "STRING(36)"
    if k in (Kind.BINARY, Kind.VARBINARY):
        return f"BYTES({col.length})" if col.length else "BYTES"
    if k is Kind.BLOB:
        return "BYTES"
    return {Kind.DATE: "DATE", Kind.TIME: "TIME", Kind.TIMESTAMP: "DATETIME", Kind.TIMESTAMPTZ: "TIMESTAMP",
            Kind.JSON: "JSON"}[k]


def decimal_type(col: Column, table: str) -> str:
    p, s = col.precision, col.scale or 0
    if not p:
        return "BIGNUMERIC"
    if s <= NUMERIC_SCALE and p - s <= NUMERIC_INT:
        return f"NUMERIC({p}, {s})"
    if s <= BIG_SCALE and p - s <= BIG_INT:
        return f"BIGNUMERIC({p}, {s})"
    raise SchemaMismatch(f"column {table}.{col.name} is decimal({p},{s}): BigQuery's largest decimal, BIGNUMERIC, "
                         f"holds {BIG_INT} integer and {BIG_SCALE} fractional digits; narrow the source column")


def field_column(field) -> Column:
    """The canonical column of a BigQuery schema field (``google.cloud.bigquery.SchemaField``)."""
    t = field.field_type.upper()
    nullable = field.mode != "REQUIRED"
    if field.mode == "REPEATED" or t in ("RECORD", "STRUCT", "GEOGRAPHY", "INTERVAL", "RANGE"):
        raise SchemaMismatch(f"column {field.name} is {field.mode} {t}, which targetsync cannot sync")
    length = int(field.max_length) if field.max_length else None
    native = t + (f"({length})" if length else "")
    if t in ("INTEGER", "INT64"):
        return Column(field.name, Kind.INT64, nullable, native="INT64")
    if t in ("FLOAT", "FLOAT64"):
        return Column(field.name, Kind.FLOAT64, nullable, native="FLOAT64")
    if t in ("BOOLEAN", "BOOL"):
        return Column(field.name, Kind.BOOLEAN, nullable, native="BOOL")
    if t in ("NUMERIC", "BIGNUMERIC", "DECIMAL", "BIGDECIMAL"):
        big = t in ("BIGNUMERIC", "BIGDECIMAL")
        p = int(field.precision) if field.precision else None
        s = int(field.scale) if field.scale else (0 if p else None)
        if p is None and not big:
            p, s = 38, NUMERIC_SCALE   # NUMERIC without parameters: 29 integer and 9 fractional digits
        native = ("BIGNUMERIC" if big else "NUMERIC") + (f"({p}, {s})" if p else "")
        return Column(field.name, Kind.DECIMAL, nullable, precision=p, scale=s, native=native)
    if t == "STRING":
        return Column(field.name, Kind.VARCHAR if length else Kind.TEXT, nullable, length=length, native=native)
    if t == "BYTES":
        return Column(field.name, Kind.VARBINARY if length else Kind.BLOB, nullable, length=length, native=native)
    simple = {"DATE": (Kind.DATE, None), "TIME": (Kind.TIME, 6), "DATETIME": (Kind.TIMESTAMP, 6),
              "TIMESTAMP": (Kind.TIMESTAMPTZ, 6), "JSON": (Kind.JSON, None)}
    if t in simple:
        kind, precision = simple[t]
        return Column(field.name, kind, nullable, precision=precision, native=t)
    raise SchemaMismatch(f"column {field.name} has BigQuery type {t}, which targetsync cannot sync")


# -- values as a load job reads them (NDJSON) ----------------------------------------------

def _float(v: float):
    if math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def _timestamp(v: dt.datetime) -> str:
    if v.tzinfo is not None:
        v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v.isoformat(" ", timespec="microseconds")


#: canonical kind → the JSON value an NDJSON load job reads into the column (None: as it is)
TO_JSON = {
    Kind.INT64: str, Kind.UINT64: str,   # as text: a JSON number beyond 2**53 is a double to some readers
    Kind.DECIMAL: lambda v: format(v, "f"), Kind.FLOAT32: _float, Kind.FLOAT64: _float,
    Kind.BINARY: lambda v: base64.b64encode(v).decode("ascii"),
    Kind.VARBINARY: lambda v: base64.b64encode(v).decode("ascii"),
    Kind.BLOB: lambda v: base64.b64encode(v).decode("ascii"),
    Kind.DATE: lambda v: v.isoformat(), Kind.TIME: lambda v: v.isoformat(timespec="microseconds"),
    Kind.TIMESTAMP: _timestamp, Kind.TIMESTAMPTZ: lambda v: _timestamp(v) + "+00:00", Kind.UUID: str,
}


def to_json(kind: Kind):
    return TO_JSON.get(kind)


# -- window bounds as query parameters -------------------------------------------------------

def parameter_type(col: Column, v=None) -> str:
    """The BigQuery type a bound ``v`` of key column ``col`` is passed as: a decimal as
    NUMERIC where that holds it (29 integer and 9 fractional digits), else BIGNUMERIC."""
    k = col.kind
    if k in INTEGERS:
        return "INT64"
    if k in (Kind.UINT64, Kind.DECIMAL):
        d = Decimal(v) if v is not None else Decimal(0)
        exponent = d.as_tuple().exponent
        fractional = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        whole = len(str(abs(int(d)))) if d.is_finite() else BIG_INT + 1
        return "NUMERIC" if fractional <= NUMERIC_SCALE and whole <= NUMERIC_INT else "BIGNUMERIC"
    return {Kind.BOOLEAN: "BOOL", Kind.CHAR: "STRING", Kind.VARCHAR: "STRING", Kind.TEXT: "STRING",
            Kind.UUID: "STRING", Kind.BINARY: "BYTES", Kind.VARBINARY: "BYTES", Kind.BLOB: "BYTES",
            Kind.DATE: "DATE", Kind.TIME: "TIME", Kind.TIMESTAMP: "DATETIME", Kind.TIMESTAMPTZ: "TIMESTAMP"}[k]


def parameter_value(col: Column, v):
    if col.kind is Kind.UUID:
        return str(v)
    if col.kind is Kind.UINT64:
        return Decimal(v)
    return v


def from_bigquery(kind: Kind):
    """How a value the client returns becomes canonical, where the shared conversion
    would not do (a uuid from its text; JSON is selected as its text)."""
    if kind is Kind.UUID:
        return lambda v: v if isinstance(v, uuid.UUID) else uuid.UUID(v)
    return None
