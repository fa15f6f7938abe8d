"""Firebolt's types: its catalog's names → canonical kinds, canonical kinds → the types
generated DDL declares, and each canonical value as the CSV text ``COPY FROM`` loads.

Firebolt has no small integers, no unsigned ones, no time of day, no uuid and no json:
``int16``/``uint16`` are ``INTEGER``, ``uint32`` a ``BIGINT``, ``uint64`` a
``NUMERIC(20, 0)``; a time is ``TEXT`` written ``HH:MM:SS.ffffff`` (fixed width, so its
text order is its order), a uuid ``TEXT`` in its lower-case form (text order = byte
order), json its ``TEXT``. Every string kind is ``TEXT`` (no length), every binary one
``BYTEA``. ``NUMERIC`` holds 38 digits: a wider decimal is refused.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from targetsync_core.adapters.coerce import to_float, to_float32
from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.schema import Column
from targetsync_core.model.types import Kind

UTC = dt.timezone.utc
MAX_PRECISION = 38

#: Firebolt's type names (``information_schema.columns.data_type``, aliases included,
#: without arguments) → kinds
NATIVE = {
    "integer": Kind.INT32, "int": Kind.INT32, "int4": Kind.INT32,
    "bigint": Kind.INT64, "long": Kind.INT64, "int8": Kind.INT64,
    "numeric": Kind.DECIMAL, "decimal": Kind.DECIMAL,
    "real": Kind.FLOAT32, "float4": Kind.FLOAT32,
    "double precision": Kind.FLOAT64, "double": Kind.FLOAT64, "float8": Kind.FLOAT64, "float": Kind.FLOAT64,
    "boolean": Kind.BOOLEAN, "bool": Kind.BOOLEAN,
    "text": Kind.TEXT, "varchar": Kind.TEXT, "string": Kind.TEXT,
    "bytea": Kind.BLOB,
    "date": Kind.DATE, "pgdate": Kind.DATE,
    "timestamp": Kind.TIMESTAMP, "timestampntz": Kind.TIMESTAMP, "timestamp_ext": Kind.TIMESTAMP,
    "timestamptz": Kind.TIMESTAMPTZ,
}

#: kinds kept in another kind (``Database.stored_as``)
STORED_AS = {Kind.INT16: Kind.INT32, Kind.UINT16: Kind.INT32, Kind.UINT32: Kind.INT64, Kind.UINT64: Kind.DECIMAL,
             Kind.CHAR: Kind.TEXT, Kind.VARCHAR: Kind.TEXT, Kind.BINARY: Kind.BLOB, Kind.VARBINARY: Kind.BLOB,
             Kind.TIME: Kind.TEXT, Kind.UUID: Kind.TEXT, Kind.JSON: Kind.TEXT}

#: canonical kinds → the type generated DDL declares (decimals: :func:`declared`)
DECLARED = {
    Kind.BOOLEAN: "BOOLEAN", Kind.INT16: "INTEGER", Kind.INT32: "INTEGER", Kind.UINT16: "INTEGER",
    Kind.INT64: "BIGINT", Kind.UINT32: "BIGINT", Kind.UINT64: "NUMERIC(20, 0)",
    Kind.FLOAT32: "REAL", Kind.FLOAT64: "DOUBLE PRECISION",
    Kind.CHAR: "TEXT", Kind.VARCHAR: "TEXT", Kind.TEXT: "TEXT", Kind.JSON: "TEXT", Kind.UUID: "TEXT", Kind.TIME: "TEXT",
    Kind.BINARY: "BYTEA", Kind.VARBINARY: "BYTEA", Kind.BLOB: "BYTEA",
    Kind.DATE: "DATE", Kind.TIMESTAMP: "TIMESTAMP", Kind.TIMESTAMPTZ: "TIMESTAMPTZ",
}

_ARGS = re.compile(r"\((\d+)\s*,\s*(\d+)\)")
_SUFFIX = re.compile(r"\s+(not\s+)?null$", re.I)


def declared(col: Column, where: str) -> str:
    """The Firebolt type of ``col`` in generated DDL; a decimal wider than 38 digits is
    refused naming ``where``."""
    if col.kind is not Kind.DECIMAL:
        return DECLARED[col.kind]
    if col.precision is None:   # PostgreSQL's numeric, Cassandra's varint/decimal: the widest
        return "NUMERIC(38, 0)" if col.scale == 0 else "NUMERIC(38, 9)"
    if col.precision > MAX_PRECISION:
        raise SchemaMismatch(f"{where} column {col.name} is decimal({col.precision}, {col.scale}): Firebolt's "
                             f"NUMERIC holds at most {MAX_PRECISION} digits; narrow it in a view")
    return f"NUMERIC({col.precision}, {col.scale or 0})"


def column(name: str, data_type: str, nullable: bool, in_key: bool, where: str) -> Column:
    """A live column from the catalog's ``data_type`` (``numeric(38, 9)``, ``text``…)."""
    text = _SUFFIX.sub("", data_type.strip()).lower()
    base = _ARGS.sub("", text).strip()
    kind = NATIVE.get(base)
    if kind is None:
        raise SchemaMismatch(f"{where} column {name} has type {data_type}, which targetsync does not map "
                             "(arrays and other composite types are not synced)")
    params: dict = {}
    if kind is Kind.DECIMAL:
        found = _ARGS.search(text)
        params = {"precision": int(found.group(1)), "scale": int(found.group(2))} if found else \
            {"precision": MAX_PRECISION, "scale": 9}
    elif kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        params = {"precision": 6}
    return Column(name, kind, nullable and not in_key, native=data_type.strip(), **params)


