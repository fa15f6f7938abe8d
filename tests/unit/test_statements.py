"""The apply statements of ``adapters.sql.statements``, rendered for every dialect a
relational target uses, against golden files (``golden/statements/<dialect>.sql``).

Each rendered statement must also parse back in its own dialect to the same text, so a
dialect's generator never writes what its own parser would read differently. Set
``TARGETSYNC_REGOLD=1`` to rewrite the golden files after a deliberate change, then read
the diff.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlglot

from targetsync_core.adapters.sql.statements import Shadowed, delete_sql, update_sql, upsert_sql

GOLDEN = Path(__file__).parent / "golden" / "statements"
DIALECTS = ["postgres", "tsql", "oracle", "snowflake", "bigquery", "databricks", "duckdb"]

#: a composite key, a name that needs quoting in every dialect, a quote inside a name
ORDERS = Shadowed(("sales", "order lines"), "#order lines_wkm0", ("order_id", "line"),
                  ("order_id", "line", "qty", 'say "hi"', "Note"))
#: a table of key columns only: the upsert only inserts
KEYS_ONLY = Shadowed(("sales", "tags"), "#tags_wkm1", ("tag",), ("tag",))


def rendered(dialect: str) -> str:
    parts = [
        ("delete", delete_sql(ORDERS, dialect)),
        ("upsert", upsert_sql(ORDERS, dialect)),
        ("update group 0 (qty)", update_sql(ORDERS, dialect, 0, ("qty",))),
        ("update group 1 (two columns)", update_sql(ORDERS, dialect, 1, ('say "hi"', "Note"))),
        ("upsert of a key-only table", upsert_sql(KEYS_ONLY, dialect)),
    ]
    return "".join(f"-- {name}\n{sql}\n" for name, sql in parts)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_statements_match_their_golden_file(dialect):
    path = GOLDEN / f"{dialect}.sql"
    text = rendered(dialect)
    if os.environ.get("TARGETSYNC_REGOLD"):
        path.write_text(text)
    assert text == path.read_text(), f"{dialect}: the rendered statements changed (TARGETSYNC_REGOLD=1 rewrites)"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_statements_parse_back_in_their_own_dialect(dialect):
    for line in rendered(dialect).splitlines():
        if line.startswith("--"):
            continue
        tree = sqlglot.parse_one(line, read=dialect)
        assert tree.sql(dialect=dialect) == line.rstrip(";")


def test_sql_server_merges_hold_their_key_range_and_end_with_a_semicolon():
    upsert = upsert_sql(ORDERS, "tsql")
    assert "WITH (HOLDLOCK)" in upsert and upsert.endswith(";")
    assert "HOLDLOCK" not in upsert_sql(ORDERS, "postgres")


def test_update_sets_only_its_columns_and_never_inserts():
    sql = update_sql(ORDERS, "postgres", 0, ("qty",))
    assert "INSERT" not in sql and '"qty" = ts_w."qty"' in sql and '"Note"' not in sql
    assert "\"__grp\" = 0" in sql


def test_key_only_upsert_only_inserts():
    assert "WHEN MATCHED" not in upsert_sql(KEYS_ONLY, "oracle")
