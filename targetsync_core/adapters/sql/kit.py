"""The relational adapter kit: what a SQL database reached through SQLAlchemy (reflection,
DDL) and a DB-API driver (reads, apply) needs, so that a new one is data plus the few
methods that really differ.

A kit adapter declares, as class attributes:

* ``dialect`` (sqlglot's name for its SQL, which renders the apply statements of
  ``statements``), ``driver`` (SQLAlchemy's drivername for reflection and DDL),
  ``schemes`` (the DSN schemes it takes), ``mark`` (the driver's placeholder);
* ``reflected`` (SQLAlchemy's reflected type class name → canonical kind, the native →
  canonical dict) and ``declared`` (canonical kind → the SQLAlchemy type its DDL
  writes, the canonical → native dict; ``sqla_type`` adds lengths and precisions);
* ``capabilities`` and ``identity_kinds`` (the kinds its driver already returns as the
  canonical Python value); ``to_driver`` (kind → how a canonical value is bound).

and overrides only where it differs: ``connect`` (the driver's connection, with the
session's isolation), ``key_expr`` and ``key_param`` (how a key column is ordered in
binary code-point order and how a bound is passed for it); its driver errors are sorted
at the boundary from its marks (``login_refused``, ``denied_marks``, ``lost_marks``). Everything else (keyset windows, bounds, streamed reads, the
shadow, the bulk load, the MERGE statements, the applied-file record and the lease) is
here once.
"""
from __future__ import annotations

import re
from typing import Callable, Iterator

from targetsync_core.adapters.base import TableBatch
from targetsync_core.adapters.coerce import converted_rows, row_converter
from targetsync_core.adapters.sql import references, sqla, statements
from targetsync_core.adapters.sql.server import ServerDatabase, apply_error, bounds_sql, first_line, keyset_predicate
from targetsync_core.adapters.sql.sqlapply import SqlApplier, shadow_rows
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConfigError, ConnectError, DataError, SchemaMismatch
from targetsync_core.model import graph
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

FETCH_ROWS = 5_000      # rows a fetchmany when streaming a window
LOAD_ROWS = 10_000      # shadow rows an executemany


