"""Cassandra's own ways, as a source (the test double behind the driver's API, or the
cluster TARGETSYNC_TEST_CASSANDRA_DSN names): CQL types as canonical values, the token scan
(pages cut inside a partition, threads), the consistency level of every read, the bounded
diff spilling to disk under a tiny ceiling and still converging, the whole-row sort, and
refusals in one line (a user-defined type, a bad consistency, a dead node)."""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import uuid
from decimal import Decimal

import pytest

from targetsync_core.cli import main
from targetsync_core.errors import ConfigError, SchemaMismatch
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS, Backend, cassandra_create, cassandra_insert, write_configs

C = Column
UTC = dt.timezone.utc
#: tests that count the statements the double saw (a real cluster keeps no such log)
double_only = pytest.mark.skipif(bool(os.environ.get("TARGETSYNC_TEST_CASSANDRA_DSN")),
                                 reason="counts the statements the test double received")


def with_options(b: Backend, query: str) -> Backend:
    return Backend(b.kind, b.type_name, b.url.rstrip("/") + "/?" + query, b.schema)


TYPES = {"id": "int", "t": "text", "a": "ascii", "vi": "varint", "de": "decimal", "ts": "timestamp",
         "tu": "timeuuid", "u": "uuid", "b": "blob", "bo": "boolean", "ip": "inet", "bi": "bigint",
         "sm": "smallint", "ti": "tinyint", "f": "float", "d": "double", "da": "date", "tm": "time",
         "l": "list<int>", "m": "map<text, int>", "s": "set<text>", "fz": "frozen<map<int, list<text>>>"}


def typed_table(schema: str) -> Table:
    return Table(schema, "typed", tuple(C(n, Kind.TEXT, n != "id") for n in TYPES), ("id",))


def typed_rows():
    tu = uuid.uuid1(node=1, clock_seq=2)
    full = (1, "héllo 😀", "plain", -2**70, Decimal("-1.2300E-40"), dt.datetime(1969, 7, 20, 20, 17, 40, 123000, UTC),
            tu, uuid.UUID(int=7), b"\x00\xff", True, "::1", -2**63, -2**15, -128, 0.1, float("-inf"),
            dt.date(1, 1, 1), dt.time(23, 59, 59, 999999), [3, 1, 3], {"b": 2, "a": 1}, {"y", "x"},
            {2: ["p"], 1: ["q", "r"]})
    nulls = (2, *([None] * (len(TYPES) - 1)))
    return [full, nulls]


def test_cql_types_arrive_as_canonical_values(tmp_path):
    with BACKENDS["cassandra"](tmp_path, "s") as src:
        table = typed_table(src.schema)
        cassandra_create(src, [table], TYPES)
        cassandra_insert(src, table, typed_rows())
        db = src.db
        live = db.reflect(src.schema, "typed")
        kinds = {c.name: (c.kind, c.precision, c.scale) for c in live.columns}
        assert kinds["vi"] == (Kind.DECIMAL, None, 0) and kinds["ts"] == (Kind.TIMESTAMPTZ, 3, None)
        assert kinds["l"][0] is kinds["fz"][0] is Kind.JSON and kinds["ip"][0] is Kind.VARCHAR
        assert live.primary_key == ("id",)
        rows = {r[0]: dict(zip([c.name for c in live.columns], r)) for r in db.scan(live)}
        got = rows[1]
        assert got["t"] == "héllo 😀" and got["vi"] == Decimal(-2**70) and got["de"] == Decimal("-1.2300E-40")
        assert got["ts"] == dt.datetime(1969, 7, 20, 20, 17, 40, 123000, UTC)
        assert got["tu"].version == 1 and got["u"] == uuid.UUID(int=7) and got["b"] == b"\x00\xff"
        assert got["ip"] == "::1" and got["f"] == pytest.approx(0.1, rel=1e-7) and got["d"] == float("-inf")
        assert got["da"] == dt.date(1, 1, 1) and got["tm"] == dt.time(23, 59, 59, 999999)
        assert json.loads(got["l"]) == [3, 1, 3] and json.loads(got["m"]) == {"a": 1, "b": 2}
        assert json.loads(got["s"]) == ["x", "y"] and json.loads(got["fz"]) == {"1": ["q", "r"], "2": ["p"]}
        assert set(rows[2].values()) == {2, None}
        db.close()


def test_a_user_defined_type_is_refused_naming_table_column_and_type(tmp_path):
    with BACKENDS["cassandra"](tmp_path, "s") as src:
        table = Table(src.schema, "people", (C("id", Kind.INT32, False), C("home", Kind.TEXT)), ("id",))
        cassandra_create(src, [table], {"home": "frozen<address>"})
        db = src.db
        with pytest.raises(SchemaMismatch, match=rf"source table {src.schema}.people column home has the "
                                                 "user-defined type address, which targetsync does not read"):
            db.reflect(src.schema, "people")
        db.close()


