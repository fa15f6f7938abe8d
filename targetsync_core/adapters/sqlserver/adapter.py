"""SQL Server, source and target, on the relational kit, through pyodbc (Microsoft's ODBC
driver or FreeTDS's). DSN ``mssql+pyodbc://user:pw@host:1433/db?driver=…`` (``mssql://``,
``sqlserver://``); other query parameters are ODBC connection keywords. 32 KB TDS packets.

Windows are read at SNAPSHOT isolation where allowed (one statement is one snapshot under
READ_COMMITTED_SNAPSHOT too; a warning where neither is on). Keys in code-point order: a
string key by its UTF-8 bytes (``BIN2`` on nvarchar compares UTF-16 units), a
uniqueidentifier by its text (SQL Server sorts its byte groups otherwise), each a scan.
Collations ignore trailing spaces and mostly case: colliding keys are refused. Apply:
``#<table>_wkm<n>`` by ``fast_executemany`` with parameter types, then the kit's
statements (``MERGE … WITH (HOLDLOCK)``), ``IDENTITY_INSERT`` around inserts. The README
(SQL Server) says what each type becomes.
"""
from __future__ import annotations

import logging
import threading
from urllib.parse import parse_qsl

from targetsync_core.adapters.base import Capabilities
from targetsync_core.adapters.sql.kit import KitDatabase
from targetsync_core.adapters.sqlserver.types import (BINARY_COLLATION, REFLECTED, TO_DRIVER, datetimeoffset,
                                                       declared, input_sizes)
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

