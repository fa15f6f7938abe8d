"""Spanner's types: the two dicts (``SPANNER_TYPE`` text → canonical kind, canonical kind →
the type generated DDL declares) and the value conversions both ways.

Spanner (GoogleSQL) has BOOL, INT64, FLOAT32, FLOAT64, NUMERIC (fixed: 38 digits, 9 after
the point), STRING(n|MAX), BYTES(n|MAX), DATE, TIMESTAMP (UTC, nanoseconds) and JSON; no
unsigned integers, no time of day, no fixed-width CHAR or BINARY, and (in the emulator) no
UUID. Generated DDL keeps a uint64 in NUMERIC, a time as ``STRING(15)`` holding
``HH:MM:SS.ffffff`` (fixed width: text order is time order), a uuid as ``STRING(36)`` in
lower case (text order is the 16 bytes' order), a naive timestamp in TIMESTAMP as UTC; each is
read back as the ``.skt``'s kind (``STORED_AS``). A decimal goes to NUMERIC where its declared
precision and scale fit (at most 9 digits after the point and 29 before it), else to
``STRING(MAX)`` holding its exact text (read back as the decimal; as a key it is refused,
since text order is not numeric order). Into a NUMERIC column (generated, or made by hand
for a wider decimal) a value is rounded half up to 9 digits after the point (what the
column holds, as the diff compares it); one with more than 29 before it is refused naming
the column.

The client sends and returns BYTES as base64 text: :func:`to_spanner` encodes every byte
string (raw bytes that happen to be valid base64 would otherwise be stored decoded) and
:func:`from_spanner` decodes what a read returns.
"""
from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any, Callable

from targetsync_core.adapters.coerce import to_float32, to_int, to_time
from targetsync_core.model.schema import Column
from targetsync_core.model.types import Kind

UTC = dt.timezone.utc
NUMERIC_SCALE, NUMERIC_INTEGER_DIGITS = 9, 29
#: the largest lengths STRING(n) and BYTES(n) take (beyond them, MAX holds as much)
MAX_STRING, MAX_BYTES = 2_621_440, 10_485_760
_QUANTUM = Decimal(1).scaleb(-NUMERIC_SCALE)
_WIDE = Context(prec=80)   # quantize to 9 places needs up to 38 digits; the default context has 28

#: kinds generated DDL stores in another kind's type, read back as the .skt's kind
STORED_AS = {Kind.UINT64: Kind.DECIMAL, Kind.TIME: Kind.VARCHAR, Kind.UUID: Kind.VARCHAR,
             Kind.TIMESTAMP: Kind.TIMESTAMPTZ, Kind.DECIMAL: Kind.TEXT}


def numeric_holds(col: Column) -> bool:
    """Whether NUMERIC holds every value of ``col``'s declared type exactly."""
    if col.kind is Kind.UINT64:
        return True
    return (col.kind is Kind.DECIMAL and col.precision is not None and col.scale is not None
            and col.scale <= NUMERIC_SCALE and col.precision - col.scale <= NUMERIC_INTEGER_DIGITS)

_SIZED = re.compile(r"(STRING|BYTES)\((MAX|[0-9]+)\)\Z")
#: SPANNER_TYPE of information_schema.columns → (kind, parameters), the unsized ones
REFLECTED = {"BOOL": (Kind.BOOLEAN, {}), "INT64": (Kind.INT64, {}), "FLOAT32": (Kind.FLOAT32, {}),
             "FLOAT64": (Kind.FLOAT64, {}), "NUMERIC": (Kind.DECIMAL, {"precision": 38, "scale": NUMERIC_SCALE}),
             "DATE": (Kind.DATE, {}), "TIMESTAMP": (Kind.TIMESTAMPTZ, {"precision": 6}), "JSON": (Kind.JSON, {})}


def column_of(name: str, spanner_type: str, nullable: bool) -> Column | None:
    """The canonical column of a ``SPANNER_TYPE``; None for a type this adapter cannot
    hold (ARRAY, STRUCT, PROTO, ENUM, INTERVAL…)."""
    found = REFLECTED.get(spanner_type)
    if found is not None:
        kind, params = found
        return Column(name, kind, nullable, native=spanner_type, **params)
    sized = _SIZED.match(spanner_type)
    if sized is None:
        return None
    length = None if sized.group(2) == "MAX" else int(sized.group(2))
    kind = ((Kind.VARCHAR if length else Kind.TEXT) if sized.group(1) == "STRING"
            else (Kind.VARBINARY if length else Kind.BLOB))
    return Column(name, kind, nullable, length=length, native=spanner_type)


def ddl_type(col: Column) -> str:
    """The type generated DDL declares for ``col``."""
    k = col.kind
    if k in (Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32):
        return "INT64"
    if k in (Kind.CHAR, Kind.VARCHAR):
        return f"STRING({col.length})" if col.length and col.length <= MAX_STRING else "STRING(MAX)"
    if k in (Kind.BINARY, Kind.VARBINARY):
        return f"BYTES({col.length})" if col.length and col.length <= MAX_BYTES else "BYTES(MAX)"
    if k is Kind.DECIMAL and not numeric_holds(col):
        return "STRING(MAX)"
    return DDL[k]


