"""Schema reflection and DDL for server databases, through SQLAlchemy (imported lazily).

Reflection maps SQLAlchemy's reflected type objects onto canonical columns through one
dict from type-class name to a small function; DDL maps canonical columns onto
SQLAlchemy types per dialect and lets SQLAlchemy's compiler write the SQL:

* ``c.sql``: CREATE TABLE for every table (no constraints) and its ``<table>_wkm`` merge
  shadow table (same columns, all nullable, plus ``__op`` and ``__grp``);
* ``i.sql``: primary keys and unique constraints;
* ``f.sql``: foreign keys;
* ``d.sql``: DROP TABLE for shadows and tables.
"""
from __future__ import annotations

from typing import Callable

from targetsync_core.dsn import Dsn
from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.schema import Column, ForeignKey, Table
from targetsync_core.model.types import Kind


def make_engine(drivername: str, dsn: Dsn, **kw):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool
    url = sa.engine.URL.create(drivername, username=dsn.username, password=dsn.password, host=dsn.host,
                               port=dsn.port, database=dsn.database or None)
    return sa.create_engine(url, poolclass=NullPool, **kw)


# ---- reflection ------------------------------------------------------------------------

def _unsigned(t) -> bool:
    return bool(getattr(t, "unsigned", False))


def _int(signed: Kind, unsigned: Kind):
    return lambda t: (unsigned if _unsigned(t) else signed, {})


def _tinyint(t):
    if getattr(t, "display_width", None) == 1:
        return Kind.BOOLEAN, {}
    return (Kind.UINT16 if _unsigned(t) else Kind.INT16), {}


def _decimal(t):
    return Kind.DECIMAL, {"precision": t.precision, "scale": t.scale if t.precision is not None else None}


def _sized(kind: Kind):
    return lambda t: (kind, {"length": getattr(t, "length", None)})


def _fixed(kind: Kind):
    return lambda t: (kind, {})


def _precision(t, default: int) -> int:
    for attr in ("precision", "fsp"):
        v = getattr(t, attr, None)
        if v is not None:
            return v
    return default


def _time(t):
    if getattr(t, "timezone", False):
        raise ValueError("time with time zone has no canonical type")
    return Kind.TIME, {"precision": _precision(t, 6 if type(t).__module__.endswith("postgresql.types") else 0)}


def _pg_timestamp(t):
    kind = Kind.TIMESTAMPTZ if getattr(t, "timezone", False) else Kind.TIMESTAMP
    return kind, {"precision": _precision(t, 6)}


def _mysql_datetime(kind: Kind):
    return lambda t: (kind, {"precision": _precision(t, 0)})


def _enum(t):
    values = getattr(t, "enums", None) or []
    return Kind.VARCHAR, {"length": max((len(v) for v in values), default=1)}


def _set(t):
    values = getattr(t, "values", None) or []
    return Kind.VARCHAR, {"length": max(1, sum(len(v) + 1 for v in values))}


def _real(t):
    return Kind.FLOAT32, {}


def _float(t):  # MySQL FLOAT(p>24) and PG FLOAT(p>24) are doubles
    p = getattr(t, "precision", None)
    return (Kind.FLOAT64 if p and p > 24 else Kind.FLOAT32), {}


def capped(kind: Kind, default: int):
    """A temporal type's fractional digits (``default`` where reflection leaves them
    unset), at most 6: Python's datetime holds microseconds, so a seventh digit is read
    away and a target receives six."""
    def fn(t):
        p = getattr(t, "precision", None)
        return kind, {"precision": min(6, default if p is None else p)}
    return fn


def unbounded_or(kind: Kind, sized: Kind):
    """A string or binary type reflected without a length (``(max)``) as ``kind``, with
    one as ``sized`` of that length."""
    return lambda t: (kind, {}) if getattr(t, "length", None) in (None, "max") else (sized, {"length": t.length})


def refused(why: str):
    """A type targetsync refuses, saying ``why`` and what to do."""
    def fn(t):
        raise ValueError(why)
    return fn


