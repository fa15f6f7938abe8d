"""SQL Server, as source and target, on the relational kit (``adapters.sql.kit``), through
pyodbc with Microsoft's ODBC driver (or FreeTDS's).

DSN: ``mssql+pyodbc://user:password@host:1433/database?driver=ODBC+Driver+18+for+SQL+Server``
(``mssql://`` and ``sqlserver://`` too); any other query parameter is passed to the ODBC
driver as a connection-string keyword (``TrustServerCertificate=yes``, ``Encrypt=no``).
Connections ask for a 32 KB TDS packet (``SQL_ATTR_PACKET_SIZE`` 32767, set before
connecting), which reads wide tables several times faster than the 4 KB default.

**Reading.** A window is one ``SELECT`` ordered by the key. Each connection reads at
``SNAPSHOT`` isolation where the database allows it (``ALLOW_SNAPSHOT_ISOLATION ON``), or
at its row-versioned ``READ COMMITTED`` (``READ_COMMITTED_SNAPSHOT ON``): either way one
statement sees one snapshot. Where neither is on, windows are read under locking READ
COMMITTED, and a warning says so once: a row that a concurrent transaction moves may be
missed or seen twice by that window, and the next run repairs it.

**Key order.** The diff needs keys in binary code-point order. Integer, decimal, date and
time keys are ordered as stored. A string key is ordered by its UTF-8 bytes: ``CAST(k
COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max))`` (SQL Server 2019+), which is
code-point order even for characters beyond the BMP, where ``nvarchar`` under a ``BIN2``
collation compares UTF-16 code units. A ``uniqueidentifier`` key, which SQL Server sorts by
its own byte groups (the last six bytes first), is ordered by its text, ``CONVERT(char(36),
k)`` under a binary collation: the canonical uuid order. Both expressions cannot use the
key's index, so each window of such a table is a scan: correct, and slower on big tables.

**Collations.** Default collations are case-insensitive and every collation ignores
trailing spaces in comparisons, so a case-sensitive source is refused when its keys would
collide (SPEC 6, ``key_folding``); generated DDL declares string keys with a binary
collation (``Latin1_General_100_BIN2``).

**Types.** ``datetime2(7)`` and ``datetimeoffset(7)`` are read at microseconds (Python's
resolution): the seventh digit is dropped on the way, so a target receives six.
``money``/``smallmoney`` are decimals of scale 4; ``rowversion`` is read as ``binary(8)``
and a target table holding one is refused (the server writes it). ``sql_variant`` is
refused. Floats cannot be NaN or ±Infinity here.

**Apply.** A file's rows go into the session's temporary ``#<table>_wkm<n>`` by pyodbc's
``fast_executemany`` (array binding), then ``DELETE … WHERE EXISTS``, ``MERGE … WITH
(HOLDLOCK)`` and one ``MERGE`` per set of changed columns (``adapters.sql.statements``),
with ``SET IDENTITY_INSERT … ON`` around the insert where the table has an identity
column, in the transaction that records the file in ``[_targetsync].[applied]``.
"""
from __future__ import annotations

import logging
import threading
from urllib.parse import parse_qsl

from targetsync_core.adapters.base import Capabilities
from targetsync_core.adapters.sql.kit import KitDatabase
from targetsync_core.adapters.sql.server import first_line
from targetsync_core.adapters.sqlserver.types import (BINARY_COLLATION, REFLECTED, TO_DRIVER, datetimeoffset,
                                                       declared, input_sizes)
from targetsync_core.errors import ConfigError, ConnectError, SchemaMismatch
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

log = logging.getLogger(__name__)

DEFAULT_DRIVER = "ODBC Driver 18 for SQL Server"
PACKET_SIZE = 32767
UTF8_BINARY = "Latin1_General_100_BIN2_UTF8"
STRING_KINDS = (Kind.CHAR, Kind.VARCHAR, Kind.TEXT)

#: SQLSTATE classes of a lost connection (08xxx: connection exceptions; HYT00/HYT01
#: time-outs) and native errors of a missing privilege (229 permission denied on an
#: object, 230 on a column, 262 on a statement, 297/300 server-level)
LOST_STATES = ("08", "HYT")
DENIED_ERRORS = ("(229)", "(230)", "(262)", "(297)", "(300)")
#: SQLSTATEs of a login the server refused (18456: wrong user or password; 4060: no
#: such database for this login)
LOGIN_REFUSED = ("28000", "42000")


