"""Rows read through MySQL Connector/Python's C extension equal PyMySQL's, value for value.

The C extension (``adapters/mysql/native.py``) is how MySQL-family rows are read when it
loads; PyMySQL is the fallback. Both must give the same canonical rows (same Python types,
same text of every value) and the same refusals: a zero date, which the extension would
quietly read as NULL, a SET, which it would give as an unordered Python set, and a string
key with quotes, which it must write into the SQL itself."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from targetsync_core.adapters.sql.canonical import LINES
from targetsync_core.adapters.mysql import native
from targetsync_core.diff.merge import split_lines
from targetsync_core.diff.windows import Window
from targetsync_core.errors import ConnectError, DataError
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS
from tests.conformance.test_lost_connections import kill

EVERY = """CREATE TABLE `{s}`.`every` (
  id BIGINT NOT NULL PRIMARY KEY, flag TINYINT(1), colour ENUM('red','green','blue'), tags SET('c','b','a'),
  big BIGINT UNSIGNED, small SMALLINT, at TIMESTAMP(6) NULL, local DATETIME(3), whole DATETIME, day DATE,
  tod TIME(6), code CHAR(5), name VARCHAR(40), body TEXT, doc JSON, price DECIMAL(30,10), ratio FLOAT,
  dbl DOUBLE, bin VARBINARY(8), blob_ BLOB, fixed BINARY(4), uid CHAR(36)) CHARACTER SET utf8mb4;
INSERT INTO `{s}`.`every` VALUES
  (1, 1, 'red', 'a,c', 18446744073709551615, -32768, '2024-02-29 12:34:56.123456', '1999-12-31 23:59:59.999',
   '2038-01-19 03:14:07', '2024-02-29', '23:59:59.999999', 'ab', 'it''s', 'h\u00e9llo\\n\\ttab\\\\', '{{"x": [1, 2]}}',
   12345678901234567890.0123456789, 0.1, 0.30000000000000004, X'00ff27', X'', X'01020304',
   '123e4567-e89b-12d3-a456-426614174000'),
  (2, 0, NULL, '', 0, 0, NULL, NULL, NULL, NULL, '00:00:00', '', '', '', '[]', 0, -3.25, -0.0, NULL, NULL,
   NULL, NULL),
  (3, NULL, 'blue', 'c,b,a', NULL, NULL, '1970-01-01 00:00:01', '1000-01-01 00:00:00.5', '9999-12-31 23:59:59',
   '1000-01-01', NULL, 'xyz  ', NULL, NULL, NULL, -0.0000000001, NULL, 1e308, X'27', X'5c00', NULL, NULL);"""


@pytest.fixture
def maria(tmp_path):
    with BACKENDS["mariadb"](tmp_path, "src") as backend:
        yield backend


@pytest.fixture
def drivers(monkeypatch):
    """Run a read once through the C extension and once through PyMySQL."""
    loaded = native.load()
    assert loaded is not None, "the test environment installs mysql-connector-python (pyproject: test)"

    def run(read):
        out = {}
        for name, module in (("native", loaded), ("pymysql", None)):
            monkeypatch.setattr(native, "_MODULE", [module])
            out[name] = read()
        return out["native"], out["pymysql"]
    return run


def typed(rows):
    return [tuple((type(v).__name__, repr(v)) for v in r) for r in rows]


def test_every_kind_reads_the_same_through_both_drivers(maria, drivers):
    maria.execute(EVERY.format(s=maria.schema))
    db = maria.db
    table = db.reflect(maria.schema, "every")
    whole = Window(0, 0, None, None)
    c_rows, py_rows = drivers(lambda: list(db.read_window(table, whole)))
    assert typed(c_rows) == typed(py_rows)
    assert len(c_rows) == 3
    assert [r[3] for r in c_rows] == ["c,a", "", "c,b,a"]     # SET order as the column defines it
    assert c_rows[1][6] is None and c_rows[2][9].year == 1000
    c_keys, py_keys = drivers(lambda: (list(db.read_keys(table)), db.window_bounds(table, 2)))
    assert c_keys == py_keys == ([(1,), (2,), (3,)], [(3,)])
    db.close()


BLOCKY = """CREATE TABLE `{s}`.`blocky` (
  id BIGINT NOT NULL PRIMARY KEY, flag TINYINT(1), n INT, big BIGINT UNSIGNED, price DECIMAL(12,2), dbl DOUBLE,
  name VARCHAR(20), body TEXT, day DATE, at DATETIME(6)) CHARACTER SET utf8mb4;
