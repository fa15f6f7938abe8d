"""SQL Server's types: the two dicts (SQLAlchemy's reflected mssql types → canonical
kinds, canonical kinds → the types generated DDL declares), how pyodbc binds and reads the
values it cannot take as they are, and the parameter types of a shadow row."""
from __future__ import annotations

import datetime as dt
import struct

from targetsync_core.adapters.sql import sqla
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

BINARY_COLLATION = "Latin1_General_100_BIN2"


#: SQLAlchemy's reflected mssql types → canonical kinds (over the shared map)
REFLECTED = {
    **sqla.REFLECTED,
    "BIT": sqla._fixed(Kind.BOOLEAN), "TINYINT": sqla._fixed(Kind.INT16),
    "MONEY": lambda t: (Kind.DECIMAL, {"precision": 19, "scale": 4}),
    "SMALLMONEY": lambda t: (Kind.DECIMAL, {"precision": 10, "scale": 4}),
    "FLOAT": lambda t: (Kind.FLOAT32 if (getattr(t, "precision", None) or 53) <= 24 else Kind.FLOAT64, {}),
    "VARCHAR": sqla.unbounded_or(Kind.TEXT, Kind.VARCHAR), "NVARCHAR": sqla.unbounded_or(Kind.TEXT, Kind.VARCHAR),
    "VARBINARY": sqla.unbounded_or(Kind.BLOB, Kind.VARBINARY), "IMAGE": sqla._fixed(Kind.BLOB),
    "NTEXT": sqla._fixed(Kind.TEXT), "XML": sqla._fixed(Kind.TEXT),
    "DATETIME": lambda t: (Kind.TIMESTAMP, {"precision": 3}),
    "SMALLDATETIME": lambda t: (Kind.TIMESTAMP, {"precision": 0}),
    "DATETIME2": sqla.capped(Kind.TIMESTAMP, 7), "DATETIMEOFFSET": sqla.capped(Kind.TIMESTAMPTZ, 7),
    "TIME": sqla.capped(Kind.TIME, 7),
    "UNIQUEIDENTIFIER": sqla._fixed(Kind.UUID),
    # rowversion: eight bytes the server writes; readable, never writable (the applier refuses it)
    "TIMESTAMP": lambda t: (Kind.BINARY, {"length": 8}), "ROWVERSION": lambda t: (Kind.BINARY, {"length": 8}),
    "SQL_VARIANT": sqla.refused("sql_variant holds values of any type; cast it in a view to one type"),
}


def _utc_text(v: dt.datetime) -> str:
    """An aware timestamp as the text ``datetimeoffset`` takes (isoformat: strftime's %Y
    writes the year 1 as "1", which a server reads as 2001)."""
    return v.astimezone(dt.timezone.utc).isoformat(sep=" ", timespec="microseconds")


#: canonical values as pyodbc binds them where it cannot take the Python value as it is
#: (a ``time`` would lose its fraction, an aware ``datetime`` is refused, a UUID is bound
#: as text, which SQL Server converts)
TO_DRIVER = {Kind.UUID: str, Kind.TIMESTAMPTZ: _utc_text, Kind.TIME: lambda v: v.isoformat()}


