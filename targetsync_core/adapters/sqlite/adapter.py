"""The SQLite adapter: the embedded default, as source and as target.

DSN: ``sqlite:///relative/path.db`` (relative to the DSN file's folder) or
``sqlite:////absolute/path.db``. The schema name of a table is ``main`` (or the name of
a database ATTACHed by the user). The database file must exist; it is never created by
opening it.

Keys sort with SQLite's BINARY collation, which is memcmp over UTF-8 and therefore
code-point order; decimal keys, stored as text, sort through a collation that compares
them as numbers. The apply uses a per-connection TEMP shadow table ``<table>_wkm``:
SQLite's temporary schema is private to the loader's connection, so no DDL step is
needed for it.
"""
from __future__ import annotations

import os
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from targetsync_core.adapters.sql import references
from targetsync_core.adapters.coerce import converted_rows, row_converter
from targetsync_core.adapters.base import Capabilities, Database, TableBatch
from targetsync_core.adapters.sql.server import bounds_sql, keyset_predicate
from targetsync_core.adapters.sql.sqlapply import SqlApplier, shadow_rows
from targetsync_core.adapters.sqlite import types as T
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConnectError, DataError, SchemaMismatch
from targetsync_core.model.schema import Column, ForeignKey, Table
from targetsync_core.model.types import Kind

APPLIED = "_targetsync_applied"
LEASE = "_targetsync_lease"
DECIMAL_COLLATION = "TS_DECIMAL"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(table: Table) -> str:
    return f"{quote_ident(table.schema)}.{quote_ident(table.name)}"


def _decimal_collation(a: str, b: str) -> int:
    try:
        x, y = Decimal(a), Decimal(b)
    except ArithmeticError:
        x, y = a, b
    return (x > y) - (x < y)


class SqliteDatabase(Database):
    capabilities = Capabilities(name="sqlite", max_integer=T.SQLITE_MAX_INTEGER, fits_values=False)

    def __init__(self, path: str, source: str = ""):
        self.path = path
        self.source = source or path

    @classmethod
    def from_dsn(cls, type_name: str, dsn: Dsn) -> "SqliteDatabase":
        if dsn.scheme != "sqlite":
            raise SchemaMismatch(f"{dsn.source}: a {type_name} database needs a sqlite:/// DSN, not {dsn.scheme}")
        return cls(dsn.database, dsn.source)

    def identity(self) -> str:
        return f"sqlite {os.path.abspath(self.path)}"

    # -- connections --
    def connect(self) -> sqlite3.Connection:
        if not Path(self.path).is_file():
            raise ConnectError(f"sqlite database {self.path} does not exist (DSN file {self.source})")
        try:
            conn = sqlite3.connect(f"file:{quote(os.path.abspath(self.path))}?mode=rw", uri=True,
                                   timeout=60, isolation_level=None, check_same_thread=False)
            conn.create_collation(DECIMAL_COLLATION, _decimal_collation)
        except sqlite3.Error as exc:
            raise ConnectError(f"sqlite database {self.path} cannot be opened: {exc}") from None
        return conn

    # -- source contract --
    def reflect(self, schema: str, name: str) -> Table | None:
        conn = self.connect()
        try:
            return _reflect(conn, schema, name)
        except sqlite3.Error as exc:
            raise DataError(f"sqlite table {schema}.{name}: {exc}") from None
        finally:
            conn.close()

    def foreign_keys(self, schemas: set[str]) -> list:
        """The declared foreign keys (``PRAGMA foreign_key_list``; one naming no column
        references the parent's primary key), named ``<table>_fk<n>``. The loader's
        connection does not enforce them, as SQLite's default is."""
        conn = self.connect()
        rows = []
        try:
            known = {r[1] for r in conn.execute("PRAGMA database_list")}
            for schema in sorted(schemas & known):
                s = quote_ident(schema)
                for (name,) in conn.execute(f"SELECT name FROM {s}.sqlite_master WHERE type = 'table'").fetchall():
                    for fid, seq, parent, col, ref, *_ in conn.execute(
                            f"PRAGMA {s}.foreign_key_list({quote_ident(name)})").fetchall():
                        if ref is None:
                            info = conn.execute(f"PRAGMA {s}.table_info({quote_ident(parent)})").fetchall()
                            ref = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]][seq]
                        rows.append((f"{name}_fk{fid}", f"{schema}.{name}", col, f"{schema}.{parent}", ref, False))
        except sqlite3.Error as exc:
            raise DataError(f"reading the foreign keys of sqlite database {self.path}: {exc}") from None
        finally:
            conn.close()
        return references.grouped(rows)

    def find_orphan(self, child: Table, columns: tuple[str, ...], parent: Table,
                    ref_columns: tuple[str, ...]) -> tuple | None:
        return references.first_orphan(child, columns, parent, ref_columns, quote_ident, qualified,
                                       lambda t, cols, sql: self._stream(t, cols, sql, ()))

    def read_keys(self, table: Table) -> Iterator[tuple]:
        pos = table.key_positions
        cols = [table.columns[p] for p in pos]
        sql = f"SELECT {', '.join(quote_ident(c.name) for c in cols)} FROM {qualified(table)} " \
              f"ORDER BY {_order_by(table)}"
        yield from self._stream(table, cols, sql, ())

    def window_bounds(self, table: Table, window_size: int) -> list[tuple]:
        cols = list(table.key_columns)
        names = ", ".join(quote_ident(c.name) for c in cols)
        sql = bounds_sql(names, names, _order_by(table), qualified(table), "(ts_rn - 1) % ? = 0")
        return list(self._stream(table, cols, sql, (window_size,)))

    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        where, params = _window_predicate(table, window)
        sql = f"SELECT {', '.join(quote_ident(c.name) for c in table.columns)} FROM {qualified(table)}" \
              f"{where} ORDER BY {_order_by(table)}"
        yield from self._stream(table, table.columns, sql, params)

    def _stream(self, table: Table, cols, sql: str, params) -> Iterator[tuple]:
        convert = row_converter([c.kind for c in cols], table.qualified, [c.name for c in cols])
        conn = self.connect()
        try:
            yield from converted_rows(conn.execute(sql, params), convert)
        except sqlite3.Error as exc:
            raise DataError(f"reading sqlite table {table.qualified}: {exc}") from None
        except ValueError as exc:
            raise DataError(f"reading sqlite {exc}") from None
        finally:
            conn.close()

    # -- target contract --
    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        return generate_ddl(tables)

    def open_applier(self) -> "SqliteApplier":
        return SqliteApplier(self.connect())

    def insert_rows(self, table: Table, rows) -> None:
        """Insert canonical rows as this adapter stores them (demo and test data)."""
        store = [T.to_storage(c) for c in table.columns]
        conn = self.connect()
        try:
            with _transaction(conn):
                conn.executemany(
                    f"INSERT INTO {qualified(table)} VALUES ({', '.join('?' * len(table.columns))})",
                    (tuple(v if v is None or f is None else f(v) for f, v in zip(store, r)) for r in rows))
        finally:
            conn.close()

    def execute_script(self, sql: str) -> None:
        conn = self.connect()
        try:
            conn.executescript(sql)
        except sqlite3.Error as exc:
            raise DataError(f"sqlite database {self.path}: {exc}") from None
        finally:
            conn.close()