class KitDatabase(ServerDatabase):
    """A relational database on the kit (see the module's docstring)."""

    dialect = ""
    schemes: tuple[str, ...] = ()
    mark = "?"
    reflected: dict = sqla.REFLECTED
    declared: dict = {}
    identity_kinds: frozenset = frozenset()
    #: kind → how a value the driver returns becomes canonical, where the shared
    #: conversion would refuse it (Oracle's DATE comes back as a datetime)
    read_as: dict = {}
    to_driver: dict[Kind, Callable] = {}
    #: the query that returns one row when a table (schema, name) exists
    table_exists_sql = "SELECT 1 FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?"
    #: where the applied-file record and the lease live
    meta_schema = "_targetsync"
    schema_exists_sql = "SELECT 1 FROM INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = ?"
    #: how the loader locks the lease row: a table hint, or a ``FOR UPDATE`` clause
    lease_hint = ""
    for_update = " FOR UPDATE"
    #: the options of generated foreign keys, and what a file's transaction runs first:
    #: where the dialect can defer a check to the commit (PostgreSQL's way, Oracle's), a
    #: table that refers to itself or tables in a cycle apply in any row order
    fk_options: dict = {}
    begin_file_sql: str = ""
    #: the catalog query of the foreign keys touching a schema (two ``?``: the schema), one
    #: row ``(name, table, column, ref_table, ref_column, deferrable)`` per column pair in
    #: key order; where checks cannot be deferred, the statements that turn a table's own
    #: checks off and on again checking every row (``{table}``: its qualified name)
    references_sql: str = ""
    uncheck_sql: str = ""
    recheck_sql: str = ""
    #: how a session's temporary table (the shadow) is made
    create_temporary = "CREATE TEMPORARY TABLE"
    #: native types a target table's column cannot take a value in (the server writes
    #: it), upper-case, to what they are
    unwritable: dict[str, str] = {}
    #: the driver's module, and what to install when it cannot be imported
    driver_module = ""
    driver_hint = ""
    #: text in a driver error that marks a refused login (exit 2, not retried), a missing
    #: privilege (the same), a lost connection (retried)
    login_refused: tuple[str, ...] = ()
    denied_marks: tuple[str, ...] = ()
    lost_marks: tuple[str, ...] = ()
    #: compares ``(a, b) >= (x, y)`` (SQL Server and Oracle do not: it is spelled out)
    row_values = True
    #: ``ts_rn - 1`` is a multiple of the window size (``bounds_sql``)
    every_nth = "mod(ts_rn - 1, ?) = 0"

    def __init__(self, dsn: Dsn, type_name: str):
        super().__init__(dsn, type_name)
        self._cycles: dict[str, set[str]] = {}

    @classmethod
    def from_dsn(cls, type_name: str, dsn: Dsn) -> "KitDatabase":
        if dsn.scheme not in cls.schemes:
            raise ConfigError(f"{dsn.source}: {type_name} needs a DSN of the form "
                              f"{cls.schemes[0]}://user:password@host:port/database, not {dsn.scheme}://")
        return cls(dsn, type_name)

    # -- names ---------------------------------------------------------------------------
    @classmethod
    def sa_dialect(cls):
        import sqlalchemy as sa
        return sa.engine.make_url(f"{cls.driver}://").get_dialect()()

    @classmethod
    def stored_name(cls, name: str) -> str:
        """The name a table or column of ``.skt`` name ``name`` has in this database's
        catalog, as its SQLAlchemy DDL creates it (Oracle: ``id`` → ``ID``)."""
        return name

    @classmethod
    def quote(cls, name: str) -> str:
        """``name``'s stored name quoted as this dialect quotes an identifier, always (so
        its case and any character survive)."""
        return cls.sa_dialect().identifier_preparer.quote_identifier(cls.stored_name(name))

    def qualified(self, table: Table) -> str:
        return f"{self.quote(table.schema)}.{self.quote(table.name)}"

    # -- what a dialect overrides --------------------------------------------------------
    def key_expr(self, col: Column) -> str:
        """The expression a key column is ordered and compared by, in binary code-point
        order of its canonical value."""
        return self.quote(col.name)

    def key_param(self, col: Column, value):
        """A window bound's value for :meth:`key_expr`."""
        return self.bind(col.kind, value)

    def select_expr(self, col: Column) -> str:
        """How a column is selected, so that the driver returns its canonical value."""
        return self.quote(col.name)

    def bind(self, kind: Kind, value):
        if value is None:
            return None
        f = self.to_driver.get(kind)
        return value if f is None else f(value)

    # -- source contract -----------------------------------------------------------------
    def engine(self):
        """SQLAlchemy's engine for reflection, connecting through :meth:`connect` (the
        driver options of the DSN, the one-line refusal of a server that cannot be
        reached)."""
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool
        with self._lock:
            if self._engine is None:
                self._engine = sa.create_engine(f"{self.driver}://", creator=self.connect, poolclass=NullPool)
            return self._engine

    def reflect(self, schema: str, name: str) -> Table | None:
        return self.reflect_with(schema, name, self.reflected)

    def order_by(self, table: Table) -> str:
        return ", ".join(self.key_expr(c) for c in table.key_columns)

    def window_predicate(self, table: Table, w: Window) -> tuple[str, list]:
        cols = table.key_columns
        return keyset_predicate([self.key_expr(c) for c in cols], w, self.mark,
                                lambda key: [self.key_param(c, v) for c, v in zip(cols, key)], self.row_values)

    def select_list(self, cols) -> str:
        return ", ".join(self.select_expr(c) for c in cols)

    def read_keys(self, table: Table) -> Iterator[tuple]:
        cols = list(table.key_columns)
        yield from self.stream(table, cols, f"SELECT {self.select_list(cols)} FROM {self.qualified(table)} "
                                            f"ORDER BY {self.order_by(table)}", [])

    def window_bounds(self, table: Table, window_size: int) -> list[tuple]:
        """Every ``window_size``-th key, numbered by ``row_number()`` in the server."""
        return list(self.stream(table, list(table.key_columns), self.bounds_query(table), [window_size]))

    def bounds_query(self, table: Table) -> str:
        """The query of :meth:`window_bounds` (one parameter: the window size)."""
        cols = list(table.key_columns)
        inner = ", ".join(f"{self.select_expr(c)} AS {self.quote(f'ts_k{i}')}" for i, c in enumerate(cols))
        names = ", ".join(self.quote(f"ts_k{i}") for i in range(len(cols)))
        return bounds_sql(inner, names, self.order_by(table), self.qualified(table), self.every_nth)

    def window_sql(self, table: Table, window: Window) -> tuple[str, list]:
        """The one statement that reads ``window`` in key order, and its parameters."""
        where, params = self.window_predicate(table, window)
        return (f"SELECT {self.select_list(table.columns)} FROM {self.qualified(table)}{where} "
                f"ORDER BY {self.order_by(table)}"), params

    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        sql, params = self.window_sql(table, window)
        yield from self.stream(table, list(table.columns), sql, params)

    def stream(self, table: Table, cols: list[Column], sql: str, params: list) -> Iterator[tuple]:
        """One statement, fetched in chunks, its rows converted to canonical values."""
        convert = row_converter([c.kind for c in cols], table.qualified, [c.name for c in cols], self.identity_kinds,
                                self.read_as)
        with self.borrow() as conn:
            cur = conn.cursor()
            try:
                cur.execute(sql, params) if params else cur.execute(sql)
                yield from converted_rows(cur, convert, FETCH_ROWS)
            except ValueError as exc:
                raise DataError(f"reading {self.type_name} {exc}") from None
            except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
                if not self.driver_error(exc):
                    raise
                raise self.read_error(exc, table) from None

    # -- the driver, and its errors sorted at the boundary --------------------------------
    def import_driver(self):
        """The driver's module, or one line saying what to install."""
        import importlib
        try:
            return importlib.import_module(self.driver_module)
        except ImportError as exc:
            raise ConnectError(f"{self.where()}: {self.type_name} needs {self.driver_hint} ({exc})") from None

    def connect_error(self, exc: BaseException) -> Exception:
        """A driver error met connecting: a refused login is a configuration error."""
        text = first_line(exc)
        if any(mark in " ".join(map(str, getattr(exc, "args", ()))) for mark in self.login_refused):
            return ConfigError(f"{self.where()} refused the login: {text}")
        return ConnectError(f"cannot connect to {self.where()}: {text}")

    def driver_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the driver's (to be sorted by :meth:`read_error`)."""
        return isinstance(exc, self.import_driver().Error) if self.driver_module else False

    def lost(self, exc: BaseException) -> bool:
        return _marked(exc, self.lost_marks)

    def read_error(self, exc: BaseException, table: Table):
        if _marked(exc, self.denied_marks):   # a missing privilege: retrying cannot help
            return ConfigError(f"reading {self.type_name} table {table.qualified} on {self.where()}: "
                               f"{first_line(exc)}")
        return super().read_error(exc, table)

    # -- target contract -----------------------------------------------------------------
    @classmethod
    def sqla_type(cls, col: Column, is_key: bool):
        """The SQLAlchemy type this dialect's DDL declares for ``col``."""
        import sqlalchemy as sa
        made = cls.declared[col.kind]
        if col.kind in (Kind.CHAR, Kind.VARCHAR, Kind.BINARY, Kind.VARBINARY):
            return made(col.length) if col.length else made()
        if col.kind is Kind.DECIMAL:
            return sa.Numeric(col.precision, col.scale) if col.precision else made()
        return made()

    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        return sqla.generate_ddl(tables, cls.sa_dialect(), cls.sqla_type, cls.fk_options)

    def execute_script(self, sql: str) -> None:
        conn = self.connect(autocommit=True)
        try:
            for statement in script_statements(sql):
                conn.cursor().execute(statement)
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            if not self.driver_error(exc):
                raise
            raise DataError(f"running DDL on {self.where()}: {first_line(exc)}") from None
        finally:
            conn.close()

    def open_applier(self) -> "KitApplier":
        return KitApplier(self.connect(autocommit=False), self)

    def shadow_columns(self, table: Table) -> str:
        """The shadow's column definitions: the live table's own types, all nullable."""
        live = self.shape(table.schema, table.name)
        if live is None:
            raise SchemaMismatch(f"table {table.qualified} does not exist on {self.where()}")
        for c in live.columns:
            if (c.native or "").upper() in self.unwritable:
                raise SchemaMismatch(f"table {table.qualified} column {c.name} is {self.unwritable[c.native.upper()]}, "
                                     "which the server writes itself: a target cannot take it; sync into a table "
                                     "without it")
        types = {c.name: c.native for c in live.columns}
        return ", ".join(f"{self.quote(c.name)} {types[c.name]} NULL" for c in table.columns)

    def shadow_schema(self, table: Table) -> str | None:
        """The schema the shadow of ``table`` lives in; None: the session's own
        (a temporary table)."""
        return None

    def shadow_ref(self, s: statements.Shadowed) -> str:
        """How a statement names the shadow ``s`` (its names are stored names)."""
        q = self.sa_dialect().identifier_preparer.quote_identifier
        return f"{q(s.shadow_schema)}.{q(s.shadow)}" if s.shadow_schema else q(s.shadow)

    def shadow_name(self, table: Table, n: int) -> str:
        """The name of a session's shadow of ``table`` (its ``n``-th)."""
        return f"{table.name[:40]}_wkm{n}"

    def make_shadow(self, applier: "KitApplier", table: Table, n: int) -> str:
        """Make the shadow of ``table`` for ``applier``'s session, inside its open
        transaction (a temporary table); returns its name."""
        name = self.shadow_name(table, n)
        applier.sql(self.create_shadow_sql(name, self.shadow_columns(table)))
        return name

    def create_shadow_sql(self, name: str, columns: str) -> str:
        return f"{self.create_temporary} {self.quote(name)} ({self.quote('__op')} CHAR(1), " \
               f"{self.quote('__grp')} INT, {columns})"

    def bulk_cursor(self, conn, table: Table):
        """A cursor whose ``executemany`` is the driver's fast path for the shadow rows
        of ``table`` (``__op``, ``__grp``, then its columns)."""
        return conn.cursor()

    def meta_table(self, name: str) -> tuple[str, tuple]:
        """The applied-file record's or the lease's table (``applied``, ``lease``): its
        quoted name, and the parameters of :attr:`table_exists_sql` that find it."""
        return f"{self.quote(self.meta_schema)}.{self.quote(name)}", (self.meta_schema, name)

    def create_meta_schema(self, applier: "KitApplier") -> None:
        """The schema of the applied-file record and the lease, unless it exists."""
        def create():
            if not applier.sql(self.schema_exists_sql, (self.meta_schema,)).fetchone():
                applier.sql(f"CREATE SCHEMA {self.quote(self.meta_schema)}")
        applier._in_transaction(create)

    def foreign_keys(self, schemas: set[str]) -> list:
        if not self.references_sql:
            return []
        rows = []
        with self.borrow() as conn:
            for schema in sorted(schemas):
                rows += [tuple(r) for r in conn.cursor().execute(self.references_sql, (schema, schema)).fetchall()]
        return references.grouped(rows)

    def cyclic(self, schema: str) -> set[str]:
        """The tables of ``schema`` in a foreign-key cycle (a self-reference included)."""
        if schema not in self._cycles:
            self._cycles[schema] = graph.cycles(self.foreign_keys({schema}))
        return self._cycles[schema]

    def before_batch(self, applier: "KitApplier", table: Table) -> None:
        """Inside a file's transaction, before ``table``'s changes: where checks cannot be
        deferred, a table in a foreign-key cycle, whose rows come in no useful order, is
        written with its own checks off (:attr:`uncheck_sql`)."""
        cyclic = self.uncheck_sql and table.qualified in self.cyclic(table.schema)
        if cyclic and table.qualified not in applier.unchecked:
            applier.sql(self.uncheck_sql.format(table=self.qualified(table)))
            applier.unchecked[table.qualified] = table

    def end_file(self, applier: "KitApplier") -> None:
        """After a file's last batch, before its record: every row of each table written
        unchecked is checked again; a row that breaks a key refuses the file, naming it."""
        for table in applier.unchecked.values():
            try:
                applier.sql(self.recheck_sql.format(table=self.qualified(table)))
            except Exception as exc:  # noqa: BLE001 - sorted here: a broken key names its table
                if not self.driver_error(exc) or self.lost(exc):
                    raise
                raise DataError(f"applying to {self.type_name} table {table.qualified}: a foreign key refuses "
                                f"its rows after this file: {first_line(exc)}") from None
        applier.unchecked.clear()

    def before_upsert(self, applier: "KitApplier", table: Table) -> None:
        """Inside the file's transaction, before the MERGE that inserts (SQL Server
        allows explicit values into an identity column here)."""

    def after_upsert(self, applier: "KitApplier", table: Table) -> None:
        """After that MERGE."""


