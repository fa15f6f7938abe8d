"""Cross-database normalisation: native types the suite's canonical DDL never creates
(MySQL tinyint(1), ENUM, SET, unsigned, TIMESTAMP, padded CHAR, JSON; a target column of
lower precision) sync without false differences."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from targetsync_core.model import skt
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS
from tests.conformance.test_conformance import write_cfg
from tests.helpers import cli

NATIVE = """CREATE TABLE `{s}`.`native` (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY, flag TINYINT(1), colour ENUM('red','green','blue'),
  tags SET('a','b','c'), big BIGINT UNSIGNED, at TIMESTAMP(6) NULL, local DATETIME(3), code CHAR(5),
  doc JSON, price DECIMAL(12,4), ratio FLOAT) CHARACTER SET utf8mb4;
INSERT INTO `{s}`.`native` VALUES
  (1, 1, 'red', 'a,c', 18446744073709551615, '2024-02-29 12:34:56.123456', '1999-12-31 23:59:59.999', 'ab', '{{"x": [1, 2]}}', 12.5, 0.1),
  (2, 0, NULL, '', 0, NULL, NULL, '', '[]', -0.0001, -3.25),
  (18446744073709551615, NULL, 'blue', 'b', NULL, '1970-01-01 00:00:01', '2038-01-19 03:14:07.5', 'xyz  ', NULL, NULL, NULL);"""


def test_mysql_native_types_into_postgres_and_back_without_false_differences(tmp_path):
    with BACKENDS["mariadb"](tmp_path, "s") as src, BACKENDS["postgres"](tmp_path, "t") as tgt:
        src.execute(NATIVE.format(s=src.schema))
        write_cfg(tmp_path, src, tgt)
        (tmp_path / "tables.txt").write_text(f"{src.schema}.native\n")
        r = cli("schema", "--config", str(tmp_path / "schema.cfg"), "--apply")
        assert r.returncode == 0, r.stderr
        (table,) = skt.read(tmp_path / "schema.skt")
        kinds = {c.name: c.kind for c in table.columns}
        assert kinds == {"id": Kind.UINT64, "flag": Kind.BOOLEAN, "colour": Kind.VARCHAR, "tags": Kind.VARCHAR,
                         "big": Kind.UINT64, "at": Kind.TIMESTAMPTZ, "local": Kind.TIMESTAMP, "code": Kind.CHAR,
                         "doc": Kind.JSON, "price": Kind.DECIMAL, "ratio": Kind.FLOAT32}
        r = cli("sync", "--config", str(tmp_path / "sync.cfg"))
        assert r.returncode == 0, r.stderr
        assert cli("validate", "--config", str(tmp_path / "emit.cfg")).returncode == 0
        rows = tgt.read(table.renamed(tgt.schema))
        assert rows[0][:6] == (1, True, "red", "a,c", 2**64 - 1, dt.datetime(2024, 2, 29, 12, 34, 56, 123456))
        assert rows[0][9] == Decimal("12.5") and rows[2][0] == 2**64 - 1 and rows[2][7] == "xyz"
        assert rows == src.read(table)


def test_lower_precision_target_converges(tmp_path):
    """PostgreSQL source at microseconds into a MariaDB DATETIME(3) that truncates, and into
    a PostgreSQL timestamp(3) that rounds: one sync, then validate finds nothing."""
    for kind, ddl in (("mariadb", "CREATE TABLE `{s}`.`ev` (id INT NOT NULL PRIMARY KEY, at DATETIME(3), t TIME(0));"),
                      ("postgres", 'CREATE TABLE "{s}"."ev" (id INT NOT NULL PRIMARY KEY, at TIMESTAMP(3), t TIME(0));')):
        d = tmp_path / kind
        d.mkdir()
        with BACKENDS["postgres"](d, "s") as src, BACKENDS[kind](d, "t") as tgt:
            src.execute(f'CREATE TABLE "{src.schema}"."ev" (id INT PRIMARY KEY, at TIMESTAMP(6), t TIME(6));'
                        f"INSERT INTO \"{src.schema}\".\"ev\" VALUES (1, '2020-01-01 00:00:00.123500', '10:00:00.6'),"
                        f"(2, '2020-01-01 00:00:00.999999', '23:59:59.4'), (3, NULL, NULL)")
            write_cfg(d, src, tgt)
            (d / "tables.txt").write_text(f"{src.schema}.ev\n")
            assert cli("schema", "--config", str(d / "schema.cfg")).returncode == 0
            tgt.execute(ddl.format(s=tgt.schema))
            r = cli("sync", "--config", str(d / "sync.cfg"))
            assert r.returncode == 0, r.stderr
            r = cli("validate", "--config", str(d / "emit.cfg"))
            assert r.returncode == 0, (kind, r.stdout, r.stderr)