def _key_expr(col: Column) -> str:
    q = quote_ident(col.name)
    return f"{q} COLLATE {DECIMAL_COLLATION}" if col.kind is Kind.DECIMAL else q


def _order_by(table: Table) -> str:
    return ", ".join(_key_expr(c) for c in table.key_columns)


def _key_params(table: Table, key: tuple) -> list:
    out = []
    for col, v in zip(table.key_columns, key):
        f = T.to_storage(col)
        out.append(v if f is None else f(v))
    return out


def _window_predicate(table: Table, w: Window) -> tuple[str, list]:
    return keyset_predicate([_key_expr(c) for c in table.key_columns], w, "?", lambda key: _key_params(table, key))


def _reflect(conn: sqlite3.Connection, schema: str, name: str) -> Table | None:
    dbs = {row[1] for row in conn.execute("PRAGMA database_list")}
    if schema not in dbs:
        return None
    s = quote_ident(schema)
    found = conn.execute(f"SELECT type FROM {s}.sqlite_master WHERE type IN ('table', 'view') AND name = ?",
                         (name,)).fetchone()
    if not found:
        return None
    if found[0] == "view":
        raise SchemaMismatch(f"table {schema}.{name} is a view: targetsync syncs tables, each with a primary key; "
                             "list the tables the view reads")
    where = f"table {schema}.{name}"
    info = conn.execute(f"PRAGMA {s}.table_info({quote_ident(name)})").fetchall()
    pk = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
    cols = tuple(T.column_from_declared(r[1], r[2], not r[3] and r[1] not in pk, where) for r in info)
    unique = []
    for idx in conn.execute(f"PRAGMA {s}.index_list({quote_ident(name)})").fetchall():
        if idx[2] and idx[3] == "u":
            unique.append(tuple(r[2] for r in conn.execute(f"PRAGMA {s}.index_info({quote_ident(idx[1])})")))
    fks: dict[int, list] = {}
    for r in conn.execute(f"PRAGMA {s}.foreign_key_list({quote_ident(name)})").fetchall():
        fks.setdefault(r[0], []).append(r)
    foreign = tuple(ForeignKey(tuple(r[3] for r in rows), schema, rows[0][2], tuple(r[4] for r in rows))
                    for rows in fks.values())
    return Table(schema, name, cols, pk, tuple(unique), foreign)