DDL = {Kind.BOOLEAN: "BOOL", Kind.UINT64: "NUMERIC", Kind.DECIMAL: "NUMERIC", Kind.FLOAT32: "FLOAT32",
       Kind.FLOAT64: "FLOAT64", Kind.TEXT: "STRING(MAX)", Kind.BLOB: "BYTES(MAX)", Kind.DATE: "DATE",
       Kind.TIME: "STRING(15)", Kind.TIMESTAMP: "TIMESTAMP", Kind.TIMESTAMPTZ: "TIMESTAMP", Kind.UUID: "STRING(36)",
       Kind.JSON: "JSON"}


# ---- canonical → what the client writes ------------------------------------------------

def numeric(v) -> Decimal:
    """``v`` as NUMERIC holds it: rounded half up to 9 digits after the point; more than 29
    before it is a ValueError."""
    d = v if isinstance(v, Decimal) else Decimal(v)
    try:
        q = d.quantize(_QUANTUM, ROUND_HALF_UP, _WIDE)
    except InvalidOperation:
        raise ValueError(f"{d} has more than the {NUMERIC_INTEGER_DIGITS} digits before the point a "
                         "Spanner NUMERIC holds") from None
    if q.adjusted() >= NUMERIC_INTEGER_DIGITS or not q.is_finite():
        raise ValueError(f"{d} has more than the {NUMERIC_INTEGER_DIGITS} digits before the point a "
                         "Spanner NUMERIC holds")
    return q


def _timestamp(v: dt.datetime) -> dt.datetime:
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


#: canonical kind → the value the client is given (None: as it is)
TO_SPANNER: dict[Kind, Callable[[Any], Any]] = {
    Kind.UINT64: numeric, Kind.DECIMAL: numeric,
    Kind.BINARY: base64.b64encode, Kind.VARBINARY: base64.b64encode, Kind.BLOB: base64.b64encode,
    Kind.TIME: lambda v: v.isoformat(timespec="microseconds"), Kind.UUID: str,
    Kind.TIMESTAMP: _timestamp, Kind.TIMESTAMPTZ: _timestamp,
}


def writer(cols, live=None) -> Callable[[tuple], list]:
    """A function turning a canonical row of ``cols`` into the list the client writes;
    ``live`` (the columns as the table holds them, where known) says which decimals go to a
    NUMERIC column (rounded) and which to a STRING one (their exact text)."""
    live = live or [None] * len(cols)
    funcs = [str if c.kind in (Kind.DECIMAL, Kind.UINT64) and not _numeric(c, g) else TO_SPANNER.get(c.kind)
             for c, g in zip(cols, live)]

    def write(row) -> list:
        return [v if f is None or v is None else f(v) for f, v in zip(funcs, row)]
    return write


def _numeric(col: Column, live: Column | None) -> bool:
    return live.kind is Kind.DECIMAL if live is not None else numeric_holds(col)


def param_type(kind: Kind):
    """The client's ``param_types`` entry for a bound value of ``kind`` (the emulator
    parses an untyped parameter as it guesses, and refuses its guess)."""
    from google.cloud.spanner_v1 import param_types as P
    return {Kind.BOOLEAN: P.BOOL, Kind.UINT64: P.NUMERIC, Kind.DECIMAL: P.NUMERIC, Kind.FLOAT32: P.FLOAT32,
            Kind.FLOAT64: P.FLOAT64, Kind.BINARY: P.BYTES, Kind.VARBINARY: P.BYTES, Kind.BLOB: P.BYTES,
            Kind.DATE: P.DATE, Kind.TIMESTAMP: P.TIMESTAMP, Kind.TIMESTAMPTZ: P.TIMESTAMP, Kind.JSON: P.JSON,
            }.get(kind) or (P.INT64 if kind.value.startswith(("int", "uint")) else P.STRING)


# ---- what a read returns → canonical -----------------------------------------------------

def _plain_timestamp(v: dt.datetime, aware: bool) -> dt.datetime:
    """The client's DatetimeWithNanoseconds (aware, UTC) as a plain datetime."""
    v = v.astimezone(UTC)
    plain = dt.datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)
    return plain.replace(tzinfo=UTC) if aware else plain


#: canonical kind → the value a read returns as the canonical one (None: as it is)
FROM_SPANNER: dict[Kind, Callable[[Any], Any]] = {
    Kind.UINT64: to_int, Kind.DECIMAL: lambda v: Decimal(v) if isinstance(v, str) else v,
    Kind.BINARY: base64.b64decode, Kind.VARBINARY: base64.b64decode, Kind.BLOB: base64.b64decode,
    Kind.TIME: to_time, Kind.UUID: uuid.UUID, Kind.FLOAT32: to_float32,
    Kind.TIMESTAMP: lambda v: _plain_timestamp(v, False), Kind.TIMESTAMPTZ: lambda v: _plain_timestamp(v, True),
    Kind.JSON: lambda v: v.serialize() if hasattr(v, "serialize") else v,
}


def reader(cols) -> Callable[[list], tuple]:
    """A function turning a row the client returns into a canonical row of ``cols``."""
    funcs = [FROM_SPANNER.get(c.kind) for c in cols]
    if not any(funcs):
        return tuple

    def read(row) -> tuple:
        return tuple(v if f is None or v is None else f(v) for f, v in zip(funcs, row))
    return read
