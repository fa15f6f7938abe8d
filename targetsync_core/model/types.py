"""The canonical type set: the one place that says what a column's values are.

Every adapter maps its native types onto these kinds (two dicts per adapter), every
value read from a database is converted to the Python type given here, and the ``.ckt``
codec encodes exactly these Python types:

====================  ==========================  =====================================
kind                  Python value                parameters
====================  ==========================  =====================================
boolean               bool
int16/int32/int64     int                         range checked
uint16/uint32/uint64  int                         range checked
decimal               decimal.Decimal             precision, scale
float32/float64       float                       NaN and ±Infinity allowed
char/varchar          str                         length (characters)
text                  str
binary/varbinary      bytes                       length (bytes)
blob                  bytes
date                  datetime.date
time                  datetime.time (naive)       precision (fractional digits, 0-6)
timestamp             datetime.datetime (naive)   precision
timestamptz           datetime.datetime (UTC)     precision
uuid                  uuid.UUID
json                  str (the JSON text)
====================  ==========================  =====================================
"""
from __future__ import annotations

from enum import Enum


class Kind(str, Enum):
    BOOLEAN = "boolean"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    UINT16 = "uint16"
    UINT32 = "uint32"
    UINT64 = "uint64"
    DECIMAL = "decimal"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    CHAR = "char"
    VARCHAR = "varchar"
    TEXT = "text"
    BINARY = "binary"
    VARBINARY = "varbinary"
    BLOB = "blob"
    DATE = "date"
    TIME = "time"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    UUID = "uuid"
    JSON = "json"


INTEGER_RANGES: dict[Kind, tuple[int, int]] = {
    Kind.INT16: (-(2**15), 2**15 - 1),
    Kind.INT32: (-(2**31), 2**31 - 1),
    Kind.INT64: (-(2**63), 2**63 - 1),
    Kind.UINT16: (0, 2**16 - 1),
    Kind.UINT32: (0, 2**32 - 1),
    Kind.UINT64: (0, 2**64 - 1),
}

STRING_KINDS = frozenset({Kind.CHAR, Kind.VARCHAR, Kind.TEXT, Kind.JSON})
BINARY_KINDS = frozenset({Kind.BINARY, Kind.VARBINARY, Kind.BLOB})
FLOAT_KINDS = frozenset({Kind.FLOAT32, Kind.FLOAT64})
TEMPORAL_KINDS = frozenset({Kind.DATE, Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ})

#: Kinds that may form a primary key. Floats have no exact order shared by every
#: database, and JSON has no order at all, so a key over them is refused.
KEY_KINDS = frozenset(Kind) - FLOAT_KINDS - {Kind.JSON}

#: Families for checking a live table against the ``.skt``: a target may store a kind as
#: another of the same family (``varchar`` as ``text``, ``uint32`` as a wider integer).
FAMILY: dict[Kind, str] = {
    **{k: "integer" for k in INTEGER_RANGES}, Kind.BOOLEAN: "boolean", Kind.DECIMAL: "decimal",
    **{k: "float" for k in FLOAT_KINDS}, Kind.CHAR: "string", Kind.VARCHAR: "string", Kind.TEXT: "string",
    **{k: "bytes" for k in BINARY_KINDS}, Kind.DATE: "date", Kind.TIME: "time",
    Kind.TIMESTAMP: "timestamp", Kind.TIMESTAMPTZ: "timestamp", Kind.UUID: "uuid", Kind.JSON: "json",
}

#: Kinds whose parameters are meaningful, and which ones.
LENGTH_KINDS = frozenset({Kind.CHAR, Kind.VARCHAR, Kind.BINARY, Kind.VARBINARY})
PRECISION_KINDS = frozenset({Kind.DECIMAL, Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ})