def _braced(value: str) -> str:
    return "{" + value.replace("}", "}}") + "}"


class SqlServerDatabase(KitDatabase):
    capabilities = Capabilities(name="sqlserver", nonfinite_floats=False, pads_key_spaces=True,
                                max_identifier_length=128, max_integer=2**63 - 1)
    dialect = "tsql"
    driver = "mssql+pyodbc"
    schemes = ("mssql", "sqlserver")
    default_port = 1433
    reflected = REFLECTED
    stored_as = {Kind.UINT16: Kind.INT32, Kind.UINT32: Kind.INT64, Kind.UINT64: Kind.DECIMAL, Kind.JSON: Kind.TEXT}
    identity_kinds = frozenset(Kind) - {Kind.UINT64, Kind.FLOAT32, Kind.UUID, Kind.JSON, Kind.TIMESTAMPTZ}
    to_driver = TO_DRIVER
    every_nth = "(ts_rn - 1) % ? = 0"
    row_values = False
    lease_hint = " WITH (UPDLOCK, HOLDLOCK)"
    for_update = ""
    #: what the first connection found: SNAPSHOT allowed, READ_COMMITTED_SNAPSHOT on
    _isolation: tuple[bool, bool] | None = None

    def __init__(self, dsn, type_name: str):
        super().__init__(dsn, type_name)
        self._identity_cols: dict[str, list[str]] = {}
        self._probe = threading.Lock()

    # -- connections ---------------------------------------------------------------------
    def connection_string(self) -> str:
        """The ODBC connection string: the DSN's parts, then its query parameters as
        keywords. A value holding ``;`` or braces is braced (``}`` doubled), so no value
        can end its keyword early; the driver's name is always braced."""
        d = self.dsn
        options = dict(parse_qsl(d.query))
        driver = options.pop("driver", DEFAULT_DRIVER)
        parts = {"DRIVER": _braced(driver), "SERVER": f"{d.host or 'localhost'},{d.port or self.default_port}",
                 "DATABASE": d.database, "UID": d.username or "", "PWD": d.password or "", **options}
        return ";".join(f"{k}={v if k == 'DRIVER' or not set(v) & set(';{}') else _braced(v)}"
                        for k, v in parts.items() if v != "")

    def connect(self, autocommit: bool = True):
        try:
            import pyodbc
        except ImportError as exc:
            raise ConnectError(f"{self.where()}: SQL Server needs pyodbc and the system's ODBC libraries "
                               f"({exc}); pip install 'targetsync[sqlserver]', apt-get install unixodbc, and an "
                               "ODBC driver (Microsoft's msodbcsql18, or FreeTDS's tdsodbc)") from None
        try:
            # SQL_ATTR_PACKET_SIZE (112), set before connecting: every driver honours it
            conn = pyodbc.connect(self.connection_string(), autocommit=autocommit, timeout=10,
                                  attrs_before={112: PACKET_SIZE})
        except pyodbc.Error as exc:
            if str(exc.args[0] if exc.args else "") in LOGIN_REFUSED:   # retrying cannot help
                raise ConfigError(f"{self.where()} refused the login: {first_line(exc)}") from None
            raise ConnectError(f"cannot connect to {self.where()}: {first_line(exc)}") from None
        conn.add_output_converter(-155, datetimeoffset)
        self.set_isolation(conn)
        return conn

    def set_isolation(self, conn) -> None:
        """SNAPSHOT where allowed; nothing to do under READ_COMMITTED_SNAPSHOT; a warning
        (once) where neither is on."""
        with self._probe:
            if self._isolation is None:
                row = conn.cursor().execute(
                    "SELECT snapshot_isolation_state, is_read_committed_snapshot_on FROM sys.databases "
                    "WHERE name = DB_NAME()").fetchone()
                self._isolation = (bool(row and row[0] == 1), bool(row and row[1]))
                if not any(self._isolation):
                    log.warning("%s allows neither SNAPSHOT isolation nor READ_COMMITTED_SNAPSHOT: windows are "
                                "read under locking READ COMMITTED, where a row a concurrent transaction moves "
                                "can be missed or seen twice (the next run repairs it); ALTER DATABASE … SET "
                                "ALLOW_SNAPSHOT_ISOLATION ON makes every window one snapshot", self.where())
        if self._isolation[0] and conn.autocommit:
            conn.cursor().execute("SET TRANSACTION ISOLATION LEVEL SNAPSHOT")

    def driver_error(self, exc: BaseException) -> bool:
        import pyodbc
        return isinstance(exc, pyodbc.Error)

    def lost(self, exc: BaseException) -> bool:
        state = str(exc.args[0]) if getattr(exc, "args", ()) else ""
        return state.startswith(LOST_STATES)

    def reusable(self, conn) -> bool:
        return not getattr(conn, "closed", False)

    # -- key order -----------------------------------------------------------------------
    def key_expr(self, col: Column) -> str:
        q = self.quote(col.name)
        if col.kind in STRING_KINDS:
            return f"CAST({q} COLLATE {UTF8_BINARY} AS varchar(max)) COLLATE {UTF8_BINARY}"
        if col.kind is Kind.UUID:
            return f"CONVERT(char(36), {q}) COLLATE {BINARY_COLLATION}"
        return q

    def key_param(self, col: Column, value):
        if col.kind is Kind.UUID:
            return str(value).upper()
        return self.bind(col.kind, value)

    def key_folding(self, table: Table) -> dict[str, str]:
        """Every string key compares ignoring trailing spaces; one under a ``_CI``
        collation ignores case too."""
        keys = [c.name for c in table.key_columns if c.kind in STRING_KINDS]
        if not keys:
            return {}
        with self.borrow() as conn:
            rows = conn.cursor().execute(
                "SELECT c.name, c.collation_name FROM sys.columns c WHERE c.object_id = OBJECT_ID(?)",
                (f"{self.quote(table.schema)}.{self.quote(table.name)}",)).fetchall()
        collations = {name: coll or "" for name, coll in rows}
        return {k: "case,space" if "_CI" in collations.get(k, "_CI") else "space" for k in keys}

    # -- target --------------------------------------------------------------------------
    @classmethod
    def sqla_type(cls, col: Column, is_key: bool):
        return declared(col, is_key)

    def create_shadow_sql(self, name: str, columns: str) -> str:
        """``name`` starts with one ``#``: the session's own temporary table (two would
        make it global, seen by every session)."""
        return f"CREATE TABLE {self.quote(name)} ({self.quote('__op')} CHAR(1), " \
               f"{self.quote('__grp')} INT, {columns})"

    def shadow_name(self, table: Table, n: int) -> str:
        return "#" + super().shadow_name(table, n)

    def shadow_columns(self, table: Table) -> str:
        live = self.shape(table.schema, table.name)
        if live is not None:
            for c in live.columns:
                if (c.native or "").upper() in ("TIMESTAMP", "ROWVERSION"):
                    raise SchemaMismatch(f"table {table.qualified} column {c.name} is a rowversion, which SQL "
                                         "Server writes itself: a target table cannot take it; drop the column "
                                         "or sync into a table without it")
        return super().shadow_columns(table)

    def bulk_cursor(self, conn, table: Table):
        """``fast_executemany`` (one array-bound round trip a chunk) with every parameter's
        type given: SQL Server cannot describe the parameters of an INSERT into a
        ``#temp`` table, and pyodbc would then bind each as ``varchar(255)`` (losing
        Unicode, cutting long values); a size of 0 streams a ``(max)`` value instead of
        allocating for its largest size."""
        cur = conn.cursor()
        cur.fast_executemany = True
        cur.setinputsizes(input_sizes(table))
        return cur

    def identity_columns(self, applier, table: Table) -> list[str]:
        cols = self._identity_cols.get(table.qualified)
        if cols is None:
            cols = [r[0] for r in applier.sql(
                "SELECT name FROM sys.identity_columns WHERE object_id = OBJECT_ID(?)",
                (self.qualified(table),)).fetchall()]
            self._identity_cols[table.qualified] = cols
        return cols

    def before_upsert(self, applier, table: Table) -> None:
        if self.identity_columns(applier, table):
            applier.sql(f"SET IDENTITY_INSERT {self.qualified(table)} ON")

    def after_upsert(self, applier, table: Table) -> None:
        if self.identity_columns(applier, table):
            applier.sql(f"SET IDENTITY_INSERT {self.qualified(table)} OFF")

    def read_error(self, exc: BaseException, table: Table):
        if any(code in str(exc) for code in DENIED_ERRORS):
            return ConfigError(f"reading {self.type_name} table {table.qualified} on {self.where()}: "
                               f"{first_line(exc)}")
        return super().read_error(exc, table)


__all__ = ["SqlServerDatabase"]