def _time_text(v: dt.time) -> str:
    return v.isoformat(timespec="microseconds")


def _bytea_text(v: bytes) -> str:
    return "\\x" + bytes(v).hex()


def _timestamp_text(v: dt.datetime) -> str:
    return v.isoformat(sep=" ", timespec="microseconds")


def _timestamptz_text(v: dt.datetime) -> str:
    return v.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")


#: canonical value → its text (CSV field or bound parameter), where ``str`` is not it
TEXT_OF = {
    Kind.BOOLEAN: lambda v: "true" if v else "false",
    Kind.DECIMAL: lambda v: format(Decimal(v), "f"), Kind.UINT64: str,
    Kind.FLOAT32: repr, Kind.FLOAT64: repr,
    Kind.BINARY: _bytea_text, Kind.VARBINARY: _bytea_text, Kind.BLOB: _bytea_text,
    Kind.DATE: lambda v: v.isoformat(), Kind.TIME: _time_text,
    Kind.TIMESTAMP: _timestamp_text, Kind.TIMESTAMPTZ: _timestamptz_text,
}

#: canonical values as the SDK binds them where its own formatting is not what Firebolt
#: reads back: a time and a uuid as their stored text, bytes as ``\\x`` hex text (the
#: SDK would write an escape string), timestamps as ISO text (the SDK's ``strftime``
#: writes the year 51 as ``51``, not ``0051``)
TO_DRIVER = {Kind.UUID: str, Kind.TIME: _time_text,
             Kind.BINARY: _bytea_text, Kind.VARBINARY: _bytea_text, Kind.BLOB: _bytea_text,
             Kind.TIMESTAMP: _timestamp_text, Kind.TIMESTAMPTZ: _timestamptz_text}


def _float(v) -> float:
    return float(v) if isinstance(v, str) else to_float(v)


#: kind → how a value the SDK returns becomes canonical, where the shared conversion
#: would refuse it: the SDK knows no ``real`` and hands its text over
READ_AS = {Kind.FLOAT32: lambda v: to_float32(_float(v)), Kind.FLOAT64: _float}


def csv_field(kind: Kind, value) -> str:
    """One CSV field: ``\\N`` (unquoted) for NULL, anything else double-quoted with ``"``
    doubled, so an empty string stays one and the text ``\\N`` is no NULL."""
    if value is None:
        return "\\N"
    f = TEXT_OF.get(kind)
    text = str(value) if f is None else f(value)
    return '"' + text.replace('"', '""') + '"'
