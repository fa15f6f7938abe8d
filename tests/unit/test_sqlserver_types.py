"""SQL Server's two type dicts, without a server: SQLAlchemy's reflected mssql types →
canonical kinds, and canonical kinds → the DDL the adapter generates, which must parse as
T-SQL and reflect back to the kind it was made from (within the canonical set's limits)."""
from __future__ import annotations

import pytest
import sqlglot
from sqlalchemy.dialects import mssql as ms
import sqlalchemy as sa

from targetsync_core.adapters.sql import sqla
from targetsync_core.adapters.sqlserver import SqlServerDatabase
from targetsync_core.adapters.sqlserver.types import REFLECTED, declared
from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

#: a reflected type → (kind, the parameters that matter)
CASES = [
    (ms.BIT(), Kind.BOOLEAN, {}), (ms.TINYINT(), Kind.INT16, {}), (sa.SMALLINT(), Kind.INT16, {}),
    (sa.INTEGER(), Kind.INT32, {}), (sa.BIGINT(), Kind.INT64, {}),
    (sa.NUMERIC(12, 3), Kind.DECIMAL, {"precision": 12, "scale": 3}),
    (ms.MONEY(), Kind.DECIMAL, {"precision": 19, "scale": 4}),
    (ms.SMALLMONEY(), Kind.DECIMAL, {"precision": 10, "scale": 4}),
    (ms.REAL(), Kind.FLOAT32, {}), (sa.FLOAT(53), Kind.FLOAT64, {}), (sa.FLOAT(), Kind.FLOAT64, {}),
    (sa.FLOAT(24), Kind.FLOAT32, {}), (ms.DOUBLE_PRECISION(), Kind.FLOAT64, {}),
    (sa.NCHAR(5), Kind.CHAR, {"length": 5}), (sa.NVARCHAR(30), Kind.VARCHAR, {"length": 30}),
    (sa.VARCHAR(30), Kind.VARCHAR, {"length": 30}), (sa.NVARCHAR(None), Kind.TEXT, {}),
    (sa.VARCHAR(None), Kind.TEXT, {}), (ms.NTEXT(), Kind.TEXT, {}), (sa.TEXT(), Kind.TEXT, {}),
    (ms.XML(), Kind.TEXT, {}),
    (sa.BINARY(16), Kind.BINARY, {"length": 16}), (ms.VARBINARY(100), Kind.VARBINARY, {"length": 100}),
    (ms.VARBINARY(None), Kind.BLOB, {}), (ms.VARBINARY("max"), Kind.BLOB, {}), (ms.IMAGE(), Kind.BLOB, {}),
    (sa.DATE(), Kind.DATE, {}), (ms.TIME(3), Kind.TIME, {"precision": 3}),
    (sa.DATETIME(), Kind.TIMESTAMP, {"precision": 3}), (ms.SMALLDATETIME(), Kind.TIMESTAMP, {"precision": 0}),
    (ms.DATETIME2(2), Kind.TIMESTAMP, {"precision": 2}),
    # reflection leaves datetime2's precision unset: (7) by default, read at microseconds
    (ms.DATETIME2(), Kind.TIMESTAMP, {"precision": 6}), (ms.DATETIME2(7), Kind.TIMESTAMP, {"precision": 6}),
    (ms.DATETIMEOFFSET(3), Kind.TIMESTAMPTZ, {"precision": 3}), (ms.DATETIMEOFFSET(), Kind.TIMESTAMPTZ, {"precision": 6}),
    (ms.UNIQUEIDENTIFIER(), Kind.UUID, {}),
    (ms.TIMESTAMP(), Kind.BINARY, {"length": 8}), (ms.ROWVERSION(), Kind.BINARY, {"length": 8}),
]


@pytest.mark.parametrize("reflected,kind,params", CASES, ids=[type(c[0]).__name__ + str(i) for i, c in enumerate(CASES)])
def test_reflected_types_map_to_their_canonical_kind(reflected, kind, params):
    col = sqla.column_from_sqla({"name": "c", "type": reflected, "nullable": True}, (), ms.dialect(), "table s.t",
                                REFLECTED)
    assert col.kind is kind
    for name, value in params.items():
        assert getattr(col, name) == value, (name, getattr(col, name))


def test_sql_variant_is_refused_naming_the_column():
    with pytest.raises(SchemaMismatch, match="column c .*sql_variant"):
        sqla.column_from_sqla({"name": "c", "type": ms.SQL_VARIANT(), "nullable": True}, (), ms.dialect(),
                              "table s.t", REFLECTED)


ALL_KINDS = [Column("id", Kind.INT64, False), Column("k", Kind.VARCHAR, False, length=40),
             *(Column(f"c_{k.value}", k, length=10 if k in (Kind.CHAR, Kind.VARCHAR, Kind.BINARY, Kind.VARBINARY)
                      else None, precision=12 if k is Kind.DECIMAL else 3 if k in (Kind.TIME, Kind.TIMESTAMP,
                                                                                    Kind.TIMESTAMPTZ) else None,
                      scale=2 if k is Kind.DECIMAL else None) for k in Kind)]


def test_generated_ddl_parses_as_tsql_and_declares_keys_under_a_binary_collation():
    table = Table("dbo", "every kind", tuple(ALL_KINDS), ("id", "k"))
    ddl = SqlServerDatabase.generate_ddl([table])
    for name in ("c.sql", "i.sql", "d.sql"):
        body = "\n".join(ln for ln in ddl[name].splitlines() if not ln.startswith("--"))
        for statement in filter(None, (s.strip() for s in body.split(";\n"))):
            sqlglot.parse_one(statement.rstrip(";"), read="tsql")
    assert "\tk NVARCHAR(40) COLLATE Latin1_General_100_BIN2 NOT NULL" in ddl["c.sql"]
    assert "DATETIMEOFFSET(3)" in ddl["c.sql"] and "UNIQUEIDENTIFIER" in ddl["c.sql"]


@pytest.mark.parametrize("col", ALL_KINDS, ids=[c.name for c in ALL_KINDS])
def test_declared_types_reflect_back_to_their_family(col):
    """What the DDL declares, reflected again, is the kind it was made from or the one
    SQL Server stores it as (unsigned integers widen; JSON is text)."""
    made = declared(col, col.name in ("id", "k"))
    back = sqla.column_from_sqla({"name": col.name, "type": made, "nullable": True}, (), ms.dialect(), "t", REFLECTED)
    stored = {Kind.UINT16: Kind.INT32, Kind.UINT32: Kind.INT64, Kind.UINT64: Kind.DECIMAL, Kind.JSON: Kind.TEXT}
    assert back.kind is stored.get(col.kind, col.kind)