REFLECTED: dict[str, Callable] = {
    "BOOLEAN": _fixed(Kind.BOOLEAN), "BOOL": _fixed(Kind.BOOLEAN), "TINYINT": _tinyint,
    "SMALLINT": _int(Kind.INT16, Kind.UINT16), "MEDIUMINT": _int(Kind.INT32, Kind.UINT32),
    "INTEGER": _int(Kind.INT32, Kind.UINT32), "INT": _int(Kind.INT32, Kind.UINT32),
    "BIGINT": _int(Kind.INT64, Kind.UINT64), "YEAR": _fixed(Kind.INT16),
    "NUMERIC": _decimal, "DECIMAL": _decimal,
    "REAL": _real, "FLOAT": _float, "DOUBLE": _fixed(Kind.FLOAT64), "DOUBLE_PRECISION": _fixed(Kind.FLOAT64),
    "CHAR": _sized(Kind.CHAR), "NCHAR": _sized(Kind.CHAR), "VARCHAR": _sized(Kind.VARCHAR),
    "NVARCHAR": _sized(Kind.VARCHAR), "TEXT": _fixed(Kind.TEXT), "TINYTEXT": _fixed(Kind.TEXT),
    "MEDIUMTEXT": _fixed(Kind.TEXT), "LONGTEXT": _fixed(Kind.TEXT), "CITEXT": _fixed(Kind.TEXT),
    "ENUM": _enum, "SET": _set,
    "BINARY": _sized(Kind.BINARY), "VARBINARY": _sized(Kind.VARBINARY), "BYTEA": _fixed(Kind.BLOB),
    "BLOB": _fixed(Kind.BLOB), "TINYBLOB": _fixed(Kind.BLOB), "MEDIUMBLOB": _fixed(Kind.BLOB),
    "LONGBLOB": _fixed(Kind.BLOB), "LARGEBINARY": _fixed(Kind.BLOB),
    "DATE": _fixed(Kind.DATE), "TIME": _time, "TIMESTAMP": _pg_timestamp,
    "UUID": _fixed(Kind.UUID), "JSON": _fixed(Kind.JSON), "JSONB": _fixed(Kind.JSON),
}

#: MySQL's DATETIME is a naive timestamp; its TIMESTAMP is stored in UTC (timestamptz).
MYSQL_REFLECTED = {**REFLECTED, "DATETIME": _mysql_datetime(Kind.TIMESTAMP),
                   "TIMESTAMP": _mysql_datetime(Kind.TIMESTAMPTZ)}


def column_from_sqla(info: dict, pk: tuple, dialect, where: str, mapping: dict) -> Column:
    t = info["type"]
    name = info["name"]
    native = _native(t, dialect)
    fn = mapping.get(type(t).__name__.upper())
    if fn is None:
        raise SchemaMismatch(f"{where} column {name} has type {native}, which targetsync does not map")
    try:
        kind, params = fn(t)
    except ValueError as exc:
        raise SchemaMismatch(f"{where} column {name} ({native}): {exc}") from None
    return Column(name, kind, bool(info.get("nullable", True)) and name not in pk, native=native, **params)


def _native(t, dialect) -> str:
    try:
        return str(t.compile(dialect=dialect))
    except Exception:  # noqa: BLE001 - a type SQLAlchemy cannot print still gets named
        return type(t).__name__


def reflect(engine, schema: str, name: str, mapping: dict = REFLECTED) -> Table | None:
    """The live table in canonical types, or None if it does not exist."""
    import sqlalchemy as sa
    insp = sa.inspect(engine)  # connection errors are the adapter's to translate
    if not insp.has_table(name, schema=schema):
        return None
    cols = insp.get_columns(name, schema=schema)
    pk = tuple(insp.get_pk_constraint(name, schema=schema).get("constrained_columns") or ())
    uniques = tuple(tuple(u["column_names"]) for u in insp.get_unique_constraints(name, schema=schema))
    fks = tuple(ForeignKey(tuple(f["constrained_columns"]), f.get("referred_schema") or schema,
                           f["referred_table"], tuple(f["referred_columns"]), f.get("name") or "")
                for f in insp.get_foreign_keys(name, schema=schema))
    where = f"table {schema}.{name}"
    columns = tuple(column_from_sqla(c, pk, engine.dialect, where, mapping) for c in cols)
    return Table(schema, name, columns, pk, uniques, fks)


