"""CQL types as canonical kinds, and the driver's values as canonical values.

=====================================  ==============================  ======================================
CQL type                               kind                            value
=====================================  ==============================  ======================================
ascii, text, varchar                   text
tinyint, smallint / int / bigint,      int16 / int32 / int64
counter
varint                                 decimal (unbounded, scale 0)    an integral Decimal
decimal                                decimal (unbounded)
float / double                         float32 / float64
boolean                                boolean
timestamp                              timestamptz (3 digits)          the driver's UTC datetime, made aware
                                                                       and put back on its millisecond
date                                   date
time                                   time (6 digits)                 nanoseconds cut to microseconds
uuid, timeuuid                         uuid
blob                                   blob
inet                                   varchar(45)                     the address's text
duration                               varchar(64)                     ``1mo2d3ns``-style text
list, set, map, tuple, frozen<…>       json                            arrays (sets sorted), objects (maps'
                                                                       keys as text), decimals as strings,
                                                                       blobs as ``0x…`` hex, temporal values
                                                                       and uuids as their text
user-defined types                     refused in one line
=====================================  ==============================  ======================================
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid

from targetsync_core.model.schema import Column
from targetsync_core.model.types import Kind

UTC = dt.timezone.utc

SIMPLE: dict[str, tuple[Kind, dict]] = {
    "ascii": (Kind.TEXT, {}), "text": (Kind.TEXT, {}), "varchar": (Kind.TEXT, {}),
    "tinyint": (Kind.INT16, {}), "smallint": (Kind.INT16, {}), "int": (Kind.INT32, {}),
    "bigint": (Kind.INT64, {}), "counter": (Kind.INT64, {}),
    "varint": (Kind.DECIMAL, {"scale": 0}), "decimal": (Kind.DECIMAL, {}),
    "float": (Kind.FLOAT32, {}), "double": (Kind.FLOAT64, {}), "boolean": (Kind.BOOLEAN, {}),
    "timestamp": (Kind.TIMESTAMPTZ, {"precision": 3}), "date": (Kind.DATE, {}),
    "time": (Kind.TIME, {"precision": 6}), "uuid": (Kind.UUID, {}), "timeuuid": (Kind.UUID, {}),
    "blob": (Kind.BLOB, {}), "inet": (Kind.VARCHAR, {"length": 45}), "duration": (Kind.VARCHAR, {"length": 64}),
}
COLLECTIONS = ("list", "set", "map", "tuple", "frozen")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UnknownType(ValueError):
    """A CQL type targetsync does not read (a user-defined type): its name."""


def column(name: str, cql: str, nullable: bool) -> Column:
    """The canonical column of a CQL column of type ``cql`` (as ``system_schema`` spells
    it); raises UnknownType naming a user-defined type."""
    text = cql.strip().lower()
    for word in _WORD.findall(text):
        if word not in SIMPLE and word not in COLLECTIONS:
            raise UnknownType(word)
    head = _WORD.match(text)
    if head and head.group(0) in COLLECTIONS:
        return Column(name, Kind.JSON, nullable, native=cql)
    kind, params = SIMPLE[text]
    return Column(name, kind, nullable, native=cql, **params)


def to_millisecond(v: dt.datetime) -> dt.datetime:
    """The driver turns a timestamp's milliseconds into a datetime through a float, which
    strays by microseconds far from 1970: Cassandra holds whole milliseconds."""
    whole = v.replace(microsecond=0)
    try:
        return whole + dt.timedelta(milliseconds=round(v.microsecond / 1000))
    except OverflowError:
        return whole


def _timestamp(v):
    v = to_millisecond(v)
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


def _date(v):
    return v if isinstance(v, dt.date) else v.date()


def _time(v):
    if isinstance(v, dt.time):
        return v
    ns = v.nanosecond_time
    seconds, rest = divmod(ns, 10**9)
    return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, rest // 1000)


def _varint(v):
    return decimal.Decimal(v)


def _inet(v):
    return str(v)


def plain(v):
    """A value inside a collection, as JSON holds it."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "0x" + bytes(v).hex()
    if isinstance(v, (decimal.Decimal, uuid.UUID)):
        return str(v)
    if isinstance(v, dt.datetime):
        return _timestamp(v).isoformat()
    if isinstance(v, dict) or hasattr(v, "items"):
        return {k if isinstance(k, str) else json.dumps(plain(k), sort_keys=True): plain(x) for k, x in v.items()}
    if isinstance(v, (set, frozenset)) or type(v).__name__ == "SortedSet":
        return sorted((plain(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return str(v)   # date, time, duration, inet: their text


def _json(v):
    return json.dumps(plain(v), ensure_ascii=False, sort_keys=True)


READ = {"varint": _varint, "timestamp": _timestamp, "date": _date, "time": _time, "inet": _inet,
        "duration": str}


def reader(col: Column):
    """The function turning the driver's value of ``col`` into the canonical one (None:
    taken as it is)."""
    if col.kind is Kind.JSON:
        return _json
    return READ.get(col.native.strip().lower())


def to_driver(col: Column, v):
    """A canonical key value as the driver binds it for ``col`` (a varint as an int)."""
    return int(v) if v is not None and col.native.strip().lower() == "varint" else v