INSERT INTO `{s}`.`blocky` VALUES
  (1, 1, -5, 18446744073709551615, 12.50, 0.1, 'it''s', 'x', '2024-02-29', '2024-02-29 12:34:56.5'),
  (2, 0, NULL, 0, -0.01, -0.0, '', '', '1000-01-01', '1000-01-01 00:00:00'),
  (3, NULL, 7, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 1, 0, 1, 0, 1e308, 'z', 'y', '9999-12-31', '9999-12-31 23:59:59.999999');"""


def test_block_sums_and_rows_read_the_same_through_both_drivers(maria, drivers):
    maria.execute(BLOCKY.format(s=maria.schema))
    db = maria.db
    table = db.reflect(maria.schema, "blocky")
    (fmt,) = db.block_formats(table)

    def blocks():
        with db.window_blocks(table, Window(0, 0, None, None), 2, fmt) as b:
            return b.sums(), b.read_rows([(0, 1), (3, 4)])
    (c_sums, c_rows), (py_sums, py_rows) = drivers(blocks)
    assert c_sums == py_sums and typed(c_rows) == typed(py_rows)
    assert [r[0] for r in c_rows] == [1, 3, 4]
    db.close()


def test_canonical_lines_read_the_same_through_both_drivers(maria, drivers):
    maria.execute(BLOCKY.format(s=maria.schema) + f"\nUPDATE `{maria.schema}`.`blocky` SET body = "
                  "CONCAT('a', CHAR(9), 'b,', CHAR(10), '1:c', CHAR(92), CHAR(13)) WHERE id = 3")
    db = maria.db
    table = db.reflect(maria.schema, "blocky")
    whole = Window(0, 0, None, None)

    def lines():
        text = db.read_window_text(table, whole, LINES)
        return text.lines, sorted(text.parse(split_lines(text.lines)))
    (c_lines, c_rows), (py_lines, py_rows) = drivers(lines)
    assert sorted(split_lines(c_lines)) == sorted(split_lines(py_lines)) and c_lines.count(b"\n") == 4 and b"a\\tb,\\n1:c\\\\\\r" in c_lines
    assert typed(c_rows) == typed(py_rows) == typed(db.read_window(table, whole))
    db.close()


def test_string_keys_with_quotes_and_binary_keys_bound_into_the_sql(maria, drivers):
    maria.execute(f"CREATE TABLE `{maria.schema}`.`sk` (k VARCHAR(20) NOT NULL, b VARBINARY(4) NOT NULL, v INT, "
                  f"PRIMARY KEY (k, b)) CHARACTER SET utf8mb4;\n"
                  f"INSERT INTO `{maria.schema}`.`sk` VALUES ('a', X'00', 1), ('it''s', X'27', 2), "
                  f"('it''s', X'5c', 3), ('z\\\\', X'ff', 4), ('\u00e9', X'', 5)")
    db = maria.db
    table = db.reflect(maria.schema, "sk")
    assert [c.kind for c in table.columns][:2] == [Kind.VARCHAR, Kind.VARBINARY]
    bounds = db.window_bounds(table, 2)
    windows = [Window(0, i, lo, hi) for i, (lo, hi) in enumerate(zip([None, *bounds], [*bounds, None]))]
    c_rows, py_rows = drivers(lambda: [list(db.read_window(table, w)) for w in windows])
    assert c_rows == py_rows
    assert [r[2] for w in c_rows for r in w] == [1, 2, 3, 4, 5]
    db.close()


@pytest.mark.parametrize("value, column", [("'0000-00-00'", "day"), ("'0000-00-00 00:00:00'", "whole"),
                                           ("'2024-00-10'", "day")])
def test_a_zero_date_is_refused_by_both_drivers_naming_table_and_column(maria, drivers, value, column):
    maria.execute(f"SET SESSION sql_mode = '';\n"
                  f"CREATE TABLE `{maria.schema}`.`z` (id INT NOT NULL PRIMARY KEY, day DATE, whole DATETIME);\n"
                  f"INSERT INTO `{maria.schema}`.`z` (id, {column}) VALUES (1, {value})")
    db = maria.db
    table = db.reflect(maria.schema, "z")

    def read():
        with pytest.raises(DataError, match=rf"{maria.schema}\.z column {column}") as err:
            list(db.read_window(table, Window(0, 0, None, None)))
        return str(err.value)
    c_msg, py_msg = drivers(read)
    assert c_msg == py_msg
    db.close()


def test_a_connection_killed_mid_read_is_a_lost_connection_through_the_c_extension(maria, drivers):
    maria.execute(f"CREATE TABLE `{maria.schema}`.`big` (id INT NOT NULL PRIMARY KEY, v TEXT);\n"
                  f"INSERT INTO `{maria.schema}`.`big` SELECT seq, REPEAT('x', 200) FROM seq_1_to_50000")
    db = maria.db
    table = db.reflect(maria.schema, "big")

    def read():
        rows = db.read_window(table, Window(0, 0, None, None))
        next(rows)
        with pytest.raises(ConnectError, match=r"lost the connection to mariadb .* reading .*\.big"):
            with db.borrow() as conn, conn.cursor() as cur:
                cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT%%big%%' "
                            "AND ID <> CONNECTION_ID()")
                (victim,) = cur.fetchone()
            kill(victim)
            for _ in rows:
                pass
        return True
    assert drivers(read) == (True, True)
    db.close()


LITERALS = ["it's", "a\\b", "", "\u00e9\u4e2d\U0001f600", "'; DROP TABLE x; --", "\x00nul", "%s %%", b"\x00\xff'\\",
            b"", 0, -2**63, 2**64 - 1, True, False, Decimal("-12345678901234567890.0123456789"), 0.1, -1e-300,
            dt.date(1000, 1, 1), dt.datetime(2024, 2, 29, 12, 34, 56, 123456), dt.time(23, 59, 59, 999999),
            uuid.UUID("123e4567-e89b-12d3-a456-426614174000"), None]


@pytest.mark.parametrize("value", LITERALS, ids=[repr(v)[:30] for v in LITERALS])
def test_a_parameter_bound_into_the_sql_reads_back_as_itself(maria, value):
    db = maria.db
    conn = db.connect_reader()
    assert isinstance(conn, native.NativeConnection)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT %s, 'x%%'", [value])
            (got, pct), = cur.fetchall()
    finally:
        conn.close()
    assert pct == "x%"
    if isinstance(value, bool):
        assert got == int(value)
    elif isinstance(value, (dt.date, dt.time, uuid.UUID)):
        assert got == (value.isoformat(" ") if isinstance(value, dt.datetime) else str(value))
    elif isinstance(value, float):
        assert float(got) == value
    else:
        assert got == value and type(got) is type(value)
    db.close()


@pytest.mark.parametrize("target", ["snowflake", "bigquery"])
def test_the_c_extension_still_loads_in_a_process_where_a_cloud_client_loaded_pyarrow(target):
    """Snowflake's connector and BigQuery's client load pyarrow, whose libraries leave too
    little of glibc's static TLS for the extension to load afterwards: their adapters
    load it first, so one process (a code location of several pairs) reads MySQL fast
    after serving either. In a fresh process: the target's client made, pyarrow loaded,
    then the extension must be usable."""
    import subprocess
    import sys
    make = {"snowflake": "from targetsync_core.adapters.snowflake import SnowflakeDatabase as D; "
                         "D.import_driver(D.__new__(D))",
            "bigquery": "from targetsync_core.adapters.bigquery import BigQueryDatabase as D; "
                        "from targetsync_core.dsn import parse_dsn; "
                        "D.from_dsn('bigquery', parse_dsn('bigquery://p/d?endpoint=http://127.0.0.1:9')).client()"}
    code = (f"{make[target]}; import pyarrow.parquet; from targetsync_core.adapters.mysql import native; "
            "print(native.load() is not None)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stdout + r.stderr