MARK = re.compile(r"\?|'(?:[^']|'')*'|\"[^\"]*\"")


def numbered(sql: str) -> str:
    """``?`` marks as bind variables ``:p1``, ``:p2`` … (quoted text left alone), for a
    driver that binds by name or position but takes no ``?`` (Oracle's)."""
    n = 0

    def mark(m):
        nonlocal n
        if m.group(0) != "?":
            return m.group(0)
        n += 1
        return f":p{n}"
    return MARK.sub(mark, sql)


class NumberedBinds:
    """A DB-API connection taking ``?`` marks, over one that takes ``:p1``… (see
    :func:`numbered`); the kit writes ``?`` everywhere."""

    def __init__(self, conn):
        self.conn = conn

    def cursor(self):
        return _NumberedCursor(self.conn.cursor())

    def __getattr__(self, name):
        return getattr(self.conn, name)


class _NumberedCursor:
    def __init__(self, cur):
        self.cur = cur

    def execute(self, sql, params=None):
        self.cur.execute(numbered(sql), params or [])
        return self

    def executemany(self, sql, rows):
        self.cur.executemany(numbered(sql), rows)

    def __getattr__(self, name):
        return getattr(self.cur, name)


def _marked(exc: BaseException, marks: tuple[str, ...]) -> bool:
    text = " ".join(map(str, getattr(exc, "args", ()))) or str(exc)
    return any(mark in text for mark in marks)


