"""Oracle, as source and target, on the relational kit (``adapters.sql.kit``), through
python-oracledb in thin mode (no Oracle client libraries).

DSN: ``oracle+oracledb://user:password@host:1521/SERVICE`` (``oracle://`` too; the path is
the service name, or ``?service_name=…``). Tables are ``OWNER.TABLE``; names follow
SQLAlchemy's rule both ways: a lower-case ``.skt`` name is Oracle's upper-case one
(``app.orders`` is ``APP.ORDERS``), any other is used as it is, quoted.

**Reading.** Oracle gives every query statement-level read consistency: a window's one
``SELECT`` sees the database as of that statement's start (its SCN), whatever commits
meanwhile, so no flashback (``AS OF SCN``) is needed for a window. Sessions compare and
sort strings in binary (``NLS_COMP=BINARY``, ``NLS_SORT=BINARY``), which for a database
in AL32UTF8 is code-point order, and keeps the key's index usable. Not yet: a key of
``NVARCHAR2`` (held in UTF-16, whose binary order puts characters beyond the BMP before
U+E000–U+FFFF) is ordered as stored; generated DDL never declares one. Times are read in UTC
(``SYS_EXTRACT_UTC``), large objects as values.

**Empty strings are NULL** in Oracle. A source ``''`` written there becomes NULL and
then compares equal to it (``Capabilities.empty_is_null``), so it never churns; a key
holding ``''`` is refused before any work, naming it; a NOT NULL column receiving ``''``
is refused by Oracle at apply, naming the table. Back from Oracle, NULL is NULL.

**Apply.** DDL commits in Oracle, so the shadow is never made inside a file's
transaction: it is a global temporary table ``<TABLE>_WKM`` (rows private to a session,
deleted at commit), created by ``c.sql`` or, for a target made by hand, on a connection of
its own before the file. Rows go in by array DML (``executemany``), then ``DELETE … WHERE
EXISTS``, ``MERGE`` and a ``MERGE`` per set of changed columns, in the transaction that
records the file in ``TARGETSYNC_APPLIED`` (with ``TARGETSYNC_LEASE``, in the login's own
schema). Generated names keep within 128 characters (30 before 12.2: set
``max_identifier_length`` by version).
"""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qsl

from targetsync_core.adapters.base import Capabilities
from targetsync_core.adapters.oracle.types import REFLECTED, STORED_AS, TO_DRIVER, declared
from targetsync_core.adapters.sql.kit import KitDatabase
from targetsync_core.adapters.sql.server import first_line
from targetsync_core.errors import ConfigError, ConnectError
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

#: ORA- errors of a lost connection (end-of-file on the channel, not connected, killed
#: session, network) and of a refused login; DPY- errors are oracledb's own
LOST = ("ORA-03113", "ORA-03114", "ORA-03135", "ORA-00028", "ORA-01012", "DPY-4011", "DPY-6005", "DPI-1080")
LOGIN_REFUSED = ("ORA-01017", "ORA-28000", "ORA-01045")
DENIED = ("ORA-01031", "ORA-00942: table or view does not exist", "ORA-01749")
MARK = re.compile(r"\?|'(?:[^']|'')*'|\"[^\"]*\"")


def numbered(sql: str) -> str:
    """``?`` marks as Oracle bind variables ``:p1``, ``:p2`` … (skipping quoted text),
    bound by position."""
    n = 0

    def mark(m):
        nonlocal n
        if m.group(0) != "?":
            return m.group(0)
        n += 1
        return f":p{n}"
    return MARK.sub(mark, sql)


class Marks:
    """A DB-API connection taking ``?`` marks, over one that takes ``:n``."""

    def __init__(self, conn):
        self.conn = conn

    def cursor(self):
        return _MarkedCursor(self.conn.cursor())

    def __getattr__(self, name):
        return getattr(self.conn, name)


class _MarkedCursor:
    def __init__(self, cur):
        self.cur = cur

    def execute(self, sql, params=None):
        self.cur.execute(numbered(sql), params or [])
        return self

    def executemany(self, sql, rows):
        self.cur.executemany(numbered(sql), rows)

    def __getattr__(self, name):
        return getattr(self.cur, name)


def _read_date(v):
    if isinstance(v, dt.datetime):
        if v.time() != dt.time(0):
            raise ValueError(f"DATE {v} holds a time of day, which a date column of the .skt cannot")
        return v.date()
    return v


