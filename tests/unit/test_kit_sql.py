"""Every statement a kit adapter renders, against golden files (``golden/<adapter>/``):
window reads and bounds for each kind of key, the DDL of a table of every canonical kind,
the apply statements, each parsed in the adapter's dialect. Reviewed against the vendors'
references: T-SQL's MERGE needs its semicolon and a ``#`` name is the session's temporary
table; Oracle's MERGE needs ``ON (…)``, names its bind variables ``:p1``…, and has no
row-value comparison (neither has T-SQL). ``TARGETSYNC_REGOLD=1`` rewrites the files
after a deliberate change."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlglot

from targetsync_core.adapters.sql import statements
from targetsync_core.adapters.sql.kit import script_statements
from targetsync_core.adapters.oracle import OracleDatabase
from targetsync_core.adapters.sql.kit import numbered
from targetsync_core.adapters.sqlserver import SqlServerDatabase
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import parse_dsn
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

GOLDEN = Path(__file__).parent / "golden"
DB = SqlServerDatabase.from_dsn("sqlserver", parse_dsn("mssql://u@h/db"))
ADAPTERS = {"sqlserver": DB, "oracle": OracleDatabase.from_dsn("oracle", parse_dsn("oracle://u@h/FREEPDB1"))}
C = Column
KEYS = {
    "integer key": Table("dbo", "orders", (C("id", Kind.INT64, False), C("v", Kind.TEXT)), ("id",)),
    "uniqueidentifier key": Table("dbo", "devices", (C("id", Kind.UUID, False), C("v", Kind.INT32)), ("id",)),
    "string key": Table("dbo", "codes", (C("k", Kind.VARCHAR, False, length=20), C("v", Kind.INT32)), ("k",)),
    "composite key": Table("sales", "order lines", (C("order", Kind.INT32, False), C("sku", Kind.CHAR, False, length=8),
                                                    C("day", Kind.DATE, False), C("qty", Kind.DECIMAL, precision=9,
                                                                                   scale=2)), ("order", "sku", "day")),
}
BOUND = {"integer key": (10,), "uniqueidentifier key": (uuid.UUID(int=2**127),), "string key": ("m",),
         "composite key": (3, "AB", None)}
EVERY_KIND = Table("dbo", "every kind", (C("id", Kind.INT64, False), *(
    C(f"c_{k.value}", k, length=12 if k in (Kind.CHAR, Kind.VARCHAR, Kind.BINARY, Kind.VARBINARY) else None,
      precision=10 if k is Kind.DECIMAL else 3 if k in (Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ) else None,
      scale=4 if k is Kind.DECIMAL else None) for k in Kind)), ("id",))


def reads(db) -> str:
    out = []
    for name, t in KEYS.items():
        lo = BOUND[name]
        if None in lo:
            import datetime as dt
            lo = (3, "AB", dt.date(2024, 1, 31))
        sql, params = db.window_sql(t, Window(0, 1, lo, None))
        out += [f"-- {name}: bounds", db.bounds_query(t), f"-- {name}: a middle window, from {params!r}", sql]
    return "\n".join(out) + "\n"


def ddl(db) -> str:
    made = type(db).generate_ddl([EVERY_KIND])
    return "".join(made[n] for n in ("c.sql", "i.sql", "f.sql", "d.sql"))


def applies(db) -> str:
    t = KEYS["composite key"]
    n = db.stored_name
    schema = db.shadow_schema(t)
    s = statements.Shadowed((n(t.schema), n(t.name)), n(db.shadow_name(t, 0)), tuple(map(n, t.primary_key)),
                            tuple(n(c.name) for c in t.columns), n(schema) if schema else None)
    return "\n".join([f"INSERT INTO {db.shadow_ref(s)} ({db.quote('qty')}) VALUES (?)",
                      statements.delete_sql(s, db.dialect), statements.upsert_sql(s, db.dialect),
                      statements.update_sql(s, db.dialect, 0, (n("qty"),))]) + "\n"


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize("name,render", [("reads", reads), ("ddl", ddl), ("apply", applies)])
def test_statements_match_their_golden_files_and_parse_in_their_dialect(adapter, name, render):
    db = ADAPTERS[adapter]
    text = render(db)
    path = GOLDEN / adapter / f"{name}.sql"
    if os.environ.get("TARGETSYNC_REGOLD"):
        path.write_text(text)
    assert text == path.read_text(), f"{adapter} {name}: the SQL changed (TARGETSYNC_REGOLD=1 rewrites)"
    one_a_line = [ln for ln in text.splitlines() if ln and not ln.startswith("--")]
    for statement in script_statements(text) if name == "ddl" else one_a_line:
        sent = numbered(statement) if db.dialect == "oracle" else statement   # what Oracle's connection sends
        sqlglot.parse_one(sent.rstrip(";"), read=db.dialect)


def test_uniqueidentifier_keys_are_ordered_by_text_because_sql_servers_own_order_is_not_the_diffs():
    """SQL Server compares uniqueidentifiers by byte groups, the last six bytes first
    (SqlGuid order); the diff walks keys in canonical order (their text). The adapter
    therefore orders by ``CONVERT(char(36), k)``, upper-case hex, whose binary order is
    the canonical one."""
    ids = [uuid.UUID(int=(i * 0x9E3779B97F4A7C15 << 40) % 2**128) for i in range(1, 200)]

    def sql_server_order(u: uuid.UUID) -> tuple:
        b = u.bytes
        return (b[10:16], b[8:10], b[6:8], b[4:6], b[0:4])
    canonical = sorted(ids)
    assert sorted(ids, key=lambda u: str(u).upper().encode()) == canonical
    assert sorted(ids, key=sql_server_order) != canonical
    assert "CONVERT(char(36), [id]) COLLATE Latin1_General_100_BIN2" in DB.order_by(KEYS["uniqueidentifier key"])
    assert DB.key_param(KEYS["uniqueidentifier key"].columns[0], ids[0]) == str(ids[0]).upper()


def test_string_keys_are_ordered_by_utf8_bytes_which_is_code_point_order():
    keys = ["\ue000", "😀", "a", "ﬀ", "Z", "é"]
    assert sorted(keys, key=lambda k: k.encode("utf-8")) == sorted(keys)
    assert sorted(keys, key=lambda k: k.encode("utf-16-be")) != sorted(keys)   # what BIN2 on nvarchar does
    assert "COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max)" in DB.order_by(KEYS["string key"])


def test_oracle_binds_are_numbered_in_order_outside_quoted_text():
    assert numbered("SELECT '?' AS \"a?\" FROM t WHERE a = ? AND b IN (?, ?)") == \
        "SELECT '?' AS \"a?\" FROM t WHERE a = :p1 AND b IN (:p2, :p3)"


def test_oracle_names_follow_sqlalchemys_rule_both_ways():
    ora = ADAPTERS["oracle"]
    assert [ora.quote(n) for n in ("id", "Id", "order", "__op", "every kind")] == \
        ['"ID"', '"Id"', '"order"', '"__op"', '"every kind"']