def script_statements(sql: str) -> list[str]:
    """The statements of a generated DDL script (``;`` at line ends, ``--`` comments)."""
    body = "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip().rstrip(";")]


class KitApplier(SqlApplier):
    """Applies a file in one transaction: per table, the rows go into the session's shadow
    by the driver's bulk path, then the three statements of ``statements`` move them."""

    def __init__(self, conn, db: KitDatabase):
        self.db = db
        self.mark, self.lease_hint, self.for_update = db.mark, db.lease_hint, db.for_update
        (applied, find_applied), (lease, find_lease) = db.meta_table("applied"), db.meta_table("lease")
        super().__init__(conn, applied, lease)
        self._found = {applied: find_applied, lease: find_lease}
        self._shadows: dict[str, statements.Shadowed] = {}
        self._fresh: set[str] = set()     # shadows created in the open transaction
        self.unchecked: dict[str, Table] = {}   # tables written with their checks off, this file
        self._statements: dict[tuple, str] = {}
        self.create_metadata()

    def begin(self) -> None:
        pass   # DB-API: a transaction opens with the first statement

    def commit(self) -> None:
        self.conn.commit()
        self._fresh.clear()

    def translate(self, exc: Exception, batch: TableBatch | None) -> Exception:
        if not self.db.driver_error(exc):
            return exc
        return apply_error(self.db, exc, batch, type(exc))

    def create_metadata(self) -> None:
        self.db.create_meta_schema(self)
        super().create_metadata()

    def begin_file(self) -> None:
        self.unchecked.clear()
        if self.db.begin_file_sql:
            self.sql(self.db.begin_file_sql)

    def end_file(self) -> None:
        self.db.end_file(self)

    def create_table(self, name: str, columns: str) -> None:
        """Not every dialect has ``CREATE TABLE IF NOT EXISTS``: ask the catalog first."""
        if not self.sql(self.db.table_exists_sql, self._found[name]).fetchone():
            self.sql(f"CREATE TABLE {name} ({columns})")

    def rollback(self) -> None:
        for name in self._fresh:   # a shadow created in the transaction went with it
            self._shadows.pop(name, None)
        self._fresh.clear()
        self.conn.rollback()

    def shadow(self, t: Table) -> statements.Shadowed:
        s = self._shadows.get(t.qualified)
        if s is None:
            name = self.db.make_shadow(self, t, len(self._shadows))
            n = self.db.stored_name
            schema = self.db.shadow_schema(t)
            s = statements.Shadowed((n(t.schema), n(t.name)), n(name), tuple(map(n, t.primary_key)),
                                    tuple(n(c.name) for c in t.columns), n(schema) if schema else None)
            self._shadows[t.qualified] = s
            self._fresh.add(t.qualified)
        return s

    def statement(self, kind: str, s: statements.Shadowed, *args) -> str:
        key = (kind, s.table, *args)
        text = self._statements.get(key)
        if text is None:
            if kind == "delete":
                text = statements.delete_sql(s, self.db.dialect)
            elif kind == "upsert":
                text = statements.upsert_sql(s, self.db.dialect)
            else:
                text = statements.update_sql(s, self.db.dialect, *args)
            self._statements[key] = text
        return text

    def load(self, s: statements.Shadowed, batch: TableBatch) -> None:
        """The batch's records into the shadow through the driver's bulk path."""
        t = batch.table
        kinds = [c.kind for c in t.columns]
        q = self.db.sa_dialect().identifier_preparer.quote_identifier   # s holds stored names
        names = ", ".join(q(c) for c in ("__op", "__grp", *s.columns))
        marks = ", ".join([self.mark] * (len(s.columns) + 2))
        insert = f"INSERT INTO {self.db.shadow_ref(s)} ({names}) VALUES ({marks})"
        bind = self.db.bind
        cur = self.db.bulk_cursor(self.conn, t)
        rows = []
        for op, grp, *values in shadow_rows(batch):
            rows.append((op, grp, *(bind(k, v) for k, v in zip(kinds, values))))
            if len(rows) == LOAD_ROWS:
                cur.executemany(insert, rows)
                rows = []
        if rows:
            cur.executemany(insert, rows)

    def apply_batch(self, batch: TableBatch) -> None:
        t = batch.table
        s = self.shadow(t)
        self.db.before_batch(self, t)
        self.sql(f"DELETE FROM {self.db.shadow_ref(s)}")
        self.load(s, batch)
        if batch.count("D"):
            self.sql(self.statement("delete", s))
        if batch.count("I"):
            self.db.before_upsert(self, t)
            self.sql(self.statement("upsert", s))
            self.db.after_upsert(self, t)
        updated = 0
        for grp, offsets in enumerate(batch.updates):
            cols = tuple(self.db.stored_name(t.columns[o].name) for o in offsets)
            updated += self.sql(self.statement("update", s, grp, cols)).rowcount
        self.count_missed(batch, updated)
