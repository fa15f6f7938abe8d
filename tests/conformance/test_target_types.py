"""Targets pre-created by hand in neighbouring types (issue 18, section 2): the three
defects found, each as it was met. The type matrix (``test_type_matrix``) covers every
cell; these name the cases."""
from __future__ import annotations

import datetime as dt

from targetsync_core.cli import main
from tests.conformance.backends import BACKENDS
from tests.conformance.test_conformance import write_cfg


def synced_twice(d, src, tgt, table: str, capsys) -> str:
    (d / "tables.txt").write_text(f"{src.schema}.{table}\n")
    assert main(["schema", "--config", str(d / "schema.cfg")]) == 0
    assert main(["sync", "--config", str(d / "sync.cfg")]) == 0
    capsys.readouterr()
    code = main(["validate", "--config", str(d / "emit.cfg")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert main(["sync", "--config", str(d / "sync.cfg"), "--doneDirectory", str(d / "done2")]) == 0
    assert "sync: 0 file(s), 0 record(s)" in capsys.readouterr().out
    return out


def test_a_narrower_target_does_not_churn(tmp_path, capsys):
    """double into real, numeric(65,10) into numeric(6,3) and into MariaDB's bare numeric
    (decimal(10,0)), timestamptz into timestamp(3) and timestamp(0): every run rewrote the
    same rows."""
    for kind in ("postgres", "mariadb"):
        d = tmp_path / kind
        d.mkdir()
        with BACKENDS["postgres"](d, "s") as src, BACKENDS[kind](d, "t") as tgt:
            src.execute('CREATE TABLE "public"."n" (id int PRIMARY KEY, f double precision, d numeric(65,10), '
                        "d0 numeric(65,10), t3 timestamptz, t0 timestamptz);"
                        "INSERT INTO n VALUES (1, 0.1, 12.3456789012, 12.5, '2020-01-01 10:00:00.123456+00', "
                        "'2020-01-01 10:00:00.5+00'), (2, 1e10/3, -0.0015, -7.5, '1999-12-31 23:59:59.9996+00', "
                        "'2001-02-03 04:05:06.7+00')")
            if kind == "postgres":
                tgt.execute('CREATE TABLE "public"."n" (id int PRIMARY KEY, f real, d numeric(6,3), d0 numeric(10,0), '
                            "t3 timestamp(3), t0 timestamp(0))")
            else:
                tgt.execute(f"CREATE TABLE `{tgt.schema}`.`n` (id int PRIMARY KEY, f float, d numeric(6,3), "
                            "d0 numeric, t3 datetime(3), t0 timestamp(0) NULL)")
            write_cfg(d, src, tgt)
            synced_twice(d, src, tgt, "n", capsys)


def test_a_wider_target_does_not_keep_digits_the_source_lacks(tmp_path, capsys):
    """Source timestamp(0) 15:10:03, target timestamp(6) 15:10:03.003030: it was taken as
    equal and kept."""
    for kind in ("postgres", "mariadb"):
        d = tmp_path / kind
        d.mkdir()
        with BACKENDS["postgres"](d, "s") as src, BACKENDS[kind](d, "t") as tgt:
            src.execute('CREATE TABLE "public"."w" (id int PRIMARY KEY, at timestamp(0), ms timestamp(3));'
                        "INSERT INTO w VALUES (1, '2020-05-05 15:10:03', '2020-05-05 15:10:03.123')")
            q = '"' if kind == "postgres" else "`"
            ts6 = "timestamp(6)" if kind == "postgres" else "datetime(6)"
            tgt.execute(f"CREATE TABLE {q}{tgt.schema}{q}.{q}w{q} (id int PRIMARY KEY, at {ts6}, ms {ts6});\n"
                        f"INSERT INTO {q}{tgt.schema}{q}.{q}w{q} VALUES "
                        "(1, '2020-05-05 15:10:03.003030', '2020-05-05 15:10:03.123400')")
            write_cfg(d, src, tgt)
            synced_twice(d, src, tgt, "w", capsys)
            if kind == "postgres":
                import psycopg
                with psycopg.connect(tgt.url) as conn:
                    row = conn.execute('SELECT at, ms FROM "public"."w"').fetchone()
            else:
                conn = tgt._mysql()
                with conn.cursor() as cur:
                    cur.execute(f"SELECT at, ms FROM `{tgt.schema}`.`w`")
                    row = cur.fetchone()
                conn.close()
            assert row == (dt.datetime(2020, 5, 5, 15, 10, 3), dt.datetime(2020, 5, 5, 15, 10, 3, 123000))


def test_mariadb_timestamp_into_postgres_timestamp_and_datetime_into_timestamptz_converge(tmp_path, capsys):
    """MariaDB TIMESTAMP (created_at, updated_at) into a PostgreSQL timestamp without time
    zone, every precision, and DATETIME(6) into timestamptz: every row differed, run after
    run."""
    with BACKENDS["mariadb"](tmp_path, "s") as src, BACKENDS["postgres"](tmp_path, "t") as tgt:
        src.execute(f"CREATE TABLE `{src.schema}`.`ev` (id INT PRIMARY KEY, c0 TIMESTAMP(0) NULL, "
                    "c3 TIMESTAMP(3) NULL, c6 TIMESTAMP(6) NULL, local DATETIME(6));\n"
                    f"INSERT INTO `{src.schema}`.`ev` VALUES (1, '2024-02-29 12:34:56', '2024-02-29 12:34:56.789', "
                    "'2024-02-29 12:34:56.789012', '1999-12-31 23:59:59.999999'), (2, NULL, NULL, NULL, NULL), "
                    "(3, '1970-01-01 00:00:01', '2038-01-19 03:14:07.999', '2001-01-01 00:00:00.000001', "
                    "'0001-01-01 00:00:00')")
        tgt.execute(f'CREATE SCHEMA "{src.schema}"; CREATE TABLE "{src.schema}"."ev" (id int PRIMARY KEY, '
                    "c0 timestamp(0), c3 timestamp(3), c6 timestamp, local timestamptz)")
        write_cfg(tmp_path, src, tgt)
        (tmp_path / "sync.cfg").write_text((tmp_path / "sync.cfg").read_text().replace(
            f"schemaRename={src.schema}:{tgt.schema}\n", ""))
        (tmp_path / "emit.cfg").write_text((tmp_path / "emit.cfg").read_text().replace(
            f"schemaRename={src.schema}:{tgt.schema}\n", ""))
        synced_twice(tmp_path, src, tgt, "ev", capsys)
