"""The protocol check against a real Cassandra (``tests/cassandra_node``: Apache
Cassandra 1.2.0 on Java 17, native protocol v1, consistency ONE): the real driver
connects, the adapter reads the schema through the driver's metadata, scans token ranges
page by page (pages cut inside partitions, on one and several threads), fetches rows by
key, and the CQL types 1.2 has arrive as canonical values; a sync from it into SQLite
converges and a second validate finds nothing."""
from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from decimal import Decimal

import pytest

from targetsync_core.adapters.cassandra import CassandraDatabase
from targetsync_core.cli import main
from targetsync_core.dsn import parse_dsn
from tests.cassandra_node import cassandra12_node

UTC = dt.timezone.utc
KS = "smoke"
TYPES = {"k": "text", "a": "ascii", "vi": "varint", "de": "decimal", "ts": "timestamp", "tu": "timeuuid",
         "u": "uuid", "b": "blob", "bo": "boolean", "ip": "inet", "i": "int", "bi": "bigint", "f": "float",
         "d": "double", "l": "list<int>", "m": "map<text, int>", "s": "set<text>"}


def typed_rows() -> list[dict]:
    """Rows of the typed table; a missing column is NULL (1.2 takes no bound NULL)."""
    rows = [{"k": "all", "a": "plain", "vi": -10**30, "de": Decimal("-1.2300E-40"),
             "ts": dt.datetime(1969, 7, 20, 20, 17, 40, 123000), "tu": uuid.uuid1(node=1, clock_seq=2),
             "u": uuid.UUID(int=7), "b": b"\x00\xff", "bo": True, "ip": "::1", "i": -2**31, "bi": 2**63 - 1,
             "f": 0.5, "d": float("-inf"), "l": [3, 1, 3], "m": {"b": 2, "a": 1}, "s": {"y", "x"}},
            {"k": "nulls"}]
    rows += [{"k": f"é{n}😀", "vi": n, "de": Decimal(n) / 8, "i": n} for n in range(60)]
    return rows


@pytest.fixture(scope="module")
def node():
    with cassandra12_node() as port:
        from cassandra import ConsistencyLevel
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import RoundRobinPolicy
        profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), consistency_level=ConsistencyLevel.ONE)
        cluster = Cluster(["127.0.0.1"], port=port, protocol_version=1,
                          execution_profiles={EXEC_PROFILE_DEFAULT: profile})
        session = cluster.connect()
        session.execute(f"CREATE KEYSPACE {KS} WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        cols = ", ".join(f"{n} {t}" for n, t in TYPES.items())
        session.execute(f"CREATE TABLE {KS}.typed ({cols}, PRIMARY KEY (k))")
        session.execute(f"CREATE TABLE {KS}.wide (p int, q text, c int, v text, PRIMARY KEY ((p, q), c))")
        for row in typed_rows():
            names = list(row)
            stmt = session.prepare(f"INSERT INTO {KS}.typed ({', '.join(names)}) VALUES "
                                   f"({', '.join('?' * len(names))})")
            session.execute(stmt, [row[n] for n in names])
        wide = session.prepare(f"INSERT INTO {KS}.wide (p, q, c, v) VALUES (?, ?, ?, ?)")
        for p in range(10):
            for c in range(p * 3):
                session.execute(wide, (p, "x" if p % 2 else "y", c, f"{p}/{c}"))
        cluster.shutdown()
        yield port


def adapter(port: int, query: str = "") -> CassandraDatabase:
    return CassandraDatabase.from_dsn("cassandra", parse_dsn(
        f"cassandra://127.0.0.1:{port}/{KS}?protocol=1&consistency=ONE&{query}"))


def test_the_real_driver_reads_types_pages_and_keys(node):
    db = adapter(node, "pageRows=7")
    try:
        typed = db.reflect(KS, "typed")
        assert typed.primary_key == ("k",)
        kinds = {c.name: c.kind.value for c in typed.columns}
        assert kinds == {"k": "text", "a": "text", "vi": "decimal", "de": "decimal", "ts": "timestamptz",
                         "tu": "uuid", "u": "uuid", "b": "blob", "bo": "boolean", "ip": "varchar", "i": "int32",
                         "bi": "int64", "f": "float32", "d": "float64", "l": "json", "m": "json", "s": "json"}
        names = [c.name for c in typed.columns]
        for threads in (1, 3):
            got = {r[0]: dict(zip(names, r)) for r in db.scan(typed, threads)}
            assert len(got) == len(typed_rows()), threads
        first = got["all"]
        assert first["vi"] == Decimal(-10**30) and first["de"] == Decimal("-1.2300E-40")
        assert first["ts"] == dt.datetime(1969, 7, 20, 20, 17, 40, 123000, UTC)
        assert first["ip"] == "::1" and first["bi"] == 2**63 - 1 and first["d"] == float("-inf")
        assert first["l"] == "[3, 1, 3]" and first["m"] == '{"a": 1, "b": 2}' and first["s"] == '["x", "y"]'
        assert set(got["nulls"].values()) == {"nulls", None}
        assert {r[0] for r in db.fetch(typed, [("all",), ("é7😀",), ("none",)])} == {"all", "é7😀"}
        wide = db.reflect(KS, "wide")
        assert wide.primary_key == ("p", "q", "c")
        want = sorted((p, "x" if p % 2 else "y", c, f"{p}/{c}") for p in range(10) for c in range(p * 3))
        for threads in (1, 3):
            assert sorted(db.scan(wide, threads)) == want, threads
    finally:
        db.close()


def test_a_sync_from_it_converges_and_a_second_validate_finds_nothing(node, tmp_path, capsys):
    (tmp_path / "source.dsn").write_text(f"cassandra://127.0.0.1:{node}/?protocol=1&consistency=ONE&pageRows=9\n")
    sqlite3.connect(tmp_path / "target.db").close()
    (tmp_path / "target.dsn").write_text(f"sqlite:///{tmp_path / 'target.db'}\n")
    (tmp_path / "tables.txt").write_text(f"{KS}.typed\n{KS}.wide\n")
    common = ("sourceType=cassandra\nsourceDsnFile=source.dsn\ntargetType=sqlite\ntargetDsnFile=target.dsn\n"
              f"tableFile=tables.txt\nschemaFile=schema.skt\nschemaRename={KS}:main\n")
    (tmp_path / "schema.cfg").write_text(common + "outputDirectory=ddl\n")
    (tmp_path / "emit.cfg").write_text(common + "targetSyncEmit=true\nemitOutputDirectory=emit\nwindowSize=16\n"
                                       "cassandraPKHashMemRows=10\ncassandraSortMemRows=10\n")
    (tmp_path / "sync.cfg").write_text(common + "emitOutputDirectory=emit\nwindowSize=16\ndoneDirectory=done\n"
                                       "cassandraPKHashMemRows=10\ncassandraSortMemRows=10\n")
    assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
    assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
    conn = sqlite3.connect(tmp_path / "target.db")
    held = dict(conn.execute('SELECT "k", "vi" FROM "typed"').fetchall())
    assert len(held) == len(typed_rows()) and held["é5😀"] in (5, "5")
    assert conn.execute('SELECT count(*) FROM "wide"').fetchone()[0] == sum(p * 3 for p in range(10))
    conn.close()
    capsys.readouterr()
    assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0
    assert "validate: 0 difference(s)" in capsys.readouterr().out