def test_pages_cut_inside_a_partition_lose_and_repeat_no_row_on_any_thread_count(tmp_path):
    with BACKENDS["cassandra"](tmp_path, "s") as src:
        table = Table(src.schema, "wide", (C("p", Kind.INT32, False), C("c", Kind.INT32, False), C("v", Kind.TEXT)),
                      ("p", "c"))
        cassandra_create(src, [table])
        rows = [(p, c, f"{p}/{c}") for p in range(12) for c in range(p * 3)]   # partitions of 0 to 33 rows
        cassandra_insert(src, table, rows)
        db = with_options(src, "pageRows=7").db
        live = db.reflect(src.schema, "wide")
        for threads in (1, 3):
            assert sorted(db.scan(live, threads)) == sorted(rows), threads
        db.close()


@double_only
def test_every_read_runs_at_the_configured_consistency(tmp_path):
    from tests.conformance import cassandra_double as double
    with BACKENDS["cassandra"](tmp_path, "s") as src:
        table = Table(src.schema, "kv", (C("k", Kind.TEXT, False), C("v", Kind.INT32)), ("k",))
        cassandra_create(src, [table])
        cassandra_insert(src, table, [("a", 1), ("b", 2)])
        for query, level in (("", "LOCAL_QUORUM"), ("consistency=one", "ONE")):
            del double.LOG[:]
            db = with_options(src, query).db
            live = db.reflect(src.schema, "kv")
            list(db.scan(live))
            list(db.fetch(live, [("a",), ("zz",)]))
            from cassandra import ConsistencyLevel
            levels = {ConsistencyLevel.value_to_name[c] for _, c, _ in double.LOG}
            assert levels == {level}, query
            db.close()
        with pytest.raises(ConfigError, match="consistency=SOMETIMES is not a Cassandra consistency level"):
            with_options(src, "consistency=sometimes").db


@pytest.mark.parametrize("pk_hash", [True, False])
def test_a_tiny_memory_ceiling_spills_and_the_sync_still_converges(tmp_path, pk_hash, capsys):
    rng = random.Random(9)
    with BACKENDS["cassandra"](tmp_path, "s") as src, BACKENDS["postgres"](tmp_path, "t") as tgt:
        one = Table(src.schema, "one", (C("id", Kind.INT64, False), C("v", Kind.TEXT), C("n", Kind.DECIMAL)), ("id",))
        two = Table(src.schema, "two", (C("a", Kind.INT32, False), C("b", Kind.TEXT, False), C("v", Kind.INT64)),
                    ("a", "b"))
        cassandra_create(src, [one, two])
        cassandra_insert(src, one, [(i, f"v{i}", Decimal(i) / 7) for i in rng.sample(range(10**6), 400)])
        cassandra_insert(src, two, [(a, b, a) for a in range(20) for b in "xyzw"])
        write_configs(tmp_path, src, tgt, ["one", "two"], window_size=64,
                      extra=f"cassandraPKHashValidation={str(pk_hash).lower()}\ncassandraPKHashMemRows=25\n"
                            "cassandraSortMemRows=9\n")
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        capsys.readouterr()
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        lines = [ln for ln in capsys.readouterr().err.splitlines() if "scanned and sorted" in ln]
        assert any(f"{src.schema}.one: 400 source rows scanned and sorted "
                   f"({'key and row hash; 16' if pk_hash else 'whole rows; 45'} runs spilled to disk)" in ln
                   for ln in lines), lines
        assert any(f"{src.schema}.two: 80 source rows scanned and sorted (whole rows; 9 runs" in ln for ln in lines)
        for t in (one, two):
            assert src.read(t) == tgt.read(Table(tgt.schema, t.name, t.columns, t.primary_key))
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0


@double_only
def test_only_the_drift_is_fetched_again(tmp_path):
    """The (pk, hash) diff reads a row twice only where it differs: 1000 rows, 30 of them
    drifted on the target, fetch at most a query per 100 keys of drift per window."""
    from tests.conformance import cassandra_double as double
    with BACKENDS["cassandra"](tmp_path, "s") as src, BACKENDS["postgres"](tmp_path, "t") as tgt:
        t = Table(src.schema, "kv", (C("k", Kind.INT64, False), C("v", Kind.TEXT)), ("k",))
        cassandra_create(src, [t])
        rows = [(i, f"v{i}") for i in range(1000)]
        cassandra_insert(src, t, rows)
        write_configs(tmp_path, src, tgt, ["kv"], window_size=1000)
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        drifted = rows[:]
        for i in range(0, 1000, 34):
            drifted[i] = (i, "drift")
        tgt.insert(Table(tgt.schema, "kv", t.columns, t.primary_key), drifted)
        del double.LOG[:]
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        fetches = [q for q, *_ in double.LOG if " IN (" in q]
        keys = sum(q.count("?") for q in fetches)
        assert keys == 30 and len(fetches) == 1
        assert src.read(t) == tgt.read(Table(tgt.schema, "kv", t.columns, t.primary_key))


def test_a_dead_node_is_one_line_naming_the_dsn_file(tmp_path, capsys):
    with BACKENDS["cassandra"](tmp_path, "s") as src, BACKENDS["sqlite"](tmp_path, "t") as tgt:
        dead = Backend(src.kind, src.type_name, "cassandra://unreachable:9042/", src.schema)
        write_configs(tmp_path, dead, tgt, ["anything"])
        assert main(["schema", "--config", str(tmp_path / "schema.cfg")]) == 3
        err = capsys.readouterr().err.strip()
        assert err.startswith("targetsync: cannot reach cassandra unreachable:9042") and "source.dsn" in err
        assert "\n" not in err and "Traceback" not in err
