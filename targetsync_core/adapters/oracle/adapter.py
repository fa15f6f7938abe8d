"""Oracle, source and target, on the relational kit, through python-oracledb in thin mode.
DSN ``oracle+oracledb://user:pw@host:1521/SERVICE`` (``oracle://``; or ``?service_name=``).
Names follow SQLAlchemy's rule both ways (``app.orders`` is ``APP.ORDERS``).

A window's one SELECT is one snapshot (statement-level read consistency: no flashback
needed); sessions compare strings in binary, code-point order in AL32UTF8, keeping key
indexes usable (not yet: an NVARCHAR2 key, UTF-16, beyond the BMP). An empty string is
NULL here: it equals that NULL (``Capabilities.empty_is_null``), never churns, and is
refused as a key. DDL commits, so the shadow is a global temporary ``<TABLE>_WKM`` made
by ``c.sql`` or on a connection of its own, never inside a file's transaction. The
README (Oracle) says what each type becomes.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl

from targetsync_core.adapters.base import Capabilities
from targetsync_core.adapters.oracle.types import REFLECTED, STORED_AS, TO_DRIVER, declared
from targetsync_core.adapters.sql.kit import KitDatabase, NumberedBinds
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind


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
    # others see each statement checked; inside a file's transaction the checks wait for
    # its commit, so a self-reference's or a cycle's rows come in any order (model.graph)
    fk_options = {"deferrable": True, "initially": "IMMEDIATE"}
    begin_file_sql = "SET CONSTRAINTS ALL DEFERRED"
    driver_module, driver_hint = "oracledb", "python-oracledb: pip install 'targetsync[oracle]'"
    #: a refused login (bad credentials, locked, no CREATE SESSION); a missing privilege;
    #: a lost connection (end of file on the channel, killed session; DPY-: oracledb's own)
    login_refused = ("ORA-01017", "ORA-28000", "ORA-01045")
    denied_marks = ("ORA-01031", "ORA-01749")
    lost_marks = ("ORA-03113", "ORA-03114", "ORA-03135", "ORA-00028", "ORA-01012", "DPY-4011", "DPY-6005", "DPI-1080")

    @classmethod
    def stored_name(cls, name: str) -> str:
        return cls.sa_dialect().denormalize_name(name)

    def service(self) -> str:
        return dict(parse_qsl(self.dsn.query)).get("service_name") or self.dsn.database

    def identity(self) -> str:
        return f"{self.type_name} {self.server()}/{self.service()}"

    def connect(self, autocommit: bool = True):
        oracledb = self.import_driver()
        oracledb.defaults.fetch_lobs = False   # CLOB and BLOB values as str and bytes
        d = self.dsn
        try:
            raw = oracledb.connect(user=d.username, password=d.password, host=d.host or "localhost",
                                   port=d.port or self.default_port, service_name=self.service(),
                                   tcp_connect_timeout=10)
        except oracledb.Error as exc:
            raise self.connect_error(exc) from None
        raw.autocommit = autocommit
        conn = NumberedBinds(raw)
        for statement in self.session:
            conn.cursor().execute(statement)
        return conn

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
        return sqla.generate_ddl(tables, cls.sa_dialect(), cls.sqla_type, cls.fk_options,
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