class SqliteApplier(SqlApplier):
    """Applies change files to a SQLite target; one connection, one transaction a file."""

    mark = "?"
    for_update = ""  # BEGIN IMMEDIATE already holds the database's write lock

    def __init__(self, conn: sqlite3.Connection):
        super().__init__(conn, quote_ident(APPLIED), quote_ident(LEASE))
        conn.execute("PRAGMA journal_mode = WAL")  # the emitter may read while we write
        self.create_metadata()

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def apply_batch(self, batch: TableBatch) -> None:
        self.count_missed(batch, _apply_batch(self.conn, batch))

    def translate(self, exc: Exception, batch: TableBatch | None) -> Exception:
        if batch is not None and isinstance(exc, (sqlite3.Error, OverflowError, ValueError, TypeError)):
            return DataError(f"applying to sqlite table {batch.table.qualified}: {exc}")
        return exc


class _transaction:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _apply_batch(conn: sqlite3.Connection, batch: TableBatch) -> int:
    """Apply one batch; the number of rows its U records updated."""
    t = batch.table
    cols = t.columns
    store = [T.to_storage(c) for c in cols]
    shadow = f"temp.{quote_ident(t.name + '_wkm')}"
    names = [quote_ident(c.name) for c in cols]
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {quote_ident(t.name + '_wkm')} "
                 f"(__op TEXT, __grp INTEGER, {', '.join(names)})")
    conn.execute(f"DELETE FROM {shadow}")
    conn.executemany(f"INSERT INTO {shadow} VALUES ({', '.join('?' * (len(cols) + 2))})",
                     _shadow_rows(batch, store))
    target = qualified(t)
    keys = [quote_ident(c.name) for c in t.key_columns]
    key_list = ", ".join(keys)
    if batch.deletes:
        lhs = f"({key_list})" if len(keys) > 1 else key_list
        conn.execute(f"DELETE FROM {target} WHERE {lhs} IN (SELECT {key_list} FROM {shadow} WHERE __op = 'D')")
    if batch.upserts:
        rest = [n for n, c in zip(names, cols) if c.name not in t.primary_key]
        action = ("DO UPDATE SET " + ", ".join(f"{n} = excluded.{n}" for n in rest)) if rest else "DO NOTHING"
        conn.execute(f"INSERT INTO {target} ({', '.join(names)}) SELECT {', '.join(names)} FROM {shadow} "
                     f"WHERE __op = 'I' ON CONFLICT ({key_list}) {action}")
    # both sides aliased: an unaliased target named like the shadow's alias ("w") clashed
    match = " AND ".join(f"ts_t.{_key_expr(c)} = ts_w.{_key_expr(c)}" for c in t.key_columns)
    updated = 0
    for grp, offsets in enumerate(batch.updates):
        sets = ", ".join(f"{names[o]} = ts_w.{names[o]}" for o in offsets)
        updated += conn.execute(f"UPDATE {target} AS ts_t SET {sets} FROM (SELECT * FROM {shadow} WHERE __op = 'U' "
                                f"AND __grp = ?) AS ts_w WHERE {match}", (grp,)).rowcount
    return updated


def _shadow_rows(batch: TableBatch, store) -> Iterator[tuple]:
    for op, grp, *vals in shadow_rows(batch):
        yield (op, grp, *(v if v is None or f is None else f(v) for f, v in zip(store, vals)))


# ---- DDL for the schema command ------------------------------------------------------

def generate_ddl(tables: list[Table]) -> dict[str, str]:
    """c.sql / i.sql / f.sql / d.sql for a SQLite target. SQLite cannot add a primary or
    foreign key to an existing table, so both are declared inside CREATE TABLE (c.sql);
    i.sql holds the unique indexes, f.sql says where the foreign keys went."""
    c, i, d = [], [], []
    for t in tables:
        lines = [f"  {quote_ident(col.name)} {T.declared_type(col)}{'' if col.nullable else ' NOT NULL'}"
                 for col in t.columns]
        lines.append(f"  PRIMARY KEY ({', '.join(map(quote_ident, t.primary_key))})")
        for fk in t.foreign_keys:
            lines.append(f"  FOREIGN KEY ({', '.join(map(quote_ident, fk.columns))}) REFERENCES "
                         f"{quote_ident(fk.ref_table)} ({', '.join(map(quote_ident, fk.ref_columns))})")
        c.append(f"CREATE TABLE IF NOT EXISTS {qualified(t)} (\n" + ",\n".join(lines) + "\n);\n")
        for n, u in enumerate(t.unique):
            idx = quote_ident(f"{t.name}_uq{n}")
            i.append(f"CREATE UNIQUE INDEX IF NOT EXISTS {quote_ident(t.schema)}.{idx} ON "
                     f"{quote_ident(t.name)} ({', '.join(map(quote_ident, u))});\n")
        d.append(f"DROP TABLE IF EXISTS {qualified(t)};\n")
    head = "-- generated by targetsync for sqlite\n"
    f = head + "-- SQLite declares foreign keys inside CREATE TABLE; they are in c.sql.\n"
    return {"c.sql": head + "".join(c), "i.sql": head + "".join(i), "f.sql": f, "d.sql": head + "".join(d)}