def datetimeoffset(raw: bytes) -> dt.datetime:
    """pyodbc's output converter for ``datetimeoffset`` (ODBC type -155, which it cannot
    read itself): the SQL_SS_TIMESTAMPOFFSET_STRUCT, as an aware UTC datetime."""
    y, mo, d, h, mi, s, ns, tzh, tzm = struct.unpack("<6hI2h", raw)
    local = dt.datetime(y, mo, d, h, mi, s, ns // 1000, dt.timezone(dt.timedelta(hours=tzh, minutes=tzm)))
    return local.astimezone(dt.timezone.utc)


def input_sizes(table: Table) -> list[tuple]:
    """pyodbc's ``setinputsizes`` for a shadow row of ``table``: (ODBC type, size,
    decimal digits) for ``__op``, ``__grp`` and each column, by canonical kind."""
    import pyodbc as o
    text = (o.SQL_WVARCHAR, 0, 0)
    fixed = {
        Kind.BOOLEAN: (o.SQL_BIT, 0, 0), Kind.INT16: (o.SQL_SMALLINT, 0, 0), Kind.INT32: (o.SQL_INTEGER, 0, 0),
        Kind.INT64: (o.SQL_BIGINT, 0, 0), Kind.UINT16: (o.SQL_INTEGER, 0, 0), Kind.UINT32: (o.SQL_BIGINT, 0, 0),
        Kind.UINT64: (o.SQL_NUMERIC, 20, 0), Kind.FLOAT32: (o.SQL_REAL, 0, 0), Kind.FLOAT64: (o.SQL_DOUBLE, 0, 0),
        Kind.TEXT: text, Kind.JSON: text, Kind.BLOB: (o.SQL_VARBINARY, 0, 0), Kind.DATE: (o.SQL_TYPE_DATE, 0, 0),
        Kind.TIME: (o.SQL_WVARCHAR, 16, 0), Kind.TIMESTAMP: (o.SQL_TYPE_TIMESTAMP, 27, 6),
        Kind.TIMESTAMPTZ: (o.SQL_WVARCHAR, 34, 0), Kind.UUID: (o.SQL_WVARCHAR, 36, 0),
    }

    def size(c: Column) -> tuple:
        if c.kind in fixed:
            return fixed[c.kind]
        if c.kind is Kind.DECIMAL:
            return (o.SQL_NUMERIC, c.precision or 38, c.scale or 0)
        if c.kind in (Kind.BINARY, Kind.VARBINARY):
            return (o.SQL_VARBINARY, c.length if c.length and c.length <= 8000 else 0, 0)
        return (o.SQL_WVARCHAR, c.length if c.length and c.length <= 4000 else 0, 0)
    return [(o.SQL_WCHAR, 1, 0), (o.SQL_INTEGER, 0, 0), *map(size, table.columns)]


def declared(col: Column, is_key: bool):
    """The SQLAlchemy type generated DDL declares for ``col`` (canonical → native): strings
    as ``nvarchar``/``nchar`` (a key under a binary collation, at most 450 characters: an
    index key holds 900 bytes), timestamps as ``datetime2``/``datetimeoffset``."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import mssql as ms
    k = col.kind
    fixed = {
        Kind.BOOLEAN: ms.BIT, Kind.INT16: sa.SMALLINT, Kind.INT32: sa.INTEGER, Kind.INT64: sa.BIGINT,
        Kind.UINT16: sa.INTEGER, Kind.UINT32: sa.BIGINT, Kind.FLOAT32: ms.REAL, Kind.DATE: sa.DATE,
        Kind.UUID: ms.UNIQUEIDENTIFIER,
    }
    if k in fixed:
        return fixed[k]()
    if k is Kind.FLOAT64:
        return sa.FLOAT(53)
    if k is Kind.UINT64:
        return sa.NUMERIC(20, 0)
    if k is Kind.DECIMAL:
        # no precision (PostgreSQL's numeric, Cassandra's decimal): the widest, and whole
        # numbers where the source says so (Cassandra's varint)
        return sa.NUMERIC(col.precision, col.scale) if col.precision else sa.NUMERIC(38, 0 if col.scale == 0 else 10)
    collation = BINARY_COLLATION if is_key else None
    if k is Kind.CHAR:
        return sa.NCHAR(col.length or 1, collation=collation)
    if k in (Kind.VARCHAR, Kind.TEXT, Kind.JSON):
        length = col.length if k is Kind.VARCHAR and col.length and col.length <= 4000 else None
        if is_key:
            length = min(length or 450, 450)
        return sa.NVARCHAR(length, collation=collation)
    if k in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
        length = col.length if k is not Kind.BLOB and col.length and col.length <= 8000 else None
        return (sa.BINARY(length) if k is Kind.BINARY and length else ms.VARBINARY(length or "max"))
    if k is Kind.TIME:
        return ms.TIME(col.precision if col.precision is not None else 6)
    if k is Kind.TIMESTAMP:
        return ms.DATETIME2(col.precision if col.precision is not None else 6)
    return ms.DATETIMEOFFSET(col.precision if col.precision is not None else 6)
