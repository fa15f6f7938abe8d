"""Oracle's two type dicts without a server (SQLAlchemy's reflected oracle types →
canonical kinds; canonical kinds → the DDL the adapter declares, reflected back), the
empty-string rule of the comparison, and the driver's refusals sorted at the boundary."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle as ora

from targetsync_core.adapters.oracle import OracleDatabase
from targetsync_core.adapters.oracle.types import REFLECTED, STORED_AS, declared
from targetsync_core.adapters.sql import sqla
from targetsync_core.diff.compare import column_equal
from targetsync_core.dsn import parse_dsn
from targetsync_core.errors import ConfigError, ConnectError
from targetsync_core.model.schema import Column
from targetsync_core.model.types import Kind

CASES = [
    (ora.NUMBER(1, 0), Kind.INT16, {}), (ora.NUMBER(4, 0), Kind.INT16, {}), (ora.NUMBER(5, 0), Kind.INT32, {}),
    (ora.NUMBER(9, 0), Kind.INT32, {}), (ora.NUMBER(10, 0), Kind.INT64, {}), (ora.NUMBER(19, 0), Kind.INT64, {}),
    (ora.NUMBER(20, 0), Kind.DECIMAL, {"precision": 20, "scale": 0}),
    (ora.NUMBER(12, 3), Kind.DECIMAL, {"precision": 12, "scale": 3}),
    (ora.NUMBER(), Kind.DECIMAL, {"precision": None}),
    (ora.BINARY_DOUBLE(), Kind.FLOAT64, {}), (ora.BINARY_FLOAT(), Kind.FLOAT32, {}), (ora.FLOAT(), Kind.FLOAT64, {}),
    (ora.VARCHAR2(30), Kind.VARCHAR, {"length": 30}), (ora.NVARCHAR2(30), Kind.VARCHAR, {"length": 30}),
    (sa.CHAR(4), Kind.CHAR, {"length": 4}), (ora.CLOB(), Kind.TEXT, {}), (ora.NCLOB(), Kind.TEXT, {}),
    (ora.BLOB(), Kind.BLOB, {}), (ora.RAW(16), Kind.VARBINARY, {"length": 16}),
    (ora.DATE(), Kind.TIMESTAMP, {"precision": 0}),                  # DATE holds seconds
    (ora.TIMESTAMP(), Kind.TIMESTAMP, {"precision": 6}),
    (ora.TIMESTAMP(timezone=True), Kind.TIMESTAMPTZ, {"precision": 6}),
    (ora.INTERVAL(), Kind.TIME, {"precision": 6}),
]


@pytest.mark.parametrize("reflected,kind,params", CASES, ids=[f"{type(c[0]).__name__}{i}" for i, c in enumerate(CASES)])
def test_reflected_types_map_to_their_canonical_kind(reflected, kind, params):
    col = sqla.column_from_sqla({"name": "c", "type": reflected, "nullable": True}, (), ora.dialect(), "t", REFLECTED)
    assert col.kind is kind
    for name, value in params.items():
        assert getattr(col, name) == value


@pytest.mark.parametrize("kind", list(Kind), ids=[k.value for k in Kind])
def test_declared_types_reflect_back_as_the_kind_or_what_oracle_stores_it_as(kind):
    col = Column("c", kind, length=12 if kind in (Kind.CHAR, Kind.VARCHAR, Kind.BINARY, Kind.VARBINARY) else None,
                 precision=10 if kind is Kind.DECIMAL else None, scale=2 if kind is Kind.DECIMAL else None)
    back = sqla.column_from_sqla({"name": "c", "type": declared(col, False), "nullable": True}, (), ora.dialect(),
                                 "t", REFLECTED)
    widened = {Kind.INT16: Kind.INT32, Kind.INT32: Kind.INT64}   # NUMBER(5) / NUMBER(10) hold more
    assert back.kind in (kind, STORED_AS.get(kind), widened.get(kind))


def test_an_empty_string_equals_only_the_null_oracle_made_of_it():
    for kind in (Kind.VARCHAR, Kind.CHAR, Kind.TEXT, Kind.BLOB):
        eq = column_equal(Column("c", kind, length=3), Column("c", kind, length=3), empty_is_null=True)
        empty = b"" if kind is Kind.BLOB else ""
        assert eq(empty, None)
        assert not eq(empty, b"   " if kind is Kind.BLOB else "   ")
        assert not column_equal(Column("c", kind), Column("c", kind))(empty, None)


DB = OracleDatabase.from_dsn("oracle", parse_dsn("oracle+oracledb://app:s3cret@db.example:1521/FREEPDB1",
                                                 source="target.dsn"))


@pytest.mark.parametrize("text,kind,code", [
    ("ORA-01017: invalid credential or not authorized; logon denied", ConfigError, 2),
    ("DPY-6005: cannot connect to database (CONNECTION_ID=x).", ConnectError, 3),
])
def test_a_refused_login_is_a_configuration_error_and_an_unreachable_server_a_runtime_one(
        monkeypatch, text, kind, code):
    import oracledb

    def refuse(**_):
        raise oracledb.DatabaseError(text)
    monkeypatch.setattr(oracledb, "connect", refuse)
    with pytest.raises(kind) as caught:
        DB.connect()
    assert caught.value.exit_code == code
    assert "target.dsn" in str(caught.value) and "s3cret" not in str(caught.value)


def test_a_dsn_of_another_database_is_refused_naming_the_file():
    with pytest.raises(ConfigError, match="x.dsn: oracle needs a DSN of the form oracle://"):
        OracleDatabase.from_dsn("oracle", parse_dsn("mssql://u@h/db", source="x.dsn"))
