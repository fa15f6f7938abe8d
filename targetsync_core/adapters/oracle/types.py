"""Oracle's types: the two dicts (SQLAlchemy's reflected oracle types → canonical kinds,
canonical kinds → the types generated DDL declares) and how oracledb binds the values it
cannot take as they are.

Oracle has no boolean before 23ai, no unsigned integers, no ``time`` and no uuid:
generated DDL stores them as ``NUMBER(1)``, ``NUMBER(p)``, ``INTERVAL DAY TO
SECOND`` and ``RAW(16)``, and reads them back as the ``.skt``'s kind (``stored_as``).
``DATE`` holds seconds: it is read as ``timestamp(0)``. ``NUMBER`` without precision is a
decimal of any precision; ``NUMBER(p)`` an integer of the smallest kind holding ``p``
digits. ``FLOAT(b)`` is a decimal too in Oracle, read as a double.
"""
from __future__ import annotations

import datetime as dt
import uuid

from targetsync_core.adapters.sql import sqla
from targetsync_core.model.schema import Column
from targetsync_core.model.types import Kind


def _number(t):
    p, s = getattr(t, "precision", None), getattr(t, "scale", None)
    if p is None:
        return Kind.DECIMAL, {"precision": None, "scale": None}
    if not s:
        for kind, digits in ((Kind.INT16, 4), (Kind.INT32, 9), (Kind.INT64, 19 - 1)):
            if p <= digits:
                return kind, {}
        if p == 19:   # NUMBER(19): this adapter's int64 (its values are int64's)
            return Kind.INT64, {}
    return Kind.DECIMAL, {"precision": p, "scale": s or 0}


def _timestamp(t):
    aware = getattr(t, "timezone", False) or getattr(t, "local_timezone", False)
    return sqla.capped(Kind.TIMESTAMPTZ if aware else Kind.TIMESTAMP, 6)(t)


def _sized_char(kind: Kind):
    return lambda t: (kind, {"length": getattr(t, "length", None)})


#: SQLAlchemy's reflected oracle types → canonical kinds
REFLECTED = {
    **sqla.REFLECTED,
    "NUMBER": _number, "INTEGER": sqla._fixed(Kind.INT64),
    "BINARY_DOUBLE": sqla._fixed(Kind.FLOAT64), "BINARY_FLOAT": sqla._fixed(Kind.FLOAT32),
    "FLOAT": sqla._fixed(Kind.FLOAT64), "DOUBLE_PRECISION": sqla._fixed(Kind.FLOAT64),
    "REAL": sqla._fixed(Kind.FLOAT64),
    "VARCHAR": _sized_char(Kind.VARCHAR), "VARCHAR2": _sized_char(Kind.VARCHAR), "NVARCHAR": _sized_char(Kind.VARCHAR),
    "CHAR": _sized_char(Kind.CHAR), "NCHAR": _sized_char(Kind.CHAR),
    "CLOB": sqla._fixed(Kind.TEXT), "NCLOB": sqla._fixed(Kind.TEXT), "LONG": sqla._fixed(Kind.TEXT),
    "BLOB": sqla._fixed(Kind.BLOB), "RAW": lambda t: (Kind.VARBINARY, {"length": getattr(t, "length", None)}),
    "DATE": lambda t: (Kind.TIMESTAMP, {"precision": 0}), "TIMESTAMP": _timestamp,
    "INTERVAL": sqla.capped(Kind.TIME, 6),
    "JSON": sqla._fixed(Kind.JSON), "BOOLEAN": sqla._fixed(Kind.BOOLEAN),
}

#: kinds generated DDL stores in another kind's type, read back as the .skt's kind
STORED_AS = {Kind.BOOLEAN: Kind.INT16, Kind.UINT16: Kind.INT32, Kind.UINT32: Kind.INT64, Kind.UINT64: Kind.DECIMAL,
             Kind.UUID: Kind.VARBINARY, Kind.JSON: Kind.TEXT, Kind.DATE: Kind.TIMESTAMP,
             Kind.BINARY: Kind.VARBINARY}


def _time_to_interval(v: dt.time) -> dt.timedelta:
    return dt.timedelta(hours=v.hour, minutes=v.minute, seconds=v.second, microseconds=v.microsecond)


def _date_to_datetime(v: dt.date) -> dt.datetime:
    return dt.datetime(v.year, v.month, v.day)


#: canonical values as oracledb binds them where it cannot take them as they are
TO_DRIVER = {Kind.UUID: lambda v: v.bytes, Kind.TIME: _time_to_interval, Kind.BOOLEAN: int,
             Kind.DATE: _date_to_datetime}


def to_uuid(v) -> uuid.UUID:
    """A ``RAW(16)`` read back as the uuid it holds."""
    return uuid.UUID(bytes=bytes(v)) if isinstance(v, (bytes, bytearray)) else uuid.UUID(str(v))


def declared(col: Column, is_key: bool):
    """The SQLAlchemy type generated DDL declares for ``col`` (canonical → native). String
    lengths count characters (``VARCHAR2(n CHAR)``); a string key of no length is
    ``VARCHAR2(1000 CHAR)`` (a key cannot be a CLOB)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import oracle as ora
    k = col.kind
    number = {Kind.BOOLEAN: 1, Kind.INT16: 5, Kind.INT32: 10, Kind.INT64: 19, Kind.UINT16: 5, Kind.UINT32: 10,
              Kind.UINT64: 20}
    if k in number:
        return ora.NUMBER(number[k], 0)
    if k is Kind.DECIMAL:
        return ora.NUMBER(col.precision, col.scale) if col.precision else ora.NUMBER()
    if k is Kind.FLOAT32:
        return ora.BINARY_FLOAT()
    if k is Kind.FLOAT64:
        return ora.BINARY_DOUBLE()
    if k is Kind.CHAR:
        return sa.CHAR(col.length or 1)
    if k is Kind.VARCHAR or (is_key and k is Kind.TEXT):
        length = col.length if col.length and col.length <= 4000 else None
        return ora.VARCHAR2(length or 1000) if length or is_key else ora.CLOB()
    if k in (Kind.TEXT, Kind.JSON):
        return ora.CLOB()
    if k in (Kind.BINARY, Kind.VARBINARY, Kind.UUID):
        length = 16 if k is Kind.UUID else col.length
        return ora.RAW(length) if length and length <= 2000 else ora.BLOB()
    if k is Kind.BLOB:
        return ora.BLOB()
    if k is Kind.DATE:
        return ora.DATE()
    if k is Kind.TIME:
        return ora.INTERVAL()   # DAY(2) TO SECOND(6): any time of day, to the microsecond
    return ora.TIMESTAMP(timezone=k is Kind.TIMESTAMPTZ)
