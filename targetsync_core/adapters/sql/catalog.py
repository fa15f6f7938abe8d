"""Live table shapes from the servers' own catalogs, without SQLAlchemy.

``emit``, ``validate``, ``sync`` and ``apply`` check every table against the ``.skt``
before any work and need only its columns (name, kind, nullability, length, precision,
scale) and primary key. SQLAlchemy's reflection gives that and more, but importing it,
making an engine and the inspector's five round trips on connections of their own cost
about 0.4 s a run (bench/PROFILE.md, round 10), a sixth of a 1M-row cross-engine
``validate``. These functions map one catalog row a column, as the adapters fetch it on a
pooled connection, onto the same canonical columns SQLAlchemy's reflection gives
(``adapters.sql.sqla``; ``tests/conformance/test_catalog_shape.py`` holds the two to each
other for every type) with the database's own spelling of the type as ``native``.

``schema`` still reflects through SQLAlchemy: it also needs unique and foreign keys and
writes SQLAlchemy's type names into the ``.skt``.

One deliberate difference: a MySQL ``FLOAT(M,D)`` is float32 here whatever ``M`` is (it
is four bytes); SQLAlchemy's mapping takes an ``M`` above 24 for a double.
"""
from __future__ import annotations

import re

from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.schema import Column
from targetsync_core.model.types import Kind

_ARGS = re.compile(r"\((.*)\)")

#: PostgreSQL ``format_type`` names (without their arguments) → kinds
PG_KINDS = {
    "boolean": Kind.BOOLEAN, "smallint": Kind.INT16, "integer": Kind.INT32, "bigint": Kind.INT64,
    "numeric": Kind.DECIMAL, "real": Kind.FLOAT32, "double precision": Kind.FLOAT64,
    "character": Kind.CHAR, "character varying": Kind.VARCHAR, "text": Kind.TEXT, "citext": Kind.TEXT,
    "bytea": Kind.BLOB, "date": Kind.DATE, "time": Kind.TIME, "time without time zone": Kind.TIME,
    "timestamp": Kind.TIMESTAMP, "timestamp without time zone": Kind.TIMESTAMP,
    "timestamp with time zone": Kind.TIMESTAMPTZ, "uuid": Kind.UUID, "json": Kind.JSON, "jsonb": Kind.JSON,
}

#: MySQL ``DATA_TYPE`` names → kinds (integers: signed, unsigned)
MYSQL_KINDS = {
    "smallint": (Kind.INT16, Kind.UINT16), "tinyint": (Kind.INT16, Kind.UINT16),
    "mediumint": (Kind.INT32, Kind.UINT32), "int": (Kind.INT32, Kind.UINT32), "integer": (Kind.INT32, Kind.UINT32),
    "bigint": (Kind.INT64, Kind.UINT64), "year": (Kind.INT16, Kind.INT16),
    "decimal": Kind.DECIMAL, "numeric": Kind.DECIMAL, "float": Kind.FLOAT32, "double": Kind.FLOAT64,
    "char": Kind.CHAR, "varchar": Kind.VARCHAR, "tinytext": Kind.TEXT, "text": Kind.TEXT,
    "mediumtext": Kind.TEXT, "longtext": Kind.TEXT, "binary": Kind.BINARY, "varbinary": Kind.VARBINARY,
    "tinyblob": Kind.BLOB, "blob": Kind.BLOB, "mediumblob": Kind.BLOB, "longblob": Kind.BLOB,
    "date": Kind.DATE, "time": Kind.TIME, "datetime": Kind.TIMESTAMP, "timestamp": Kind.TIMESTAMPTZ,
    "json": Kind.JSON, "enum": Kind.VARCHAR, "set": Kind.VARCHAR,
}


def _unmapped(where: str, name: str, native: str) -> SchemaMismatch:
    return SchemaMismatch(f"{where} column {name} has type {native}, which targetsync does not map")


def pg_column(name: str, format_type: str, typtype: str, not_null: bool, enum_length: int | None,
              in_key: bool, where: str) -> Column:
    """A PostgreSQL column from ``pg_attribute``: its ``format_type(atttypid, atttypmod)``,
    the type's ``typtype`` (``e`` for an enum, whose longest label is ``enum_length``
    characters: it reads as varchar), ``attnotnull``."""
    nullable = not not_null and not in_key
    if typtype == "e":
        return Column(name, Kind.VARCHAR, nullable, length=max(enum_length or 0, 1), native=format_type)
    base = _ARGS.sub("", format_type)
    kind = PG_KINDS.get(base) if typtype == "b" else None
    if kind is None:   # arrays, domains, ranges, composites, and types with no kind
        if base == "time with time zone":
            raise SchemaMismatch(f"{where} column {name} ({format_type}): time with time zone has no canonical type")
        raise _unmapped(where, name, format_type)
    found = _ARGS.search(format_type)   # a mapped type's arguments are numbers
    args = [int(a) for a in found.group(1).split(",")] if found else []
    params: dict = {}
    if kind is Kind.DECIMAL and len(args) == 2:
        params = {"precision": args[0], "scale": args[1]}
    elif kind in (Kind.CHAR, Kind.VARCHAR):
        params = {"length": args[0] if args else None}
    elif kind in (Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        params = {"precision": args[0] if args else 6}
    return Column(name, kind, nullable, native=format_type, **params)


_QUOTED = re.compile(r"'((?:[^']|'')*)'")


def mysql_column(name: str, data_type: str, column_type: str, nullable: bool, length: int | None,
                 precision: int | None, scale: int | None, fraction: int | None, in_key: bool,
                 where: str) -> Column:
    """A MySQL-family column from ``information_schema.COLUMNS``: ``DATA_TYPE``,
    ``COLUMN_TYPE``, ``IS_NULLABLE``, ``CHARACTER_MAXIMUM_LENGTH``, ``NUMERIC_PRECISION``,
    ``NUMERIC_SCALE`` and ``DATETIME_PRECISION``. A ``tinyint(1)`` is a boolean; ENUM
    and SET read as varchar as long as their longest value (SET: all values, each with a
    comma). MariaDB's JSON is a longtext here: the adapter knows it by its check."""
    data_type, low = data_type.lower(), column_type.lower()
    nullable = nullable and not in_key
    found = MYSQL_KINDS.get(data_type)
    if found is None:
        raise _unmapped(where, name, column_type)
    if isinstance(found, tuple):
        if data_type == "tinyint" and low.startswith("tinyint(1)"):
            return Column(name, Kind.BOOLEAN, nullable, native=column_type)
        return Column(name, found[1] if "unsigned" in low else found[0], nullable, native=column_type)
    if data_type in ("enum", "set"):
        values = [v.replace("''", "'") for v in _QUOTED.findall(column_type)]
        size = (max((len(v) for v in values), default=1) if data_type == "enum"
                else max(1, sum(len(v) + 1 for v in values)))
        return Column(name, Kind.VARCHAR, nullable, length=size, native=column_type)
    params: dict = {}
    if found is Kind.DECIMAL:
        params = {"precision": precision, "scale": scale if precision is not None else None}
    elif found in (Kind.CHAR, Kind.VARCHAR, Kind.BINARY, Kind.VARBINARY):
        params = {"length": length}
    elif found in (Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        params = {"precision": fraction or 0}
    return Column(name, found, nullable, native=column_type, **params)
