"""The MySQL adapter (PyMySQL), as source and target; ``singlestore`` uses it and
``mariadb`` subclasses it.

DSN: ``mysql://user:password@host:port/database`` (``mysql+pymysql://`` too). The DSN's
database is the schema: table names are ``database.table``, and the metadata tables
``_targetsync_applied`` / ``_targetsync_lease`` live in it. Sessions use
``time_zone='+00:00'`` and utf8mb4.

String keys are ordered and compared as bytes (``CAST(k AS BINARY)``) unless the column's
collation already is a NO PAD binary one; reads are one unbuffered SELECT a window. A table
whose every column has a canonical rendering may be read as canonical text lines
(``adapters.sql.canonical``: one ``SELECT CONCAT(…)`` a window), or, for a single integer
key, compared block by block in the canonical block format (``diff.blocks``) inside one
consistent-snapshot transaction. MySQL
cannot store NaN or ±Infinity: such values are refused naming the table. ``timestamptz``
is kept as a ``DATETIME`` holding UTC, ``uuid`` as ``CHAR(36)``.

Apply loads a file's rows into a TEMPORARY ``<table>_wkm`` with multi-row INSERTs, then
runs a multi-table DELETE, ``INSERT … SELECT … ON DUPLICATE KEY UPDATE c = VALUES(c)``
(the form both MySQL 8 and MariaDB accept) and one ``UPDATE … JOIN`` per set of changed
columns, in the transaction that records the file as applied.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from operator import call
from typing import Iterator, NamedTuple

from targetsync_core import faults
from targetsync_core.adapters.sql import canonical as C, catalog, references, sqla
from targetsync_core.adapters.base import BlockReader, Capabilities, TableBatch, WindowText
from targetsync_core.adapters.sql.server import (ServerDatabase, apply_error, bounds_sql, denied, discard, first_line,
                                             keyset_predicate)
from targetsync_core.adapters.coerce import converted_rows, row_converter
from targetsync_core.adapters.mysql import native
from targetsync_core.adapters.sql.sqlapply import SqlApplier, shadow_rows
from targetsync_core.diff.blocks import CANONICAL, canonical
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConfigError, ConnectError, DataError, SchemaMismatch
from targetsync_core.model import graph
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import BINARY_KINDS, INTEGER_RANGES, STRING_KINDS, Kind

TEXT_KINDS = (Kind.CHAR, Kind.VARCHAR, Kind.TEXT)
NO_PAD_BINARY = {"utf8mb4_nopad_bin", "utf8mb4_0900_bin", "binary", "ascii_nopad_bin"}
APPLIED, LEASE = "_targetsync_applied", "_targetsync_lease"
#: client/server errors meaning the connection is gone: can't connect, server gone away,
#: lost during query, connection killed (MariaDB 1927, MySQL 4031 idle timeout)
LOST_CODES = frozenset({2003, 2006, 2013, 1927, 4031, 1053})
#: kinds PyMySQL already returns as the canonical Python value (not dates: it returns a
#: zero date, ``0000-00-00``, as a string, which must be refused)
IDENTITY = frozenset({Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32, Kind.UINT64, Kind.DECIMAL,
                      Kind.FLOAT64, Kind.CHAR, Kind.VARCHAR, Kind.TEXT, Kind.JSON, Kind.BINARY, Kind.VARBINARY,
                      Kind.BLOB})
#: what the C extension returns canonically (``native``): dates and timestamps are read as
#: text there (it gives None for a zero date), JSON is checked to be text
NATIVE_IDENTITY = IDENTITY - {Kind.JSON}
#: …and parsed from that text straight away (a TIMESTAMPTZ is UTC text: ``to_timestamptz``)
NATIVE_TEXT = {Kind.DATE: dt.date.fromisoformat, Kind.TIMESTAMP: dt.datetime.fromisoformat}
MAX_KEY_CHARS = 768          # 768 × 4 bytes = InnoDB's 3072-byte key limit
INIT = "SET time_zone = '+00:00', sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES,NO_BACKSLASH_ESCAPES')"


def _unescaped(table: Table) -> Table:
    """Column names as they are: SQLAlchemy's MySQL reflection reads them from ``SHOW
    CREATE TABLE`` and keeps a backtick in a name doubled (```a``b``` comes back
    ``a``b``); undo that."""
    from dataclasses import replace
    if not any("``" in c.name for c in table.columns):
        return table

    def fix(names):
        return tuple(n.replace("``", "`") for n in names)
    return replace(table, columns=tuple(replace(c, name=c.name.replace("``", "`")) for c in table.columns),
                   primary_key=fix(table.primary_key), unique=tuple(fix(u) for u in table.unique),
                   foreign_keys=tuple(replace(f, columns=fix(f.columns)) for f in table.foreign_keys))


def _as_json(col: Column, checks: str) -> Column:
    """``col`` as JSON where it is a text that a ``json_valid`` check in ``checks`` guards."""
    from dataclasses import replace
    if col.kind is Kind.TEXT and f"json_valid(`{col.name.lower()}`)" in checks:
        return replace(col, kind=Kind.JSON)
    return col


def _exactly(rows, name: str) -> list:
    """Catalog rows (``TABLE_NAME`` first) of table ``name``: ``information_schema``
    compares names without case on MariaDB, so ``Items`` and ``items`` both match; the
    exact name wins, and a single other spelling stands (``lower_case_table_names``)."""
    exact = [r for r in rows if r[0] == name]
    return exact or (list(rows) if len({r[0] for r in rows}) == 1 else [])


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def qualified(table: Table) -> str:
    return f"{quote_ident(table.schema)}.{quote_ident(table.name)}"


class MysqlDatabase(ServerDatabase):
    capabilities = Capabilities(name="mysql", nonfinite_floats=False, max_identifier_length=64,
                                pads_key_spaces=True)  # utf8mb4_bin is PAD SPACE
    #: a uuid is kept as CHAR(36), a timestamptz as a DATETIME holding UTC (a TIMESTAMP
    #: column holds one too, as MySQL's own)
    stored_as = {Kind.UUID: Kind.CHAR, Kind.TIMESTAMPTZ: Kind.TIMESTAMP}
    driver = "mysql+pymysql"
    default_port = 3306
    engine_args = {"connect_timeout": 10}
    key_collation = "utf8mb4_bin"
    reflected = sqla.MYSQL_REFLECTED

    #: table options of the applier's temporary shadow table
    shadow_options = ""

    def __init__(self, dsn: Dsn, type_name: str = "mysql"):
        super().__init__(dsn, type_name)
        self.engine_args = {**self.engine_args, "password": _password(dsn)}   # for SQLAlchemy's PyMySQL too
        self._columns: dict[str, dict[str, tuple[str, str]]] = {}
        self._exact_doubles: bool | None = None

    @classmethod
    def from_dsn(cls, type_name: str, dsn: Dsn) -> "MysqlDatabase":
        if dsn.scheme not in ("mysql", "mariadb"):
            raise SchemaMismatch(f"{dsn.source}: a {type_name} database needs a mysql:// DSN, not {dsn.scheme}")
        return cls(dsn, type_name)

    def connect(self, autocommit: bool = True, found_rows: bool = False):
        """A PyMySQL session; ``found_rows``: UPDATE counts the rows it matched, not only
        those it changed (the applier's, to count updates that found no row)."""
        import pymysql
        from pymysql.constants import CLIENT
        d = self.dsn
        try:
            return _connection_class()(host=d.host or "localhost", port=d.port or 3306, user=d.username,
                                   password=_password(d), database=d.database or None, charset="utf8mb4",
                                   autocommit=autocommit, connect_timeout=10, init_command=INIT,
                                   client_flag=CLIENT.FOUND_ROWS if found_rows else 0)
        except pymysql.Error as exc:
            raise ConnectError(f"cannot connect to {self.where()}: {first_line(exc)}") from None

    def connect_reader(self):
        """A new autocommit connection for reading rows: through the C extension when it
        loads (``native``), else PyMySQL's. Never pooled: the two kinds differ."""
        import pymysql
        module = native.load()
        if module is None:
            return self.connect()
        d = self.dsn
        try:
            return native.NativeConnection(*module, host=d.host or "localhost", port=d.port or 3306,
                                           user=d.username, password=d.password or "", database=d.database,
                                           init=INIT)
        except pymysql.Error as exc:
            raise ConnectError(f"cannot connect to {self.where()}: {first_line(exc)}") from None

    def reads_natively(self) -> bool:
        """Whether rows are read through the C extension (``connect_reader``)."""
        return native.load() is not None

    def lost(self, exc: BaseException) -> bool:
        import pymysql
        if isinstance(exc, pymysql.InterfaceError):  # used after the server closed it
            return True
        return isinstance(exc, pymysql.OperationalError) and bool(exc.args) and exc.args[0] in LOST_CODES

    def reusable(self, conn) -> bool:
        return conn.open

    # -- source contract --
    def reflect(self, schema: str, name: str) -> Table | None:
        table = self.reflect_with(schema, name, self.reflected)
        return self._json_columns(_unescaped(table)) if table is not None else None

    def shape(self, schema: str, name: str) -> Table | None:
        """Columns and primary key from ``information_schema`` (``adapters.sql.catalog``),
        three queries on a pooled connection; the columns' collations and fractional
        digits are kept for the reads (``_column_info``). A table the catalog does not
        show is probed: missing, or hidden by a missing privilege (refused as such)."""
        import pymysql
        try:
            with self.borrow() as conn, conn.cursor() as cur:
                cur.execute("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, "
                            "CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, "
                            "COLLATION_NAME FROM information_schema.COLUMNS "
                            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (schema, name))
                rows = _exactly(cur.fetchall(), name)
                if not rows:
                    return self._unseen(cur, schema, name)
                cur.execute("SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
                            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' "
                            "ORDER BY ORDINAL_POSITION", (schema, name))
                key = tuple(r[1] for r in _exactly(cur.fetchall(), name))
                clauses = self._checks(cur, schema, name)
        except pymysql.Error as exc:
            raise self._catalog_error(exc, schema, name) from None
        where = f"table {schema}.{name}"
        columns = []
        for _, col, data_type, column_type, nullable, length, precision, scale, fraction, _ in rows:
            c = catalog.mysql_column(col, data_type, column_type, nullable == "YES", length, precision, scale,
                                     fraction, col in key, where)
            columns.append(_as_json(c, clauses))
        table = Table(schema, name, tuple(columns), key)
        self._columns[table.qualified] = {r[1]: LiveColumn(r[9] or "", (r[2] or "").lower(), r[8] or 0, r[3])
                                          for r in rows}
        return table

    def _unseen(self, cur, schema: str, name: str) -> Table | None:
        """A table ``information_schema`` does not show: None if it does not exist; else
        a missing privilege hides it (the probe raises), or SQLAlchemy's reflection
        finds what the catalog would not show."""
        import pymysql
        try:
            cur.execute(f"SELECT * FROM {quote_ident(schema)}.{quote_ident(name)} LIMIT 0")
            cur.fetchall()
        except pymysql.Error as exc:
            if exc.args and exc.args[0] in (1146, 1049):   # no such table, no such database
                return None
            raise
        return self.reflect(schema, name)

    def _catalog_error(self, exc: BaseException, schema: str, name: str) -> Exception:
        if self.lost(exc):
            return ConnectError(f"lost the connection to {self.where()}: {first_line(exc)}")
        if denied(exc):   # retrying cannot help
            return ConfigError(f"reading {schema}.{name} on {self.where()}: {first_line(exc)}")
        return DataError(f"reading the catalog of {schema}.{name} on {self.where()}: {first_line(exc)}")

    @staticmethod
    def _checks(cur, schema: str, name: str) -> str:
        """The table's check clauses, lowercased (MariaDB's JSON is one)."""
        cur.execute("SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                    "WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s", (schema, name))
        return " ".join(r[0] for r in cur.fetchall()).lower()

    def _json_columns(self, table: Table) -> Table:
        """MariaDB keeps JSON as LONGTEXT with a ``json_valid`` check: give it back its kind."""
        from dataclasses import replace
        with self.borrow() as conn, conn.cursor() as cur:
            clauses = self._checks(cur, table.schema, table.name)
        return replace(table, columns=tuple(_as_json(c, clauses) for c in table.columns))

    def _column_info(self, table: Table) -> dict[str, "LiveColumn"]:
        """Each live column's collation, data type, fractional digits and declared type,
        from one query, cached."""
        key = table.qualified
        if key not in self._columns:
            with self.borrow() as conn, conn.cursor() as cur:
                cur.execute("SELECT COLUMN_NAME, COLLATION_NAME, DATA_TYPE, DATETIME_PRECISION, COLUMN_TYPE "
                            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                            (table.schema, table.name))
                self._columns[key] = {r[0]: LiveColumn(r[1] or "", (r[2] or "").lower(), r[3] or 0, r[4])
                                      for r in cur.fetchall()}
        return self._columns[key]

    def collations(self, table: Table) -> dict[str, str]:
        return {name: info.collation for name, info in self._column_info(table).items()}

    def canonical_text(self, table: Table) -> str:
        """The expression rendering a row of ``table`` as canonical text (``diff.blocks``)."""
        return _canonical_text(table, {n for n, info in self._column_info(table).items() if info.fraction})

    def select_list(self, table: Table, cols, natively: bool) -> str:
        """The SELECT list reading ``cols``. FLOAT is read as DOUBLE (the text protocol
        prints it with 6 digits). Read through the C extension (``natively``), dates and
        timestamps are read as text (it gives None for a zero date, which must stay a
        refusal) and so are SET columns (it gives a Python set, losing their order)."""
        info = self._column_info(table) if natively else {}
        out = []
        for c in cols:
            q = quote_ident(c.name)
            if c.kind is Kind.FLOAT32:
                out.append(f"CAST({q} AS DOUBLE)")
            elif natively and (c.kind in (Kind.DATE, Kind.TIMESTAMP, Kind.TIMESTAMPTZ)
                               or c.name in info and info[c.name].data_type == "set"):
                out.append(f"CAST({q} AS CHAR) AS {q}")
            else:
                out.append(q)
        return ", ".join(out)

    def key_folding(self, table: Table) -> dict[str, str]:
        out = {}
        coll = self.collations(table)
        for col in table.key_columns:
            c = coll.get(col.name, "")
            if col.kind not in TEXT_KINDS or not c:
                continue
            how = [w for w, hit in (("case", not c.endswith("_bin") and "_cs" not in c),
                                    ("space", "nopad" not in c and "0900" not in c)) if hit]
            if how:
                out[col.name] = ",".join(how)
        return out

    def _key_expr(self, table: Table, col: Column) -> str:
        q = quote_ident(col.name)
        if col.kind is Kind.UUID:
            return f"CAST({q} AS CHAR(36))"
        if col.kind in TEXT_KINDS and self.collations(table).get(col.name) not in NO_PAD_BINARY:
            return f"CAST({q} AS BINARY)"
        return q

    def _key_param(self, col: Column, v):
        if col.kind in TEXT_KINDS:
            return v.encode("utf-8")
        return _to_driver(col.kind, v)

    def _window_predicate(self, table: Table, w: Window) -> tuple[str, list]:
        cols = table.key_columns
        return keyset_predicate([self._key_expr(table, c) for c in cols], w, "%s",
                                lambda key: [self._key_param(c, v) for c, v in zip(cols, key)])

    def connection_room(self) -> tuple[int, int] | None:
        import pymysql
        try:
            with self.borrow() as conn, conn.cursor() as cur:
                cur.execute("SELECT @@max_connections, (SELECT COUNT(*) FROM information_schema.PROCESSLIST)")
                allowed, used = cur.fetchone()
        except pymysql.Error:
            return None
        return int(allowed), int(used)

    def foreign_keys(self, schemas: set[str]) -> list:
        import pymysql
        marks = ", ".join(["%s"] * len(schemas))
        try:
            with self.borrow() as conn, conn.cursor() as cur:
                cur.execute("SELECT CONSTRAINT_NAME, CONCAT(TABLE_SCHEMA, '.', TABLE_NAME), COLUMN_NAME, "
                            "CONCAT(REFERENCED_TABLE_SCHEMA, '.', REFERENCED_TABLE_NAME), REFERENCED_COLUMN_NAME, 0 "
                            "FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_NAME IS NOT NULL "
                            f"AND (TABLE_SCHEMA IN ({marks}) OR REFERENCED_TABLE_SCHEMA IN ({marks})) "
                            "ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
                            [*sorted(schemas), *sorted(schemas)])
                rows = cur.fetchall()
        except pymysql.Error as exc:
            raise self._catalog_error(exc, "foreign", "keys") from None
        return references.grouped(rows)

    def find_orphan(self, child: Table, columns: tuple[str, ...], parent: Table,
                    ref_columns: tuple[str, ...]) -> tuple | None:
        return references.first_orphan(child, columns, parent, ref_columns, quote_ident, qualified, self._fetched)

    def _fetched(self, table: Table, cols: list[Column], sql: str) -> list[tuple]:
        """The rows of a small query on a pooled (PyMySQL) connection, as canonical values."""
        import pymysql
        try:
            with self.borrow() as conn, conn.cursor() as cur:
                cur.execute(sql)
                rows = cur.fetchall()
                convert = _converter(conn, table, cols)
        except pymysql.Error as exc:
            raise self.read_error(exc, table) from None
        return [tuple(r) if convert is None else convert(r) for r in rows]

    def read_keys(self, table: Table) -> Iterator[tuple]:
        cols = list(table.key_columns)
        order = ", ".join(self._key_expr(table, c) for c in cols)
        sql = f"SELECT {self.select_list(table, cols, self.reads_natively())} FROM {qualified(table)} ORDER BY {order}"
        yield from self._stream(table, cols, sql, None)

    def window_bounds(self, table: Table, window_size: int) -> list[tuple]:
        """Every ``window_size``-th key. A key of one column ordered as it is (not through
        a cast) steps along its index, one ``LIMIT 1 OFFSET n`` query a bound (0.1 s for
        1M rows on MariaDB); others number every row with ``row_number()`` (1 s)."""
        cols = list(table.key_columns)
        names = ", ".join(quote_ident(c.name) for c in cols)
        order = ", ".join(self._key_expr(table, c) for c in cols)
        if len(cols) == 1 and order == names:
            return self._stepped_bounds(table, cols, window_size)
        sql = bounds_sql(names, self.select_list(table, cols, self.reads_natively()), order, qualified(table),
                         "MOD(ts_rn - 1, %s) = 0")
        return list(self._stream(table, cols, sql, (window_size,)))

    def _stepped_bounds(self, table: Table, cols: list[Column], window_size: int) -> list[tuple]:
        import pymysql
        conn = self.connect_reader()
        select = self.select_list(table, cols, isinstance(conn, native.NativeConnection))
        convert = _converter(conn, table, cols)
        bounds: list[tuple] = []
        try:
            with conn.cursor() as cur:
                while True:
                    after = Window(0, 0, bounds[-1], None, lo_inclusive=False) if bounds else Window(0, 0, None, None)
                    where, params = self._window_predicate(table, after)
                    cur.execute(f"SELECT {select} FROM {qualified(table)}{where} ORDER BY {quote_ident(cols[0].name)} "
                                f"LIMIT 1 OFFSET %s", [*params, window_size - 1 if bounds else window_size])
                    rows = cur.fetchall()
                    if not rows:
                        return bounds
                    bounds.append(tuple(rows[0]) if convert is None else convert(rows[0]))
        except pymysql.Error as exc:
            raise self.read_error(exc, table) from None
        except ValueError as exc:
            raise DataError(f"reading {self.type_name} {exc}") from None
        finally:
            discard(conn)

    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        where, params = self._window_predicate(table, window)
        order = ", ".join(self._key_expr(table, c) for c in table.key_columns)
        select = self.select_list(table, table.columns, self.reads_natively())
        sql = f"SELECT {select} FROM {qualified(table)}{where} ORDER BY {order}"
        yield from self._stream(table, list(table.columns), sql, params or None)

    def renders_canonically(self, table: Table) -> bool:
        """Whether this server renders ``table``'s rows as canonical text exactly: every
        column has a canonical kind, and a DOUBLE column only on servers that print
        doubles shortest-exact (MariaDB 10.x and MySQL 8 do; a server printing 15 digits
        would render two doubles alike). Not on SingleStore, where neither the rendering
        nor the block reader's snapshot is proven."""
        if not canonical(table) or self.type_name == "singlestore":
            return False
        return not any(c.kind is Kind.FLOAT64 for c in table.columns) or self.exact_doubles()

    def block_formats(self, table: Table) -> tuple[str, ...]:
        return (CANONICAL,) if self.renders_canonically(table) else ()

    def line_formats(self, table: Table) -> tuple[str, ...]:
        return (C.LINES,) if self.renders_canonically(table) else ()

    def read_window_text(self, table: Table, window: Window, fmt: str | None = None) -> WindowText:
        """The window as canonical text lines (``adapters.sql.canonical``, the only line
        format here), on a reading connection of its own: one ``GROUP_CONCAT`` of the
        rows' texts (in no particular order: the diff sorts what it decodes; at most
        ``max_allowed_packet`` bytes, the server warning when it cuts one short), or,
        where that does not do, the texts row by row, escaped here."""
        import pymysql
        if fmt != C.LINES:
            raise NotImplementedError(f"{self.type_name} renders no {fmt} lines")
        where, params = self._window_predicate(table, window)
        text, source = self.canonical_text(table), f"{qualified(table)}{where}"
        conn = self.connect_reader()
        try:
            with conn.cursor() as cur:
                faults.point("mysql.before_query")
                cur.execute("SET SESSION group_concat_max_len = @@max_allowed_packet")
                cur.execute(f"SELECT COUNT(*), CAST(GROUP_CONCAT({text} SEPARATOR '\n') AS BINARY) FROM {source}",
                            params or None)   # bytes: no decoding and encoding again
                (count, agg), = cur.fetchall()
                cur.execute("SELECT @@warning_count")
                (warnings,), = cur.fetchall()
                lines = C.joined(count, agg) if not warnings else None
                if lines is None:
                    cur.execute(f"SELECT {text} FROM {source}", params or None)
                    lines = C.lines([r[0] if isinstance(r[0], str) else bytes(r[0]).decode("utf-8")
                                     for r in cur.fetchall()])
        except pymysql.Error as exc:
            raise self.read_error(exc, table) from None
        finally:
            discard(conn)
        return C.window_text(lines, table, self.type_name)

    def exact_doubles(self) -> bool:
        """Whether this server casts a DOUBLE to the shortest text that reads back exactly."""
        if self._exact_doubles is None:
            with self.borrow() as conn, conn.cursor() as cur:
                cur.execute("SELECT CAST(0.1e0 + 0.2e0 AS CHAR), CAST(1e0 / 3e0 AS CHAR)")
                self._exact_doubles = cur.fetchone() == ("0.30000000000000004", "0.3333333333333333")
        return self._exact_doubles

    @contextmanager
    def window_blocks(self, table: Table, window: Window, width: int, fmt: str) -> Iterator["MysqlBlocks"]:
        """Block sums and the rows of differing blocks from one REPEATABLE READ snapshot
        (``START TRANSACTION … WITH CONSISTENT SNAPSHOT``) on a reading connection of its
        own (``connect_reader``), closed at the end, which ends the snapshot."""
        import pymysql
        conn = self.connect_reader()
        try:
            try:
                with conn.cursor() as cur:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    cur.execute("START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT")
            except pymysql.Error as exc:
                raise self.read_error(exc, table) from None
            yield MysqlBlocks(self, conn, table, window, width)
        finally:
            discard(conn)

    def _stream(self, table: Table, cols: list[Column], sql: str, params) -> Iterator[tuple]:
        import pymysql
        conn = self.connect_reader()  # an unbuffered cursor ties up its connection: never pooled
        convert = _converter(conn, table, cols)
        cur, done = conn.cursor(pymysql.cursors.SSCursor), False
        try:
            faults.point("mysql.before_query")
            cur.execute(sql, params)
            yield from converted_rows(cur, convert)
            done = True
        except pymysql.Error as exc:
            raise self.read_error(exc, table) from None
        except ValueError as exc:
            raise DataError(f"reading {self.type_name} {exc}") from None
        finally:
            if not done:
                _abandon(cur)
            discard(conn)

    # -- target contract --
    @classmethod
    def sqla_type(cls, col: Column, is_key: bool):
        import sqlalchemy as sa
        from sqlalchemy.dialects import mysql as my
        k = col.kind
        coll = {"collation": cls.key_collation} if is_key else {}
        ints = {Kind.INT16: my.SMALLINT(), Kind.INT32: my.INTEGER(), Kind.INT64: my.BIGINT(),
                Kind.UINT16: my.SMALLINT(unsigned=True), Kind.UINT32: my.INTEGER(unsigned=True),
                Kind.UINT64: my.BIGINT(unsigned=True)}
        if k in ints:
            return ints[k]
        if k is Kind.BOOLEAN:
            return my.TINYINT(display_width=1)
        if k is Kind.DECIMAL:
            p = min(col.precision or 65, 65)
            return my.DECIMAL(p, min(col.scale if col.scale is not None else 30, 30, p))
        if k is Kind.FLOAT32:
            return my.FLOAT()
        if k is Kind.FLOAT64:
            return my.DOUBLE()
        if k is Kind.CHAR and (col.length or 1) <= 255:
            return my.CHAR(col.length or 1, charset="utf8mb4", **coll)
        if k in (Kind.CHAR, Kind.VARCHAR, Kind.TEXT):
            if col.length and col.length <= 16383 and (not is_key or col.length <= MAX_KEY_CHARS):
                return my.VARCHAR(col.length, charset="utf8mb4", **coll)
            return my.VARCHAR(MAX_KEY_CHARS, charset="utf8mb4", **coll) if is_key else my.LONGTEXT(charset="utf8mb4")
        if k is Kind.BINARY and (col.length or 1) <= 255:
            return my.BINARY(col.length or 1)
        if k in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
            if is_key or (col.length and col.length <= 65535 and k is not Kind.BLOB):
                return my.VARBINARY(min(col.length or 3072, 3072) if is_key else col.length)
            return my.LONGBLOB()
        if k is Kind.DATE:
            return sa.Date()
        if k is Kind.TIME:
            return my.TIME(fsp=col.precision)
        if k in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
            return my.DATETIME(fsp=col.precision)
        if k is Kind.UUID:
            return cls.uuid_type()
        return my.JSON()

    @classmethod
    def uuid_type(cls):
        from sqlalchemy.dialects import mysql as my
        return my.CHAR(36, charset="ascii", collation="ascii_bin")

    @classmethod
    def dialect(cls):
        from sqlalchemy.dialects import mysql
        return mysql.dialect()

    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        return sqla.generate_ddl([_key_budget(t) for t in tables], cls.dialect(), cls.sqla_type)

    def execute_script(self, sql: str) -> None:
        import pymysql
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for stmt in _statements(sql):
                    cur.execute(stmt)
        except pymysql.Error as exc:
            raise DataError(f"running DDL on {self.where()}: {first_line(exc)}") from None
        finally:
            conn.close()

    def open_applier(self) -> "MysqlApplier":
        return MysqlApplier(self.connect(autocommit=False, found_rows=True), self)


def _key_budget(table: Table) -> Table:
    """``table`` with each string key column of no length (TEXT: a Cassandra or
    PostgreSQL key) given an equal share of InnoDB's key limit, so that a composite key of
    several fits it (one alone gets :data:`MAX_KEY_CHARS`); a longer value is refused by
    the server when applied, naming the table."""
    from dataclasses import replace
    share = MAX_KEY_CHARS // len(table.primary_key)
    keys = set(table.primary_key)
    unbounded = [c for c in table.columns if c.name in keys and c.kind in (Kind.VARCHAR, Kind.TEXT)
                 and (c.length is None or c.length > MAX_KEY_CHARS)]
    if len(table.primary_key) < 2 or not unbounded:
        return table
    return replace(table, columns=tuple(replace(c, kind=Kind.VARCHAR, length=share) if c in unbounded else c
                                        for c in table.columns))


def _password(d: Dsn) -> bytes:
    """The password as UTF-8 bytes: PyMySQL encodes a ``str`` as latin-1, which no server
    account of a non-ASCII password matches (the ``mariadb`` client sends UTF-8)."""
    return (d.password or "").encode("utf-8")


_CONNECTION = None


def _connection_class():
    """PyMySQL's Connection, loading the system's CA certificates once per process.

    Without TLS options PyMySQL connects in PREFERRED mode (TLS if the server offers it,
    the certificate unchecked) and builds a fresh default SSL context for it on every
    connection: ~30 ms of CA loading, paid per window read. The context is the same
    every time, so this class builds it once; explicit TLS options are untouched."""
    global _CONNECTION
    if _CONNECTION is None:
        import threading

        import pymysql
        lock, shared = threading.Lock(), []

        class Connection(pymysql.connections.Connection):
            def _create_ssl_ctx(self, sslp):
                if isinstance(sslp, dict) and not sslp:
                    with lock:
                        if not shared:
                            shared.append(super()._create_ssl_ctx(sslp))
                        return shared[0]
                return super()._create_ssl_ctx(sslp)
        _CONNECTION = Connection
    return _CONNECTION


def _abandon(cur) -> None:
    """Forget the rest of an unbuffered PyMySQL result whose connection is about to be
    closed (an error, a reader that stopped early): PyMySQL would read it to the end
    first, or, when the server dropped the connection, raise AttributeError from the
    closed socket in place of the error that ended the read."""
    result = getattr(cur, "_result", None)
    if result is not None:
        result.unbuffered_active = False


def _converter(conn, table: Table, cols: list[Column]):
    """The row converter for rows read on ``conn`` (C extension or PyMySQL)."""
    kinds, names = [c.kind for c in cols], [c.name for c in cols]
    if isinstance(conn, native.NativeConnection):
        return row_converter(kinds, table.qualified, names, NATIVE_IDENTITY, NATIVE_TEXT)
    return row_converter(kinds, table.qualified, names, IDENTITY)


class LiveColumn(NamedTuple):
    collation: str
    data_type: str
    fraction: int     # a temporal type's fractional digits
    column_type: str  # the type as the table declares it (``decimal(6,3)``, ``enum('a','b')``)


def _canonical_text(table: Table, fractional: set[str]) -> str:
    """A row's canonical text (``diff.blocks``). A DATETIME with a fraction (a name in
    ``fractional``, from the live column) prints every digit of its precision: the
    trailing zeros, and then a bare point, are cut off. (Cut from a DATETIME without a
    fraction they would eat the seconds' zeros: ``12:30:00`` would print ``12:30:``.)

    A row without NULLs takes the fast expression: one flat ``CONCAT`` of the columns as
    they are, which converts numbers and dates to text as ``CAST(… AS CHAR)`` does at
    half the server's cost (``CAST`` copies through a charset conversion), and a
    fraction without zeros to trim kept off with ``LEFT(…, 19)``. ``CONCAT`` gives NULL
    when any column is NULL, and such a row takes the slow one, column by column, NULL
    as ``N``. Both give the same text (``test_window_text`` holds them to PostgreSQL's)."""
    fast, slow = [], []
    for c in table.columns:
        q = quote_ident(c.name)
        if c.kind in TEXT_KINDS:
            fast.append(f"CHAR_LENGTH({q}), ':', {q}")
            text = f"CONCAT(CHAR_LENGTH({q}), ':', {q})"
        elif c.kind is Kind.TIMESTAMP and c.name in fractional:
            fast.append(f"IF(MICROSECOND({q}), TRIM(TRAILING '0' FROM {q}), LEFT({q}, 19))")
            text = f"TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST({q} AS CHAR)))"
        else:
            fast.append(q)
            text = f"CAST({q} AS CHAR)"
        slow.append(f"COALESCE({text}, 'N')")
    comma = ", ',', "
    return f"IFNULL(CONCAT({comma.join(fast)}), CONCAT({comma.join(slow)}))"


def _canonical_hash(text: str) -> str:
    """A row's hash in the canonical block format: the first 64 bits of the md5 of its
    canonical ``text``, unsigned."""
    return f"CAST(CONV(LEFT(MD5({text}), 16), 16, 10) AS UNSIGNED)"


class MysqlBlocks(BlockReader):
    """One window of one table on one connection inside a consistent snapshot."""

    def __init__(self, db: MysqlDatabase, conn, table: Table, window: Window, width: int):
        self.db, self.conn, self.table, self.window, self.width = db, conn, table, window, width
        self.col = table.key_columns[0]
        self.key = quote_ident(self.col.name)

    def _fetch(self, sql: str, params: list) -> list[tuple]:
        import pymysql
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        except pymysql.Error as exc:
            raise self.db.read_error(exc, self.table) from None

    def sums(self) -> bytes:
        where, params = self.db._window_predicate(self.table, self.window)
        rows = self._fetch(f"SELECT {self.key} DIV %s, COUNT(*), BIT_XOR({_canonical_hash(self.db.canonical_text(self.table))}) "
                           f"FROM {qualified(self.table)}{where} GROUP BY 1", [self.width, *params])
        return "".join(f"{b}\t{n}\t{h:x}\n" for b, n, h in rows).encode()

    def read_rows(self, ranges: list[tuple[int, int]]) -> list[tuple]:
        where, params = self.db._window_predicate(self.table, self.window)
        within = f" AND {where.removeprefix(' WHERE ')}" if where else ""
        spans = " OR ".join([f"{self.key} BETWEEN %s AND %s"] * len(ranges))
        cols = list(self.table.columns)
        text = isinstance(self.conn, native.NativeConnection)
        rows = self._fetch(f"SELECT {self.db.select_list(self.table, cols, text)} FROM {qualified(self.table)} "
                           f"WHERE ({spans}){within} ORDER BY {self.key}",
                           [v for r in ranges for v in r] + params)
        convert = _converter(self.conn, self.table, cols)
        try:
            return rows if convert is None else [convert(r) for r in rows]
        except ValueError as exc:
            raise DataError(f"reading {self.db.type_name} {exc}") from None


def _statements(sql: str) -> list[str]:
    """Split generated DDL (no semicolons inside literals) into statements."""
    body = "\n".join(ln for ln in sql.splitlines() if not ln.startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip().rstrip(";")]


def _to_driver(kind: Kind, v):
    """Canonical value → what PyMySQL writes for the column MySQL keeps it in."""
    if v is None:
        return None
    if kind is Kind.UUID:
        return str(v)
    if kind is Kind.TIMESTAMPTZ:
        return v.replace(tzinfo=None)  # canonical values are UTC already
    if kind in (Kind.FLOAT32, Kind.FLOAT64) and (v != v or v in (float("inf"), float("-inf"))):
        raise ValueError(f"{v!r} cannot be stored: MySQL floats have no NaN or Infinity")
    return v


# ---- SQL literals for the applier ------------------------------------------------------
#
# The applier fills its shadow table with multi-row INSERTs whose values it writes itself,
# one function per column chosen once from the column's kind: PyMySQL's ``executemany``
# looked each value's type up and escaped it in Python (~9 us a row). The connection runs
# with NO_BACKSLASH_ESCAPES (see ``connect``), so a string literal only doubles its
# quotes; bytes are written as hex literals, which no mode reinterprets.

#: characters of VALUES text per INSERT statement (PyMySQL's own executemany default)
STATEMENT_CHARS = 1_000_000


def _values_lists(rows, literals: list, limit: int = STATEMENT_CHARS, too_big=None) -> Iterator[str]:
    """``(…),(…)`` texts of at most ~``limit`` characters covering ``rows``; a row whose
    own text is longer is handed to ``too_big`` (which raises), when given."""
    parts: list[str] = []
    size = 0
    for row in rows:
        text = "(" + ",".join(map(call, literals, row)) + ")"
        if too_big is not None and len(text) > limit:
            too_big(row, text)
        parts.append(text)
        size += len(text) + 1
        if size >= limit:
            yield ",".join(parts)
            parts, size = [], 0
    if parts:
        yield ",".join(parts)


def _op_literal(v: str) -> str:
    return f"'{v}'"


def _int_literal(v) -> str:
    return "NULL" if v is None else str(v)


def _quoted(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _float_literal(v: float) -> str:
    text = repr(_to_driver(Kind.FLOAT64, v))   # refuses NaN and the infinities
    return text if "e" in text else text + "e0"   # a double literal, never a decimal one


_LITERALS = {
    Kind.BOOLEAN: lambda v: "1" if v else "0",
    Kind.DECIMAL: lambda v: format(v, "f"),
    Kind.FLOAT32: _float_literal, Kind.FLOAT64: _float_literal,
    Kind.DATE: lambda v: f"'{v.isoformat()}'",
    Kind.TIME: lambda v: f"'{v.isoformat()}'",
    Kind.TIMESTAMP: lambda v: f"'{v.isoformat(' ')}'",
    Kind.TIMESTAMPTZ: lambda v: f"'{v.replace(tzinfo=None).isoformat(' ')}'",   # UTC, as the session
    Kind.UUID: lambda v: f"'{v}'",
    **{k: str for k in INTEGER_RANGES},
    **{k: _quoted for k in STRING_KINDS},
    **{k: lambda v: f"X'{v.hex()}'" for k in BINARY_KINDS},
}


def _literal(col: Column):
    """The function writing a value of ``col`` (or None) as a MySQL literal."""
    lit = _LITERALS[col.kind]
    return lambda v: "NULL" if v is None else lit(v)


class MysqlApplier(SqlApplier):
    """Applies a file in one transaction. Foreign keys: InnoDB checks each row as it is
    written, and cannot defer a check to the commit. The emitter orders tables so that
    every file satisfies the foreign keys between tables; the rows of a table that refers
    to itself, or of tables that refer to each other, come in one file in no useful order,
    so while it applies those this session turns ``foreign_key_checks`` off (for itself
    only; it also keeps ``ON DELETE`` actions from firing) and, before the commit, looks
    for a row that breaks any foreign key touching those tables: one found rolls the file
    back, naming the constraint."""

    def __init__(self, conn, db: MysqlDatabase):
        super().__init__(conn, quote_ident(APPLIED), quote_ident(LEASE))
        self.db = db
        self._shadows: dict[str, str] = {}
        self._references: dict[str, list] = {}   # per schema, from the catalog
        self._cyclic: set[str] = set()             # the tables of those in a cycle
        self._unchecked: set[str] = set()          # tables written with checks off, this file
        self.create_metadata()
        # a statement longer than max_allowed_packet makes the server drop the connection
        # ("gone away": a lost connection, which would be retried): statements stay a
        # quarter of it (a character is up to 4 bytes), and a row that cannot is refused
        self.packet = int(self.sql("SELECT @@max_allowed_packet").fetchone()[0])
        self.statement_chars = min(STATEMENT_CHARS, max(1024, self.packet // 4 - 4096))

    def begin(self) -> None:
        self.conn.begin()

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        try:
            self.conn.rollback()
        finally:
            self._check_again()

    def _refs(self, schema: str) -> list:
        if schema not in self._references:
            self._references[schema] = self.db.foreign_keys({schema})
            self._cyclic |= graph.cycles(self._references[schema])
        return self._references[schema]

    def _uncheck(self, t: Table) -> None:
        """Turn this session's checks off before writing a table in a foreign-key cycle."""
        if t.qualified in self._unchecked:
            return
        self._refs(t.schema)
        if t.qualified in self._cyclic:
            if not self._unchecked:
                self.sql("SET foreign_key_checks = 0")
            self._unchecked.add(t.qualified)

    def _too_big(self, t: Table, row: tuple, text: str, literals: list) -> None:
        """Refuse a row whose INSERT would not fit ``max_allowed_packet``, naming the
        table, the key and the largest column; a row that fits in bytes passes."""
        if len(text.encode("utf-8")) + 4096 <= self.packet:
            return
        sizes = [(len(lit(v).encode("utf-8")), c.name) for c, lit, v in zip(t.columns, literals[2:], row[2:])]
        size, column = max(sizes)
        key = tuple(row[2 + p] for p in t.key_positions)
        raise DataError(f"applying to {self.db.type_name} table {t.qualified} key {key!r}: column {column} takes "
                        f"{size:,} bytes in a statement, more than the server's max_allowed_packet "
                        f"({self.packet:,}) allows; raise it on the server (max_allowed_packet in its config, "
                        "or SET GLOBAL max_allowed_packet=…)")

    def end_file(self) -> None:
        """Check every foreign key touching a table written with checks off (this
        transaction sees its own rows)."""
        if not self._unchecked:
            return
        for t in sorted(self._unchecked):
            for r in self._refs(t.partition(".")[0]):
                if r.table not in self._unchecked and r.ref_table not in self._unchecked:
                    continue
                child, parent = (".".join(map(quote_ident, n.split(".", 1))) for n in (r.table, r.ref_table))
                row = self.sql(references.orphan_sql(child, parent, list(r.columns), r.columns, r.ref_columns,
                                                     quote_ident)).fetchone()
                if row is not None:
                    raise DataError(
                        f"applying to {self.db.type_name} table {r.table}: the target's foreign key {r.name} refuses "
                        f"{', '.join(f'{c}={v!r}' for c, v in zip(r.columns, row))}, which {r.ref_table} does not "
                        "hold after this file")
        self._check_again()

    def _check_again(self) -> None:
        if self._unchecked:
            self._unchecked.clear()
            try:
                self.sql("SET foreign_key_checks = 1")
            except Exception:  # noqa: BLE001 - a lost connection: a new one checks anyway
                pass

    def translate(self, exc: Exception, batch: TableBatch | None) -> Exception:
        import pymysql
        return apply_error(self.db, exc, batch, pymysql.Error)

    def _shadow(self, t: Table) -> str:
        name = self._shadows.get(t.qualified)
        if name is None:
            name = quote_ident(f"{t.name[:40]}_wkm{len(self._shadows)}")
            # the target's own column types (which may not be the .skt's: a target made
            # by hand): a value is fitted to its column once, as the target would fit it
            live = self.db._column_info(t)
            cols = ", ".join(f"{quote_ident(c.name)} {live[c.name].column_type} NULL" for c in t.columns)
            # CREATE TEMPORARY TABLE does not end the open transaction
            self.sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} (__op CHAR(1), __grp INT, {cols}) "
                     f"{self.db.shadow_options}CHARACTER SET utf8mb4")
            self._shadows[t.qualified] = name
        return name

    def apply_batch(self, batch: TableBatch) -> None:
        t = batch.table
        shadow = self._shadow(t)
        self._uncheck(t)
        self.sql(f"DELETE FROM {shadow}")
        names = [quote_ident(c.name) for c in t.columns]
        cur = self.conn.cursor()
        head = f"INSERT INTO {shadow} (__op, __grp, {', '.join(names)}) VALUES "
        literals = [_op_literal, _int_literal, *map(_literal, t.columns)]
        for values in _values_lists(shadow_rows(batch), literals, self.statement_chars,
                                    lambda row, text: self._too_big(t, row, text, literals)):
            cur.execute(head + values)
        target = qualified(t)
        keys = [quote_ident(c.name) for c in t.key_columns]
        match = " AND ".join(f"t.{k} = w.{k}" for k in keys)
        if batch.deletes:
            self.sql(f"DELETE t FROM {target} AS t JOIN {shadow} AS w ON {match} WHERE w.__op = 'D'")
        if batch.upserts:
            rest = [n for n, c in zip(names, t.columns) if c.name not in t.primary_key] or keys[:1]
            self.sql(f"INSERT INTO {target} ({', '.join(names)}) SELECT {', '.join(names)} FROM {shadow} "
                     f"WHERE __op = 'I' ON DUPLICATE KEY UPDATE " + ", ".join(f"{n} = VALUES({n})" for n in rest))
        updated = 0
        for grp, offsets in enumerate(batch.updates):
            sets = ", ".join(f"t.{names[o]} = w.{names[o]}" for o in offsets)
            updated += self.sql(f"UPDATE {target} AS t JOIN {shadow} AS w ON {match} SET {sets} "
                                f"WHERE w.__op = 'U' AND w.__grp = %s", (grp,)).rowcount
        self.count_missed(batch, updated)
