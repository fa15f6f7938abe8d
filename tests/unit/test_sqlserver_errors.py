"""SQL Server's driver errors sorted at the boundary, with pyodbc's own exception classes
(the SQLSTATE in args[0], the message behind bracketed prefixes in args[1]), and the
connection string the adapter builds from a DSN."""
from __future__ import annotations

import pytest

from targetsync_core.adapters.sql.server import first_line
from targetsync_core.adapters.sqlserver import SqlServerDatabase
from targetsync_core.dsn import parse_dsn
from targetsync_core.errors import ConfigError, ConnectError, DataError, SchemaMismatch
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.servers import pyodbc_module

DB = SqlServerDatabase.from_dsn("sqlserver", parse_dsn(
    "mssql+pyodbc://app:s3cr%3Bet@db.example:1500/shop?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=no",
    source="target.dsn"))
T = Table("dbo", "orders", (Column("id", Kind.INT64, False),), ("id",))


@pytest.fixture
def pyodbc():
    return pyodbc_module()


def test_first_line_drops_the_odbc_prefixes(pyodbc):
    exc = pyodbc.ProgrammingError("42S02", "[42S02] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Invalid "
                                           "object name 'dbo.nosuch'. (208) (SQLExecDirectW)")
    assert first_line(exc) == "Invalid object name 'dbo.nosuch'. (208) (SQLExecDirectW)"


@pytest.mark.parametrize("cls,state,kind", [
    ("OperationalError", "08S01", ConnectError),      # communication link failure
    ("OperationalError", "HYT00", ConnectError),      # time-out
    ("ProgrammingError", "42000", ConfigError),       # (229) permission denied
    ("DataError", "22003", DataError),                # arithmetic overflow
])
def test_read_errors_are_sorted_lost_denied_or_bad_data(pyodbc, cls, state, kind):
    text = f"[{state}] [FreeTDS][SQL Server]" + ("The SELECT permission was denied on the object 'orders'. (229)"
                                                 if state == "42000" else "something went wrong (1)")
    err = DB.read_error(getattr(pyodbc, cls)(state, text), T)
    assert type(err) is kind
    assert "dbo.orders" in str(err) and "[FreeTDS]" not in str(err)


def test_connection_string_names_driver_server_and_passes_options_but_never_prints_the_password():
    cs = DB.connection_string()
    assert "DRIVER={ODBC Driver 18 for SQL Server}" in cs and "SERVER=db.example,1500" in cs
    assert "DATABASE=shop" in cs and "Encrypt=no" in cs
    assert "PWD={s3cr;et}" in cs   # a ';' in a value is braced, so it cannot end the keyword
    assert "s3cr" not in DB.where() and "s3cr" not in repr(DB.dsn)


def test_a_dsn_of_another_database_is_refused_naming_the_file():
    with pytest.raises(ConfigError, match="other.dsn: sqlserver needs a DSN of the form mssql://"):
        SqlServerDatabase.from_dsn("sqlserver", parse_dsn("postgresql://u@h/db", source="other.dsn"))


@pytest.mark.parametrize("state,text,kind,code", [
    ("28000", "[28000] [FreeTDS][SQL Server]Login failed for user 'app'. (18456) (SQLDriverConnect)", ConfigError, 2),
    ("08001", "[08001] [FreeTDS][SQL Server]Unable to connect to data source (0) (SQLDriverConnect)", ConnectError, 3),
])
def test_a_refused_login_is_a_configuration_error_and_an_unreachable_server_a_runtime_one(
        pyodbc, monkeypatch, state, text, kind, code):
    cls = pyodbc.InterfaceError if state == "28000" else pyodbc.OperationalError

    def refuse(*_, **__):
        raise cls(state, text)
    monkeypatch.setattr(pyodbc, "connect", refuse)
    with pytest.raises(kind) as caught:
        DB.connect()
    assert caught.value.exit_code == code
    line = str(caught.value)
    assert "\n" not in line and "target.dsn" in line and "s3cr" not in line and "[FreeTDS]" not in line


def test_a_target_table_with_a_rowversion_is_refused_naming_the_column(monkeypatch):
    """SQL Server writes a rowversion itself: no shadow is made for a table holding one."""
    live = Table("dbo", "orders", (Column("id", Kind.INT64, False, native="BIGINT"),
                                   Column("rv", Kind.BINARY, length=8, native="TIMESTAMP")), ("id",))
    monkeypatch.setattr(DB, "shape", lambda schema, name: live)
    with pytest.raises(SchemaMismatch, match="table dbo.orders column rv is a rowversion, which the server writes"):
        DB.shadow_columns(live)
