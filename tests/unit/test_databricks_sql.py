"""Every statement the Databricks adapter sends, against golden files
(``golden/databricks/``), each parsed in sqlglot's ``databricks`` dialect: window reads and
bounds for each kind of key and the catalog queries; the DDL of a table of every
canonical kind; and the whole conversation of one applier (bookkeeping tables, lease,
staging table, ``COPY INTO``, DELETE, MERGEs, the record, the release), recorded from a
connection that answers as an empty workspace would. Reviewed against Databricks' SQL
reference: backticks quote any name; ``COPY INTO … FROM (SELECT …)`` takes a select over
the staged files with ``FILES``, ``FORMAT_OPTIONS`` and ``COPY_OPTIONS ('force' =
'true')``; MERGE's source may be a subquery; ``?`` is a native positional parameter;
keyset bounds are spelled out. ``TARGETSYNC_REGOLD=1`` rewrites the files."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import sqlglot

from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.adapters.databricks import DatabricksDatabase
from targetsync_core.adapters.databricks.adapter import COLUMNS_SQL, PRIMARY_KEY_SQL, SESSION
from targetsync_core.adapters.sql.kit import script_statements
from targetsync_core.adapters.staging.s3 import S3Stage
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import parse_dsn
from targetsync_core.errors import SchemaMismatch
from tests.unit.test_kit_sql import BOUND, EVERY_KIND, KEYS

GOLDEN = Path(__file__).parent / "golden" / "databricks"
URL = "databricks://token:t@h.cloud.databricks.com/sql/1.0/warehouses/x?catalog=main&awsBucket=bkt/stage"


class Recorded:
    """A connection that records what it is sent and answers as an empty workspace with
    the composite-key table of ``test_kit_sql`` (the lease row free, no record)."""

    def __init__(self, sent: list):
        self.sent, self.version = sent, 0

    def cursor(self):
        return _Cursor(self)

    def close(self):
        pass


class _Cursor:
    description = None
    rowcount = 1
    #: the live table's columns, as information_schema.columns answers
    columns = [("order", "int", "NO"), ("sku", "string", "NO"), ("day", "date", "NO"), ("qty", "decimal(9,2)", "YES")]

    def __init__(self, conn):
        self.conn, self.text = conn, ""

    def execute(self, text, params=None):
        self.conn.sent.append(text)
        self.text = text
        if text.startswith("UPDATE `_targetsync`.`lease` SET holder = ?"):
            self.conn.version += 1

    def fetchone(self):
        return ("", "", 0, 0.0, self.conn.version) if self.text.startswith("SELECT holder") else None

    def fetchall(self):
        if self.text == COLUMNS_SQL:
            return self.columns
        if self.text == PRIMARY_KEY_SQL:
            return [("order",), ("sku",), ("day",)]
        return []

    def close(self):
        pass


class _Stage(S3Stage):
    def put(self, key, data):
        return self.uri(key)

    def delete(self, prefix):
        return 0


class RecordedDatabricks(DatabricksDatabase):
    sent: list = []

    def connect(self, autocommit: bool = True):
        conn = Recorded(RecordedDatabricks.sent)
        for statement in SESSION:   # what the adapter's connect runs on a new session
            conn.cursor().execute(statement)
        return conn

    def stage(self):
        return _Stage(self.stage_settings())


DB = RecordedDatabricks.from_dsn("databricks", parse_dsn(URL))


def reads() -> str:
    out = []
    for name, t in KEYS.items():
        lo = BOUND[name] if None not in BOUND[name] else (3, "AB", dt.date(2024, 1, 31))
        sql, params = DB.window_sql(t, Window(0, 1, lo, None))
        out += [f"-- {name}: bounds", DB.bounds_query(t), f"-- {name}: a middle window, from {params!r}", sql]
    out += ["-- a table's columns", COLUMNS_SQL, "-- its primary key", PRIMARY_KEY_SQL]
    return "\n".join(out) + "\n"


def ddl() -> str:
    made = DatabricksDatabase.generate_ddl([EVERY_KIND])
    return "".join(made[n] for n in ("c.sql", "i.sql", "f.sql", "d.sql"))


def applies() -> str:
    RecordedDatabricks.sent.clear()
    t = KEYS["composite key"]
    me = LeaseHolder("me", "host", 1)
    applier = DB.open_applier()
    applier.acquire_lease(me, 60)
    batch = TableBatch(t, upserts=[(1, "AB", dt.date(2024, 1, 1), None)], deletes=[(2, "CD", dt.date(2024, 1, 2))],
                       updates={(3,): [((3, "EF", dt.date(2024, 1, 3)), (None,))]})
    applier.apply_file("run", 0, [batch], me, 60)
    applier.release_lease(me)
    applier.close()
    return "\n".join(RecordedDatabricks.sent) + "\n"


@pytest.mark.parametrize("name,render", [("reads", reads), ("ddl", ddl), ("apply", applies)])
def test_statements_match_their_golden_files_and_parse_as_databricks_sql(name, render):
    text = render()
    path = GOLDEN / f"{name}.sql"
    if os.environ.get("TARGETSYNC_REGOLD"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"databricks {name}: the SQL changed (TARGETSYNC_REGOLD=1 rewrites)"
    lines = script_statements(text) if name == "ddl" else [ln for ln in text.splitlines()
                                                           if ln and not ln.startswith("--")]
    for statement in lines:
        tree = sqlglot.parse_one(statement.rstrip(";"), read="databricks")
        assert not isinstance(tree, sqlglot.exp.Command) or statement.startswith("SET TIME ZONE"), statement


def test_the_apply_sends_no_row_at_a_time_statement_and_forces_copy_into():
    sent = applies().splitlines()
    assert not [s for s in sent if s.startswith("INSERT")]   # rows arrive by COPY INTO only
    copies = [s for s in sent if s.startswith("COPY INTO")]
    assert len(copies) == 1 and "COPY_OPTIONS ('force' = 'true')" in copies[0]
    assert "FROM 's3://bkt/stage/targetsync/run/000000/sales.order_lines-" in copies[0]
    record = [i for i, s in enumerate(sent) if s.startswith("MERGE INTO `_targetsync`.`applied`")]
    assert len(record) == 1 and not [s for s in sent[record[0]:] if s.startswith(("COPY", "DELETE", "MERGE INTO `sales`"))]
    assert sent[-1].startswith("TRUNCATE TABLE `_targetsync`")   # the staging table emptied at close


def test_a_key_of_a_collation_other_than_utf8_binary_is_refused(monkeypatch):
    """A UTF8_LCASE (or UNICODE…) key would be read in another order than the diff's: the
    table is refused in one line; a collated column outside the key is read as text."""
    lcase = [("order", "int", "NO"), ("sku", "string collate UTF8_LCASE", "NO"), ("day", "date", "NO"),
             ("qty", "decimal(9,2)", "YES")]
    monkeypatch.setattr(_Cursor, "columns", lcase)
    with pytest.raises(SchemaMismatch, match="key column sku is string collate UTF8_LCASE: targetsync reads keys in "
                                             "binary"):
        DB.shape("sales", "order lines")
    monkeypatch.setattr(_Cursor, "columns", [*lcase[:1], ("sku", "string COLLATE utf8_binary", "NO"), *lcase[2:3],
                                             ("qty", "string collate UNICODE_CI", "YES")])
    live = DB.shape("sales", "order lines")
    assert [c.kind.value for c in live.columns] == ["int32", "text", "date", "text"]
