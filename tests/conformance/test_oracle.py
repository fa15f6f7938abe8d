"""What Oracle does its own way, at the translated tier (``tests.conformance.translated``;
``TARGETSYNC_TEST_ORACLE_DSN`` for a real server): an empty string is NULL (it converges,
never churns; as a key it is refused), a NOT NULL column refuses one, DATE holds seconds,
uuids are RAW(16) keys cut by small windows both ways, and the real driver refuses an
unreachable server in one line."""
from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest

from targetsync_core.cli import main
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import oracle_backend, postgres_backend, refused_connection, write_configs

C = Column


def synced(tmp_path, src, tgt, tables: list[Table], rows: dict, drift: dict | None = None, window: int = 50):
    src.create(tables)
    for t in tables:
        src.insert(t, rows[t.name])
    write_configs(tmp_path, src, tgt, [t.name for t in tables], window_size=window)
    assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
    for t in tables:
        if drift and drift.get(t.name):
            tgt.insert(t.renamed(tgt.schema), drift[t.name])
    return main(["sync", "--config", str(tmp_path / "sync.cfg")])


def test_empty_strings_become_null_on_oracle_and_never_churn(tmp_path, capsys):
    with postgres_backend(tmp_path, "src") as src, oracle_backend(tmp_path, "tgt") as tgt:
        t = Table(src.schema, "notes", (C("id", Kind.INT32, False), C("v", Kind.VARCHAR, length=20),
                                        C("b", Kind.BLOB), C("c", Kind.CHAR, length=3)), ("id",))
        # PostgreSQL's char(3) pads '' to three spaces: not empty, so not NULL on Oracle
        rows = [(1, "", b"", "  "), (2, "x", b"\x00", ""), (3, None, None, None), (4, "", b"", "a")]
        assert synced(tmp_path, src, tgt, [t], {"notes": rows}, {"notes": [(2, "old", b"", "b")]}) == 0
        held = tgt.read(t.renamed(tgt.schema))
        assert held == [(1, None, None, ""), (2, "x", b"\x00", ""), (3, None, None, None), (4, None, None, "a")]
        capsys.readouterr()
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0
        assert "validate: 0 difference(s)" in capsys.readouterr().out
        # a second sync finds nothing to write
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        assert "0 record(s)" in capsys.readouterr().out


def test_an_empty_string_key_is_refused_before_any_work(tmp_path, capsys):
    with postgres_backend(tmp_path, "src") as src, oracle_backend(tmp_path, "tgt") as tgt:
        t = Table(src.schema, "codes", (C("k", Kind.VARCHAR, False, length=10), C("v", Kind.INT32)), ("k",))
        capsys.readouterr()
        assert synced(tmp_path, src, tgt, [t], {"codes": [("a", 1), ("", 2)]}) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "stores an empty string as NULL" in err[0] and "('',)" not in err[0]
        assert "''" in err[0] and "codes" in err[0]
        assert tgt.read(t.renamed(tgt.schema)) == []


def test_a_not_null_column_refuses_an_empty_string_in_one_line(tmp_path, capsys):
    with postgres_backend(tmp_path, "src") as src, oracle_backend(tmp_path, "tgt") as tgt:
        t = Table(src.schema, "names", (C("id", Kind.INT32, False), C("name", Kind.VARCHAR, False, length=10)),
                  ("id",))
        capsys.readouterr()
        assert synced(tmp_path, src, tgt, [t], {"names": [(1, "a"), (2, "")]}) == 3
        err = [ln for ln in capsys.readouterr().err.strip().splitlines() if " INFO " not in ln]
        assert len(err) == 1 and err[0].startswith("targetsync: applying to oracle table app.names"), err
        assert tgt.read(t.renamed(tgt.schema)) == []   # the file's transaction rolled back whole


def test_oracle_date_holds_seconds_and_arrives_as_a_timestamp(tmp_path):
    with oracle_backend(tmp_path, "src") as src, postgres_backend(tmp_path, "tgt") as tgt:
        src.execute('CREATE TABLE app.events (id NUMBER(10) NOT NULL, at DATE, PRIMARY KEY (id));\n')
        t = Table("app", "events", (C("id", Kind.INT32, False), C("at", Kind.TIMESTAMP, precision=0)), ("id",))
        rows = [(1, dt.datetime(2024, 2, 29, 23, 59, 58)), (2, dt.datetime(1999, 1, 1)), (3, None)]
        src.insert(t, rows)
        write_configs(tmp_path, src, tgt, ["events"])
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        assert tgt.read(t.renamed(tgt.schema)) == rows
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0


@pytest.mark.parametrize("direction", ["postgres-to-oracle", "oracle-to-postgres"])
def test_uuid_keys_are_raw16_ordered_as_bytes_through_small_windows(tmp_path, direction):
    first, second = (postgres_backend, oracle_backend) if direction.startswith("postgres") else \
        (oracle_backend, postgres_backend)
    rng = random.Random(3)
    with first(tmp_path, "src") as src, second(tmp_path, "tgt") as tgt:
        t = Table(src.schema, "devices", (C("id", Kind.UUID, False), C("n", Kind.INT32)), ("id",))
        ids = sorted({uuid.UUID(int=rng.getrandbits(128)) for _ in range(40)} | {uuid.UUID(int=0)})
        rows = [(u, i) for i, u in enumerate(ids)]
        drift = [(u, -1) for u in ids[::3]]
        if direction.startswith("oracle"):   # an Oracle source holds them as RAW(16): bytes
            src.create([t])
            src.insert(t, rows)
            write_configs(tmp_path, src, tgt, ["devices"], window_size=4)
            assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
            tgt.insert(Table(tgt.schema, "devices", (C("id", Kind.VARBINARY, False, length=16), C("n", Kind.INT32)),
                             ("id",)), [(u.bytes, n) for u, n in drift])
            assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        else:
            assert synced(tmp_path, src, tgt, [t], {"devices": rows}, {"devices": drift}, window=4) == 0
        assert src.read(t) == tgt.read(t.renamed(tgt.schema))
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0


def test_unreachable_server_is_one_line_through_the_real_driver(tmp_path, capsys):
    """python-oracledb (thin mode) against a port where nothing listens."""
    refused_connection(tmp_path, capsys, "oracle",
                       lambda port: f"oracle+oracledb://app:Tiger-Secret-9@127.0.0.1:{port}/FREEPDB1", "Tiger-Secret-9")
