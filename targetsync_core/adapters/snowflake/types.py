"""Snowflake's types: the canonical kind of each type ``DESC TABLE`` prints (native →
canonical), the type generated DDL declares for each kind (canonical → native), and how a
shadow row's value travels in the Parquet file the applier stages (its Arrow type, and
the expression that casts it to the column's type in ``COPY INTO``)."""
from __future__ import annotations

import re

from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.schema import Column
from targetsync_core.model.types import Kind

#: what ``VARCHAR`` and ``BINARY`` without a length hold (at least: newer accounts allow
#: more); a column of this length or more reads as text or blob
MAX_VARCHAR, MAX_BINARY = 16_777_216, 8_388_608
_TYPE = re.compile(r"^([A-Z_ ]+?)\s*(?:\((\d+)(?:\s*,\s*(\d+))?\))?$")

#: kinds Snowflake keeps as another (a CHAR is a VARCHAR there: it pads nothing; every
#: integer may live in a NUMBER(38,0), Snowflake's INT, which reads as a decimal)
STORED_AS = {Kind.INT16: Kind.DECIMAL, Kind.INT32: Kind.DECIMAL, Kind.INT64: Kind.DECIMAL, Kind.UINT16: Kind.DECIMAL,
             Kind.UINT32: Kind.DECIMAL, Kind.UINT64: Kind.DECIMAL, Kind.FLOAT32: Kind.FLOAT64,
             Kind.CHAR: Kind.VARCHAR, Kind.BINARY: Kind.BLOB, Kind.VARBINARY: Kind.BLOB, Kind.UUID: Kind.VARCHAR}


def integer_kind(precision: int) -> Kind | None:
    """NUMBER(p, 0) as an integer kind, by the digits it holds; wider (NUMBER(38,0),
    Snowflake's INT) is a decimal, which a source's integer column may sync into."""
    if precision <= 4:
        return Kind.INT16
    if precision <= 9:
        return Kind.INT32
    if precision <= 19:
        return Kind.INT64
    return None


def column_of(name: str, native: str, nullable: bool, where: str) -> Column:
    """A column from ``DESC TABLE``'s ``type`` (``NUMBER(19,0)``, ``VARCHAR(10)``,
    ``TIMESTAMP_NTZ(6)``, ``VARIANT``…)."""
    m = _TYPE.match(native.upper().strip())
    if not m:
        raise SchemaMismatch(f"{where} column {name} has type {native}, which targetsync does not map")
    base, a, b = m.group(1), m.group(2), m.group(3)
    a = int(a) if a is not None else None
    b = int(b) if b is not None else None
    col = lambda kind, **kw: Column(name, kind, nullable, native=native, **kw)  # noqa: E731
    if base in ("NUMBER", "DECIMAL", "NUMERIC"):
        p, s = a or 38, b or 0
        kind = integer_kind(p) if s == 0 else None
        return col(kind) if kind else col(Kind.DECIMAL, precision=p, scale=s)
    if base in ("INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"):
        return col(Kind.DECIMAL, precision=38, scale=0)
    if base in ("FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL"):
        return col(Kind.FLOAT64)
    if base in ("VARCHAR", "TEXT", "STRING", "CHAR", "CHARACTER", "NCHAR", "NVARCHAR"):
        return col(Kind.TEXT) if a is None or a >= MAX_VARCHAR else col(Kind.VARCHAR, length=a)
    if base in ("BINARY", "VARBINARY"):
        return col(Kind.BLOB) if a is None or a >= MAX_BINARY else col(Kind.VARBINARY, length=a)
    if base == "BOOLEAN":
        return col(Kind.BOOLEAN)
    if base == "DATE":
        return col(Kind.DATE)
    if base == "TIME":
        return col(Kind.TIME, precision=min(9 if a is None else a, 6))
    if base in ("TIMESTAMP_NTZ", "DATETIME", "TIMESTAMP"):
        return col(Kind.TIMESTAMP, precision=min(9 if a is None else a, 6))
    if base in ("TIMESTAMP_TZ", "TIMESTAMP_LTZ"):
        return col(Kind.TIMESTAMPTZ, precision=min(9 if a is None else a, 6))
    if base in ("VARIANT", "OBJECT", "ARRAY"):
        return col(Kind.JSON)
    raise SchemaMismatch(f"{where} column {name} has type {native}, which targetsync does not map")


def declared(col: Column) -> str:
    """The type generated DDL declares for ``col``."""
    k = col.kind
    fixed = {Kind.BOOLEAN: "BOOLEAN", Kind.INT16: "NUMBER(5,0)", Kind.INT32: "NUMBER(10,0)",
             Kind.INT64: "NUMBER(19,0)", Kind.UINT16: "NUMBER(5,0)", Kind.UINT32: "NUMBER(10,0)",
             Kind.UINT64: "NUMBER(20,0)", Kind.FLOAT32: "FLOAT", Kind.FLOAT64: "FLOAT", Kind.TEXT: "VARCHAR",
             Kind.BLOB: "BINARY", Kind.DATE: "DATE", Kind.UUID: "VARCHAR(36)", Kind.JSON: "VARIANT"}
    if k in fixed:
        return fixed[k]
    if k is Kind.DECIMAL:
        # no precision (PostgreSQL's numeric): the widest, whole numbers where the source says so
        return f"NUMBER({col.precision},{col.scale or 0})" if col.precision else \
            f"NUMBER(38,{0 if col.scale == 0 else 10})"
    if k in (Kind.CHAR, Kind.VARCHAR):
        return f"VARCHAR({col.length})" if col.length else "VARCHAR"
    if k in (Kind.BINARY, Kind.VARBINARY):
        return "BINARY"   # without its length: fakesnow refuses one, and a value fits either way
    p = col.precision if col.precision is not None else 6
    return {Kind.TIME: f"TIME({p})", Kind.TIMESTAMP: f"TIMESTAMP_NTZ({p})", Kind.TIMESTAMPTZ: f"TIMESTAMP_TZ({p})"}[k]


def arrow_type(kind: Kind):
    """The Arrow (Parquet) type a value of ``kind`` is staged in: exact values as text
    (decimals, uint64, binaries as hex), which ``COPY INTO`` casts."""
    import pyarrow as pa
    if kind in (Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32):
        return pa.int64()
    if kind in (Kind.FLOAT32, Kind.FLOAT64):
        return pa.float64()
    if kind is Kind.BOOLEAN:
        return pa.bool_()
    if kind is Kind.DATE:
        return pa.date32()
    if kind is Kind.TIME:
        return pa.time64("us")
    if kind is Kind.TIMESTAMP:
        return pa.timestamp("us")
    if kind is Kind.TIMESTAMPTZ:
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def staged_value(kind: Kind):
    """How a canonical value becomes its staged Arrow value (None: as it is)."""
    if kind in (Kind.DECIMAL, Kind.UINT64, Kind.UUID):
        return str
    if kind in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
        return lambda v: bytes(v).hex()
    return None


def cast_expr(field: str, kind: Kind, native: str) -> str:
    """``COPY INTO``'s expression for staged field ``field`` (``$1:c3``) into a column
    of type ``native``."""
    if kind is Kind.JSON or native.upper() in ("VARIANT", "OBJECT", "ARRAY"):
        return f"PARSE_JSON({field}::VARCHAR)"
    if kind in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
        return f"TO_BINARY({field}::VARCHAR, 'HEX')"
    return f"{field}::{native}"