class OracleDatabase(KitDatabase):
    capabilities = Capabilities(name="oracle", max_identifier_length=128, max_integer=2**63 - 1, empty_is_null=True)
    dialect = "oracle"
    driver = "oracle+oracledb"
    schemes = ("oracle",)
    default_port = 1521
    reflected = REFLECTED
    stored_as = STORED_AS
    identity_kinds = frozenset({Kind.INT16, Kind.INT32, Kind.INT64, Kind.FLOAT64, Kind.CHAR,
                                Kind.VARCHAR, Kind.TEXT, Kind.BLOB, Kind.VARBINARY, Kind.TIMESTAMP})
    read_as = {Kind.DATE: _read_date}
    to_driver = {**TO_DRIVER, Kind.TIMESTAMPTZ: lambda v: v.astimezone(dt.timezone.utc).replace(tzinfo=None)}
    every_nth = "mod(ts_rn - 1, ?) = 0"
    row_values = False
    table_exists_sql = "SELECT 1 FROM all_tables WHERE owner = ? AND table_name = ?"
    session = ("ALTER SESSION SET TIME_ZONE = 'UTC' NLS_COMP = 'BINARY' NLS_SORT = 'BINARY'",)

    @classmethod
    def stored_name(cls, name: str) -> str:
        return cls.sa_dialect().denormalize_name(name)

    def service(self) -> str:
        return dict(parse_qsl(self.dsn.query)).get("service_name") or self.dsn.database

    def identity(self) -> str:
        return f"{self.type_name} {self.server()}/{self.service()}"

    def connect(self, autocommit: bool = True):
        try:
            import oracledb
        except ImportError as exc:
            raise ConnectError(f"{self.where()}: Oracle needs python-oracledb ({exc}); "
                               "pip install 'targetsync[oracle]'") from None
        oracledb.defaults.fetch_lobs = False   # CLOB and BLOB values as str and bytes
        d = self.dsn
        try:
            raw = oracledb.connect(user=d.username, password=d.password, host=d.host or "localhost",
                                   port=d.port or self.default_port, service_name=self.service(), tcp_connect_timeout=10)
        except oracledb.Error as exc:
            text = first_line(exc)
            if text.startswith(LOGIN_REFUSED):
                raise ConfigError(f"{self.where()} refused the login: {text}") from None
            raise ConnectError(f"cannot connect to {self.where()}: {text}") from None
        raw.autocommit = autocommit
        conn = Marks(raw)
        for statement in self.session:
            conn.cursor().execute(statement)
        return conn

    def driver_error(self, exc: BaseException) -> bool:
        import oracledb
        return isinstance(exc, oracledb.Error)

    def lost(self, exc: BaseException) -> bool:
        return str(exc).startswith(LOST) or any(code in str(exc) for code in LOST)

    def read_error(self, exc: BaseException, table: Table):
        if any(code in str(exc) for code in DENIED):
            return ConfigError(f"reading {self.type_name} table {table.qualified} on {self.where()}: "
                               f"{first_line(exc)}")
        return super().read_error(exc, table)

    # -- reading -------------------------------------------------------------------------
    def select_expr(self, col: Column) -> str:
        q = self.quote(col.name)
        return f"SYS_EXTRACT_UTC({q})" if col.kind is Kind.TIMESTAMPTZ else q

    def key_folding(self, table: Table) -> dict[str, str]:
        return {c.name: "empty" for c in table.key_columns if c.kind in (Kind.CHAR, Kind.VARCHAR, Kind.TEXT)}

    # -- target --------------------------------------------------------------------------
    @classmethod
    def sqla_type(cls, col: Column, is_key: bool):
        return declared(col, is_key)

    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        """As the kit's, with each shadow a global temporary table (see the module)."""
        from targetsync_core.adapters.sql import sqla
        return sqla.generate_ddl(tables, cls.sa_dialect(), cls.sqla_type,
                                 shadow_options={"prefixes": ["GLOBAL TEMPORARY"], "oracle_on_commit": "DELETE ROWS"})

    def meta_table(self, name: str) -> tuple[str, tuple]:
        stored = f"TARGETSYNC_{name.upper()}"
        return self.quote(stored), (self.stored_name(self.dsn.username or ""), stored)

    def create_meta_schema(self, applier) -> None:
        """The login's own schema holds them: nothing to create."""

    def shadow_name(self, table: Table, n: int) -> str:
        return f"{table.name[:self.capabilities.max_identifier_length - 4]}_wkm"

    def shadow_schema(self, table: Table) -> str:
        return table.schema

    def make_shadow(self, applier, table: Table, n: int) -> str:
        """``<table>_wkm``, a global temporary table in the table's schema, made on a
        connection of its own when missing (DDL would commit the file's transaction)."""
        name = self.shadow_name(table, n)
        found = applier.sql(self.table_exists_sql, (self.stored_name(table.schema), self.stored_name(name))).fetchone()
        if not found:
            conn = self.connect()
            try:
                conn.cursor().execute(
                    f"CREATE GLOBAL TEMPORARY TABLE {self.quote(table.schema)}.{self.quote(name)} "
                    f"({self.quote('__op')} CHAR(1), {self.quote('__grp')} NUMBER(10), {self.shadow_columns(table)}) "
                    "ON COMMIT DELETE ROWS")
            finally:
                conn.close()
        return name


__all__ = ["OracleDatabase"]