# ---- DDL ---------------------------------------------------------------------------------

def generate_ddl(tables: list[Table], dialect, type_for: Callable[[Column, bool], object],
                 fk_options: dict | None = None, shadow_options: dict | None = None) -> dict[str, str]:
    """c/i/f/d.sql for ``dialect``; ``type_for(column, is_key)`` gives the SQLAlchemy type,
    ``fk_options`` the foreign keys' options (PostgreSQL's are ``DEFERRABLE``, so that
    the loader can defer them inside a file's transaction) and ``shadow_options`` the
    shadow tables' (Oracle's are global temporary)."""
    fk_options = fk_options or {}
    import sqlalchemy as sa
    from sqlalchemy.schema import AddConstraint, CreateTable, DropTable

    md = sa.MetaData()
    made: dict[str, sa.Table] = {}
    c_sql, i_sql, f_sql, d_sql = [], [], [], []

    def stmt(ddl) -> str:
        return str(ddl.compile(dialect=dialect)).strip() + ";\n"

    for t in tables:
        cols = [sa.Column(c.name, type_for(c, c.name in t.primary_key), nullable=c.nullable) for c in t.columns]
        st = sa.Table(t.name, md, *cols, schema=t.schema)
        made[t.qualified] = st
        c_sql.append(stmt(CreateTable(st)))
        shadow = sa.Table(f"{t.name}_wkm", md, sa.Column("__op", sa.CHAR(1)), sa.Column("__grp", sa.Integer),
                          *[sa.Column(c.name, type_for(c, c.name in t.primary_key), nullable=True) for c in t.columns],
                          schema=t.schema, **(shadow_options or {}))
        c_sql.append(stmt(CreateTable(shadow)))
        d_sql.append(stmt(DropTable(shadow, if_exists=True)))
        d_sql.append(stmt(DropTable(st, if_exists=True)))
    for t in tables:
        st = made[t.qualified]
        pk = sa.PrimaryKeyConstraint(*[st.c[n] for n in t.primary_key], name=_name(t.name, "pk"))
        st.append_constraint(pk)
        i_sql.append(stmt(AddConstraint(pk)))
        for n, u in enumerate(t.unique):
            uc = sa.UniqueConstraint(*[st.c[c] for c in u], name=_name(t.name, f"uq{n}"))
            st.append_constraint(uc)
            i_sql.append(stmt(AddConstraint(uc)))
        for n, fk in enumerate(t.foreign_keys):
            ref = made.get(f"{fk.ref_schema}.{fk.ref_table}")
            if ref is None:   # a table outside the list: referenced by name only
                ref = sa.Table(fk.ref_table, md, *[sa.Column(c, sa.Integer) for c in fk.ref_columns],
                               schema=fk.ref_schema, extend_existing=True)
            fkc = sa.ForeignKeyConstraint([st.c[c] for c in fk.columns], [ref.c[c] for c in fk.ref_columns],
                                          name=_name(t.name, f"fk{n}"), **fk_options)
            st.append_constraint(fkc)
            f_sql.append(stmt(AddConstraint(fkc)))
    head = f"-- generated by targetsync for {dialect.name}\n"
    return {"c.sql": head + "".join(c_sql), "i.sql": head + "".join(i_sql), "f.sql": head + "".join(f_sql),
            "d.sql": head + "".join(reversed(d_sql))}


def _name(table: str, suffix: str) -> str:
    return f"{table[:50]}_{suffix}"
