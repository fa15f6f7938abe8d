"""Every statement the Firebolt adapter sends to apply a file, and the DDL it generates,
against a golden file (``golden/firebolt/statements.sql``). Set ``TARGETSYNC_REGOLD=1`` to
rewrite it after a deliberate change, then read the diff.

Each statement must also parse as PostgreSQL (Firebolt's SQL is PostgreSQL's; the
stand-in runs them so), except ``COPY INTO … WITH``, Firebolt's own, whose options are
checked here one by one."""
from __future__ import annotations

import os
from pathlib import Path

import sqlglot

from targetsync_core.adapters.firebolt import FireboltDatabase
from targetsync_core.adapters.firebolt import statements as fs
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

GOLDEN = Path(__file__).parent / "golden" / "firebolt" / "statements.sql"
#: a composite key, names that need quoting, a quote inside a name
ORDERS = fs.Shadowed(("sales", "order lines"), ("sales", "_targetsync_order lines_wkm0"), ("order_id", "line"),
                     ("order_id", "line", "qty", 'say "hi"', "Note"))
CREDS = "(AWS_KEY_ID = 'AKIAEXAMPLE' AWS_SECRET_KEY = 'secret-example')"
TABLE = Table("sales", "order lines", (
    Column("order_id", Kind.INT64, False), Column("line", Kind.INT16, False), Column("qty", Kind.DECIMAL, True,
                                                                                     precision=12, scale=3),
    Column('say "hi"', Kind.VARCHAR, True, length=20), Column("Note", Kind.JSON, True),
    Column("at", Kind.TIMESTAMPTZ, True, precision=6), Column("id", Kind.UUID, True),
    Column("blob", Kind.BLOB, True), Column("f", Kind.FLOAT32, True), Column("ok", Kind.BOOLEAN, True)),
    ("order_id", "line"))


def parts() -> list[tuple[str, str]]:
    return [
        ("create shadow", fs.create_shadow_sql(ORDERS, '"order_id" bigint NULL, "qty" numeric(12, 3) NULL')),
        ("empty shadow", fs.empty_shadow_sql(ORDERS)),
        ("copy from s3", fs.copy_sql(ORDERS, "s3://bucket/p/targetsync/run/000001/sales.order_lines-1a2b/00001.csv",
                                     CREDS)),
        ("delete (D and I keys)", fs.delete_sql(ORDERS)),
        ("insert (I rows)", fs.insert_sql(ORDERS)),
        ("U rows that find their row", fs.found_sql(ORDERS)),
        ("update group 0 (qty)", fs.update_sql(ORDERS, 0, ("qty",))),
        ("update group 1 (two columns)", fs.update_sql(ORDERS, 1, ('say "hi"', "Note"))),
        ("drop shadow", fs.drop_shadow_sql(ORDERS)),
    ]


def rendered() -> str:
    ddl = FireboltDatabase.generate_ddl([TABLE])
    return "".join(f"-- {name}\n{sql}\n" for name, sql in parts()) + "".join(
        f"-- {name}\n{ddl[name]}" for name in ("c.sql", "i.sql", "f.sql", "d.sql"))


def test_statements_match_their_golden_file():
    text = rendered()
    if os.environ.get("TARGETSYNC_REGOLD"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "the rendered statements changed (TARGETSYNC_REGOLD=1 rewrites)"


def test_statements_but_copy_parse_as_postgresql():
    ddl = FireboltDatabase.generate_ddl([TABLE])
    for _, sql in parts():
        if not sql.startswith("COPY"):
            sqlglot.parse_one(sql, read="postgres")
    sqlglot.parse_one(ddl["d.sql"].rstrip(";\n"), read="postgres")
    create, _, index = ddl["c.sql"].rstrip(";\n").rpartition(") PRIMARY INDEX ")
    sqlglot.parse_one(f"{create}, PRIMARY KEY ({index}))", read="postgres")   # as the stand-in runs it


def test_copy_loads_by_position_keeps_empty_strings_and_tolerates_no_error():
    copy = fs.copy_sql(ORDERS, "s3://b/k.csv", CREDS)
    assert '"__op" $1, "__grp" $2, "order_id" $3' in copy and '"Note" $7' in copy
    for option in ("TYPE = CSV", "HEADER = FALSE", "NULL_STRING = '\\N'", "EMPTY_FIELD_AS_NULL = FALSE",
                   "MAX_ERRORS_PER_FILE = 0", "AUTO_CREATE = FALSE", f"CREDENTIALS = {CREDS}"):
        assert option in copy, option
    assert "CREDENTIALS" not in fs.copy_sql(ORDERS, "s3://b/k.csv", "")


def test_update_sets_only_its_columns_of_its_group():
    sql = fs.update_sql(ORDERS, 3, ("qty",))
    assert '"qty" = ts_w."qty"' in sql and '"Note"' not in sql and 'ts_w."__grp" = 3' in sql


def test_csv_fields_quote_every_value_and_leave_null_bare():
    import datetime as dt
    import uuid
    from decimal import Decimal

    from targetsync_core.adapters.firebolt.types import csv_field
    assert csv_field(Kind.TEXT, None) == "\\N"
    assert csv_field(Kind.TEXT, "") == '""'
    assert csv_field(Kind.TEXT, "\\N") == '"\\N"'
    assert csv_field(Kind.TEXT, 'a "b",\nc') == '"a ""b"",\nc"'
    assert csv_field(Kind.BLOB, b"\x00\xff") == '"\\x00ff"'
    assert csv_field(Kind.DECIMAL, Decimal("1E+3")) == '"1000"'
    assert csv_field(Kind.TIME, dt.time(1, 2, 3)) == '"01:02:03.000000"'
    assert csv_field(Kind.TIMESTAMP, dt.datetime(51, 6, 5, 1, 2, 3)) == '"0051-06-05 01:02:03.000000"'
    assert csv_field(Kind.TIMESTAMPTZ, dt.datetime(2020, 1, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == \
        '"2020-01-01 00:00:00.000000+00:00"'
    u = uuid.UUID(int=255)
    assert csv_field(Kind.UUID, u) == f'"{u}"' and csv_field(Kind.BOOLEAN, False) == '"false"'
