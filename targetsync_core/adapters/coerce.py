"""Driver values → canonical values, by canonical kind (shared by every adapter).

Drivers return different Python types for the same canonical kind (PyMySQL gives a
``timedelta`` for TIME, psycopg an aware ``datetime`` for timestamptz, SQLite a ``str``
for anything stored as text). Each function here accepts the forms any adapter produces
and returns the one Python type ``model.types`` promises, or raises ValueError.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import struct
import uuid
from decimal import Decimal
from typing import Any, Callable

from targetsync_core.model.types import Kind

UTC = dt.timezone.utc
_F32 = struct.Struct("f")


def _bad(v, kind: str):
    raise ValueError(f"{type(v).__name__} {str(v)[:40]!r} is not a {kind}")


def to_int(v) -> int:
    if isinstance(v, int):
        return int(v)
    if isinstance(v, (float, Decimal)) and v == v and v == int(v):
        return int(v)
    return _bad(v, "integer")


def to_bool(v) -> bool:
    if isinstance(v, (bool, int)):
        return bool(v)
    return _bad(v, "boolean")


def to_decimal(v) -> Decimal:
    if isinstance(v, Decimal):
        return v
    if isinstance(v, (int, str)):
        return Decimal(v)
    if isinstance(v, float):
        return Decimal(repr(v))
    return _bad(v, "decimal")


def to_float(v) -> float:
    if isinstance(v, (float, int, Decimal)):
        return float(v)
    if v == "NaN":
        return math.nan
    return _bad(v, "float")


def to_float32(v) -> float:
    """A float32 column's value is the float32 nearest to what the driver gave: PostgreSQL
    prints ``real`` with float4's shortest text, which read back as a double is not it."""
    f = to_float(v)
    if not math.isfinite(f):
        return f
    try:
        return _F32.unpack(_F32.pack(f))[0]
    except OverflowError:
        raise ValueError(f"{f!r} is out of float32 range") from None


def to_str(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8")
    return _bad(v, "string")


def to_json_text(v) -> str:
    if isinstance(v, (str, bytes, bytearray)):
        return to_str(v)
    return json.dumps(v, ensure_ascii=False)


def to_bytes(v) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    return _bad(v, "byte string")


def to_date(v) -> dt.date:
    if isinstance(v, dt.datetime):
        return _bad(v, "date")
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(v) if isinstance(v, str) else _bad(v, "date")


def to_time(v) -> dt.time:
    if isinstance(v, dt.time):
        return v.replace(tzinfo=None)
    if isinstance(v, dt.timedelta):  # MySQL TIME: a duration; only 00:00:00-23:59:59.999999 is a time of day
        if not dt.timedelta(0) <= v < dt.timedelta(days=1):
            return _bad(v, "time of day")
        return (dt.datetime.min + v).time()
    return dt.time.fromisoformat(v) if isinstance(v, str) else _bad(v, "time")


def to_timestamp(v) -> dt.datetime:
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v)
    if not isinstance(v, dt.datetime):
        return _bad(v, "timestamp")
    return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v


def to_timestamptz(v) -> dt.datetime:
    """Aware values are converted to UTC; naive ones are taken as UTC (how MySQL's
    DATETIME and SQLite's text hold a timestamptz)."""
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v)
    if not isinstance(v, dt.datetime):
        return _bad(v, "timestamp")
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


def to_uuid(v) -> uuid.UUID:
    if isinstance(v, uuid.UUID):
        return v
    if isinstance(v, (bytes, bytearray)) and len(v) == 16:
        return uuid.UUID(bytes=bytes(v))
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode("ascii")
    return uuid.UUID(v) if isinstance(v, str) else _bad(v, "uuid")


COERCE: dict[Kind, Callable[[Any], Any]] = {
    Kind.BOOLEAN: to_bool, Kind.DECIMAL: to_decimal, Kind.FLOAT32: to_float32, Kind.FLOAT64: to_float,
    Kind.CHAR: to_str, Kind.VARCHAR: to_str, Kind.TEXT: to_str, Kind.JSON: to_json_text,
    Kind.BINARY: to_bytes, Kind.VARBINARY: to_bytes, Kind.BLOB: to_bytes,
    Kind.DATE: to_date, Kind.TIME: to_time, Kind.TIMESTAMP: to_timestamp, Kind.TIMESTAMPTZ: to_timestamptz,
    Kind.UUID: to_uuid,
    **{k: to_int for k in (Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32, Kind.UINT64)},
}


def converted_rows(cursor, convert: Callable[[tuple], tuple] | None, size: int = 2000):
    """Fetch a DB-API cursor ``size`` rows at a time, yielding canonical rows."""
    while True:
        batch = cursor.fetchmany(size)
        if not batch:
            return
        if convert is None:
            yield from batch
        else:
            for raw in batch:
                yield convert(raw)


def row_converter(kinds: list[Kind], table: str, names: list[str], identity: frozenset = frozenset(),
                  special: dict[Kind, Callable[[Any], Any]] | None = None) -> Callable[[tuple], tuple] | None:
    """A function turning one raw driver row into a canonical row, or raising a
    ValueError that names the table and column. ``identity`` holds the kinds the driver
    already returns canonically; ``special`` replaces the ``COERCE`` function of a kind
    (for a driver known to give one form only). None means every column passes as it is.

    The function is generated: one tuple expression touching only the columns that
    convert (a loop over every column with a function each cost ~2 µs a row)."""
    special = special or {}
    funcs = [special.get(k) or (None if k in identity else COERCE[k]) for k in kinds]
    if not any(funcs):
        return None

    def culprit(raw: tuple) -> None:
        for name, f, v in zip(names, funcs, raw):
            if v is not None and f is not None:
                try:
                    f(v)
                except (ValueError, TypeError, ArithmeticError) as exc:
                    raise ValueError(f"table {table} column {name}: {exc}") from None

    env = {f"f{i}": f for i, f in enumerate(funcs) if f is not None}
    env["culprit"] = culprit
    parts = "".join(f"r[{i}], " if f is None else f"None if r[{i}] is None else f{i}(r[{i}]), "
                    for i, f in enumerate(funcs))
    exec(f"def convert(r):\n"
         f"    try:\n"
         f"        return ({parts})\n"
         f"    except (ValueError, TypeError, ArithmeticError):\n"
         f"        culprit(r)\n"
         f"        raise\n", env)
    return env["convert"]