DEFAULT_DRIVER = "ODBC Driver 18 for SQL Server"
PACKET_SIZE = 32767
UTF8_BINARY = "Latin1_General_100_BIN2_UTF8"
STRING_KINDS = (Kind.CHAR, Kind.VARCHAR, Kind.TEXT)
#: the foreign keys touching a schema, one row per column pair in key order
REFERENCES = """SELECT fk.name, s1.name + '.' + t1.name, c1.name, s2.name + '.' + t2.name, c2.name, 0
FROM sys.foreign_key_columns k JOIN sys.foreign_keys fk ON fk.object_id = k.constraint_object_id
JOIN sys.tables t1 ON t1.object_id = k.parent_object_id JOIN sys.schemas s1 ON s1.schema_id = t1.schema_id
JOIN sys.columns c1 ON c1.object_id = k.parent_object_id AND c1.column_id = k.parent_column_id
JOIN sys.tables t2 ON t2.object_id = k.referenced_object_id JOIN sys.schemas s2 ON s2.schema_id = t2.schema_id
JOIN sys.columns c2 ON c2.object_id = k.referenced_object_id AND c2.column_id = k.referenced_column_id
WHERE s1.name = ? OR s2.name = ? ORDER BY s1.name, t1.name, fk.name, k.constraint_column_id"""


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
    unwritable = {"TIMESTAMP": "a rowversion", "ROWVERSION": "a rowversion"}
    create_temporary = "CREATE TABLE"   # of a name with one '#' (two: a global table)
    # no deferred checks: a table in a foreign-key cycle is written unchecked, then every
    # row of it checked again (and its keys trusted) before the commit
    references_sql = REFERENCES
    uncheck_sql = "ALTER TABLE {table} NOCHECK CONSTRAINT ALL"
    recheck_sql = "ALTER TABLE {table} WITH CHECK CHECK CONSTRAINT ALL"
    driver_module = "pyodbc"
    driver_hint = ("pyodbc and the system's ODBC libraries: pip install 'targetsync[sqlserver]', apt-get install "
                   "unixodbc, and an ODBC driver (Microsoft's msodbcsql18, or FreeTDS's tdsodbc)")
    #: SQLSTATEs and native errors: a refused login (28000, 18456; 4060 no such database),
    #: a missing privilege (229 object, 230 column, 262 statement, 297/300 server), a lost
    #: connection (08xxx connection exceptions, HYT00/HYT01 time-outs)
    login_refused = ("28000", "(18456)", "(4060)")
    denied_marks = ("(229)", "(230)", "(262)", "(297)", "(300)")
    lost_marks = ("08S01", "08001", "08003", "08004", "08007", "HYT00", "HYT01")
    #: what the first connection found: SNAPSHOT allowed, READ_COMMITTED_SNAPSHOT on
    _isolation: tuple[bool, bool] | None = None

    def __init__(self, dsn, type_name: str):
        super().__init__(dsn, type_name)
        self._identity_cols, self._probe = {}, threading.Lock()

    def connection_string(self) -> str:
        """The DSN's parts, then its query parameters as keywords; a value holding ``;`` or
        braces is braced (``}`` doubled), so no value can end its keyword early."""
        d = self.dsn
        options = dict(parse_qsl(d.query))
        driver = options.pop("driver", DEFAULT_DRIVER)
        parts = {"DRIVER": _braced(driver), "SERVER": f"{d.host or 'localhost'},{d.port or self.default_port}",
                 "DATABASE": d.database, "UID": d.username or "", "PWD": d.password or "", **options}
        return ";".join(f"{k}={v if k == 'DRIVER' or not set(v) & set(';{}') else _braced(v)}"
                        for k, v in parts.items() if v != "")

    def connect(self, autocommit: bool = True):
        pyodbc = self.import_driver()
        try:
            # SQL_ATTR_PACKET_SIZE (112), set before connecting: every driver honours it
            conn = pyodbc.connect(self.connection_string(), autocommit=autocommit, timeout=10,
                                  attrs_before={112: PACKET_SIZE})
        except pyodbc.Error as exc:
            raise self.connect_error(exc) from None
        conn.add_output_converter(-155, datetimeoffset)
        self.set_isolation(conn)
        return conn

    def set_isolation(self, conn) -> None:
        """SNAPSHOT where allowed; a warning (once) where neither snapshot form is on."""
        with self._probe:
            if self._isolation is None:
                row = conn.cursor().execute(
                    "SELECT snapshot_isolation_state, is_read_committed_snapshot_on FROM sys.databases "
                    "WHERE name = DB_NAME()").fetchone()
                self._isolation = (bool(row and row[0] == 1), bool(row and row[1]))
                if not any(self._isolation):
                    logging.getLogger(__name__).warning(
                        "%s allows neither SNAPSHOT isolation nor READ_COMMITTED_SNAPSHOT: windows are read under "
                        "locking READ COMMITTED (a row a concurrent transaction moves may be missed or seen twice; "
                        "the next run repairs it); ALTER DATABASE … SET ALLOW_SNAPSHOT_ISOLATION ON", self.where())
        if self._isolation[0] and conn.autocommit:
            conn.cursor().execute("SET TRANSACTION ISOLATION LEVEL SNAPSHOT")

    def reusable(self, conn) -> bool:
        return not getattr(conn, "closed", False)

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
        """String keys ignore trailing spaces; under a ``_CI`` collation, case too."""
        keys = [c.name for c in table.key_columns if c.kind in STRING_KINDS]
        if not keys:
            return {}
        with self.borrow() as conn:
            rows = conn.cursor().execute(
                "SELECT c.name, c.collation_name FROM sys.columns c WHERE c.object_id = OBJECT_ID(?)",
                (f"{self.quote(table.schema)}.{self.quote(table.name)}",)).fetchall()
        collations = {name: coll or "" for name, coll in rows}
        return {k: "case,space" if "_CI" in collations.get(k, "_CI") else "space" for k in keys}

    @classmethod
    def sqla_type(cls, col: Column, is_key: bool):
        return declared(col, is_key)

    def shadow_name(self, table: Table, n: int) -> str:
        return "#" + super().shadow_name(table, n)

    def bulk_cursor(self, conn, table: Table):
        """``fast_executemany`` with every parameter's type set: SQL Server cannot describe
        an INSERT into a ``#temp`` table, and pyodbc would bind ``varchar(255)``."""
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

    def before_upsert(self, applier, table: Table, on: str = "ON") -> None:
        if self.identity_columns(applier, table):
            applier.sql(f"SET IDENTITY_INSERT {self.qualified(table)} {on}")

    def after_upsert(self, applier, table: Table) -> None:
        self.before_upsert(applier, table, "OFF")
