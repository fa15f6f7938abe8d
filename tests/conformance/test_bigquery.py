"""BigQuery's own ways (bqemulator through Google's client, or TARGETSYNC_TEST_BIGQUERY_DSN):
DSN refusals in one line naming the DSN file, a missing driver, the DDL and its type
mapping, windows read in the diff's key order, exactly-once apply (a replay changes
nothing, a failure before or inside a file's transaction applies nothing of it), the
lease, U records that find no row, and the emulator's gaps, each named by a test."""
from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from decimal import Decimal

import pytest

from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.adapters.bigquery import BigQueryDatabase
from targetsync_core.diff.windows import Window, boundaries
from targetsync_core.dsn import parse_dsn
from targetsync_core.errors import ConfigError, ConnectError, DataError, LeaseHeld, SchemaMismatch
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.cloud import bigquery as cloud

C = Column
STRINGS = ["a", "B", "b", "\ue000", "\uffee", "😀", "𝄞", "ﬀ", "é", "z", "Z", "aa", "a-b", "0", "~", "", " ", "ａ"]


def db_of(url: str) -> BigQueryDatabase:
    return BigQueryDatabase.from_dsn("bigquery", parse_dsn(url, source="target.dsn"))


# ---- DSN and driver -----------------------------------------------------------------------

@pytest.mark.parametrize("url,says", [
    ("postgresql://h/db", "bigquery://PROJECT/DATASET"),
    ("bigquery://proj", "must name a project and a dataset"),
    ("bigquery://proj/a/b", "must name a project and a dataset"),
    ("bigquery://user:pw@proj/ds", "takes no user, password or port"),
    ("bigquery://proj/ds?keyfile=x", "unknown parameter(s) keyfile"),
])
def test_dsn_refusals_are_one_line_naming_the_dsn_file(url, says):
    with pytest.raises(ConfigError) as e:
        db_of(url)
    text = str(e.value)
    assert says in text and text.startswith("target.dsn") and "\n" not in text
    assert "pw" not in text


def test_a_credentials_file_is_read_by_the_adapter_and_never_quoted(tmp_path):
    missing = db_of(f"bigquery://proj/ds?credentials={tmp_path / 'nope.json'}")
    with pytest.raises(ConfigError, match="credentials file the bigquery DSN names cannot be read") as e:
        missing.client()
    assert "nope.json" not in str(e.value)
    bad = tmp_path / "key.json"
    bad.write_text('{"private_key": "SECRET-KEY-TEXT", "type": "service_account"}')
    with pytest.raises(ConfigError, match="not a service account's JSON key file") as e:
        db_of(f"bigquery://proj/ds?credentials={bad}").client()
    assert "SECRET-KEY-TEXT" not in str(e.value) and "key.json" not in str(e.value)


def test_a_relative_credentials_path_is_taken_from_the_dsn_files_folder(tmp_path):
    (tmp_path / "k.json").write_text("{}")
    db = BigQueryDatabase.from_dsn("bigquery", parse_dsn("bigquery://proj/ds?credentials=k.json",
                                                         source=str(tmp_path / "target.dsn")))
    with pytest.raises(ConfigError, match="not a service account's JSON key file"):   # found, and read
        db.client()


def test_gcpcredfile_names_the_key_file_unless_the_dsn_does(tmp_path):
    """The config key ``gcpCredfile`` reaches the adapter with the DSN (as for Spanner): its
    file is read; naming a file in both places is refused in one line."""
    from dataclasses import replace
    (tmp_path / "k.json").write_text("{}")
    dsn = replace(parse_dsn("bigquery://proj/ds", source=str(tmp_path / "target.dsn")),
                  credentials_file=str(tmp_path / "k.json"))
    with pytest.raises(ConfigError, match="not a service account's JSON key file"):   # found, and read
        BigQueryDatabase.from_dsn("bigquery", dsn).client()
    both = replace(parse_dsn("bigquery://proj/ds?credentials=k.json", source=str(tmp_path / "target.dsn")),
                   credentials_file=str(tmp_path / "k.json"))
    with pytest.raises(ConfigError, match="names a credentials file and so does gcpCredfile") as e:
        BigQueryDatabase.from_dsn("bigquery", both)
    assert "\n" not in str(e.value)


def test_a_missing_driver_is_one_line_saying_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", None)
    if "google.cloud" in sys.modules:
        monkeypatch.delattr(sys.modules["google.cloud"], "bigquery", raising=False)
    with pytest.raises(ConnectError, match=r"pip install 'targetsync\[bigquery\]'"):
        db_of("bigquery://proj/ds?endpoint=http://127.0.0.1:9").client()


def test_the_core_imports_no_google_module():
    import subprocess
    code = ("import sys, targetsync_core.cli, targetsync_core.adapters.registry as r; "
            "r.adapter_class('bigquery', 'targetType', 'target'); "
            "print([m for m in sys.modules if m.startswith('google')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_unreachable_endpoint_is_a_connect_error_naming_the_dsn_file(monkeypatch):
    import socket
    monkeypatch.setattr("targetsync_core.adapters.bigquery.adapter.RETRY_DEADLINE", 1.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = db_of(f"bigquery://proj/ds?endpoint=http://127.0.0.1:{port}")
    with pytest.raises(ConnectError) as e:
        db.reflect("ds", "t")
    assert "cannot connect to bigquery proj/ds (DSN file target.dsn)" in str(e.value)


# ---- DDL --------------------------------------------------------------------------------

def test_ddl_declares_the_key_not_enforced_and_maps_every_kind():
    from tests.helpers import VALUE_COLUMNS
    t = Table("sales", "orders", (C("id", Kind.INT64, False), *VALUE_COLUMNS), ("id",))
    ddl = BigQueryDatabase.generate_ddl([t])
    c = ddl["c.sql"]
    assert "PRIMARY KEY (`id`) NOT ENFORCED" in c and 'targetsync primary key: [\\"id\\"]' in c
    for spelled in ("`c_u64` NUMERIC(20)", "`c_dec` BIGNUMERIC(38, 10)", "`c_dec0` BIGNUMERIC(38, 0)",
                    "`c_f32` FLOAT64", "`c_char` STRING(10)", "`c_bin` BYTES(4)", "`c_blob` BYTES", "`c_time` TIME",
                    "`c_ts` DATETIME", "`c_tstz` TIMESTAMP", "`c_uuid` STRING(36)", "`c_json` JSON", "`id` INT64 NOT NULL"):
        assert spelled in c, spelled
    assert "DROP TABLE IF EXISTS `sales`.`orders`" in ddl["d.sql"]
    assert "no indexes" in ddl["i.sql"]


def test_a_decimal_beyond_bignumeric_is_refused_naming_the_column():
    t = Table("s", "t", (C("id", Kind.INT64, False), C("d", Kind.DECIMAL, precision=60, scale=2)), ("id",))
    with pytest.raises(SchemaMismatch, match=r"column s.t.d is decimal\(60,2\)"):
        BigQueryDatabase.generate_ddl([t])


# ---- against the emulator (or the service) -----------------------------------------------

@pytest.fixture(scope="module")
def bq(tmp_path_factory):
    with cloud.backend(tmp_path_factory.mktemp("bq"), "own") as b:
        yield b


def make(b, table: Table, rows: list[tuple]) -> BigQueryDatabase:
    db = b.db
    db.execute_script(BigQueryDatabase.generate_ddl([table])["c.sql"])
    if rows:
        b.raw.insert(table, rows)
    return db


KEYED = {
    "text": (C("k", Kind.VARCHAR, False, length=20), [(k,) for k in STRINGS]),
    "uuid": (C("k", Kind.UUID, False), [(uuid.UUID(int=n * 0x9E3779B97F4A7C15 % 2**128),) for n in range(1, 40)]
             + [(uuid.UUID(int=0),)]),
    "bytes": (C("k", Kind.VARBINARY, False, length=8), [(bytes(v),) for v in ([], [0], [1], [255], [0, 0], [127, 255],
                                                                              [128], [97], [97, 0])]),
    "decimal": (C("k", Kind.DECIMAL, False, precision=12, scale=3),
                [(Decimal(x),) for x in ("-5.5", "0", "0.001", "12.5", "-0.25", "999999999.999")]),
    "bignumeric": (C("k", Kind.DECIMAL, False, precision=38, scale=10),
                   [(Decimal(x),) for x in ("-12345678901234567890.0123456789", "-1", "0", "0.0000000001", "2.5",
                                            "7", "1e20", "99999999999999999999999999.5")]),
    "date": (C("k", Kind.DATE, False), [(dt.date(1, 1, 1),), (dt.date(1969, 12, 31),), (dt.date(1970, 1, 1),),
                                       (dt.date(2024, 2, 29),), (dt.date(9999, 12, 31),)]),
}


@pytest.mark.parametrize("name", list(KEYED))
def test_keys_read_in_the_diffs_order_and_windows_read_their_range(bq, name):
    col, keys = KEYED[name]
    t = Table(bq.schema, f"by_{name}", (col, C("v", Kind.INT32)), ("k",))
    db = make(bq, t, [(*k, i) for i, k in enumerate(keys)])
    live = db.shape(t.schema, t.name)
    assert live.primary_key == ("k",)
    got = list(db.read_keys(t))
    assert got == sorted(keys)
    bounds = db.window_bounds(t, 2)
    assert bounds == boundaries(iter(got), 2)
    w = Window(0, 0, bounds[0], bounds[1], True)
    assert [r[:1] for r in db.read_window(t, w)] == [k for k in got if bounds[0] <= k < bounds[1]]


def test_composite_keys_read_in_order_and_windows_cut_them_exactly(bq):
    t = Table(bq.schema, "pairs", (C("a", Kind.INT64, False), C("b", Kind.VARCHAR, False, length=9),
                                   C("v", Kind.INT32)), ("a", "b"))
    keys = sorted((a, s) for a in (-2**40, -1, 0, 7) for s in STRINGS[:6])
    db = make(bq, t, [(a, s, 1) for a, s in keys])
    assert list(db.read_keys(t)) == keys
    lo, hi = keys[5], keys[17]
    assert [r[:2] for r in db.read_window(t, Window(0, 0, lo, hi, False))] == [k for k in keys if lo < k < hi]


HOLDER = LeaseHolder("me-" + uuid.uuid4().hex[:8], "this-host", 1)
ORDERS = [C("id", Kind.INT64, False), C("name", Kind.VARCHAR, length=20), C("amount", Kind.DECIMAL, precision=12,
                                                                                    scale=2), C("doc", Kind.JSON)]


def orders(b, name: str) -> tuple[Table, BigQueryDatabase]:
    t = Table(b.schema, name, tuple(ORDERS), ("id",))
    return t, make(b, t, [(i, f"n{i}", Decimal(i), '{"i": %d}' % i) for i in range(1, 6)])


def changes(t: Table) -> list[TableBatch]:
    b = TableBatch(t, upserts=[(7, "seven", Decimal("7.25"), '{"a": [1, "x"]}'), (2, "two!", None, None)],
                   deletes=[(3,)])
    b.updates[(1,)] = [((4,), ("four",)), ((99,), ("gone",))]      # 99: no such row
    b.updates[(2, 3)] = [((5,), (Decimal("-1.5"), '{"k": null}'))]
    return [b]


def table_rows(b, t: Table) -> list[tuple]:
    return sorted(b.read(t))


def expected_after(t: Table) -> list[tuple]:
    return [(1, "n1", Decimal(1), '{"i": 1}'), (2, "two!", None, None), (4, "four", Decimal(4), '{"i": 4}'),
            (5, "n5", Decimal("-1.5"), '{"k": null}'), (7, "seven", Decimal("7.25"), '{"a": [1, "x"]}')]


def canon_json(rows):
    return [tuple(json.dumps(json.loads(v), sort_keys=True) if isinstance(v, str) and v[:1] in "{[" else v for v in r)
            for r in rows]


def test_a_file_applies_once_and_a_replay_changes_nothing(bq):
    t, db = orders(bq, "once")
    a = db.open_applier()
    try:
        a.acquire_lease(HOLDER, 60)
        a.apply_file("run1", 0, changes(t), HOLDER, 60)
        assert a.missed == {t.qualified: 1}
        assert canon_json(table_rows(bq, t)) == canon_json(expected_after(t))
        assert a.applied_files("run1") == {0}
        a.apply_file("run1", 0, changes(t), HOLDER, 60)       # the same file again
        assert a.missed == {}
        assert canon_json(table_rows(bq, t)) == canon_json(expected_after(t))
        staged = [x.table_id for x in db.client().list_tables(f"{db.project}.{bq.schema}") if "_wkm" in x.table_id]
        assert staged, "the file was staged"
    finally:
        a.release_lease(HOLDER)
        a.close()
    left = [x.table_id for x in db.client().list_tables(f"{db.project}.{bq.schema}") if "_wkm" in x.table_id]
    assert left == [], "the applier drops its staging tables when it closes"


def test_a_failure_before_the_transaction_applies_nothing_and_a_rerun_applies_once(bq, monkeypatch):
    t, db = orders(bq, "crash_before")
    before = table_rows(bq, t)
    real = type(db).query

    def crash(self, sql, params=None, what="querying"):
        if "BEGIN TRANSACTION" in sql:
            raise ConnectError("the loader's connection dropped after staging")
        return real(self, sql, params, what)
    a = db.open_applier()
    try:
        a.acquire_lease(HOLDER, 60)
        monkeypatch.setattr(type(db), "query", crash)
        with pytest.raises(ConnectError):
            a.apply_file("run2", 0, changes(t), HOLDER, 60)
        monkeypatch.setattr(type(db), "query", real)
        assert table_rows(bq, t) == before and a.applied_files("run2") == set()
        a.apply_file("run2", 0, changes(t), HOLDER, 60)
        assert canon_json(table_rows(bq, t)) == canon_json(expected_after(t))
    finally:
        a.release_lease(HOLDER)
        a.close()


def test_a_failure_inside_the_transaction_rolls_the_whole_file_back(bq, monkeypatch):
    """A statement failing after the changes and the record (just before COMMIT) leaves
    neither: they are one transaction."""
    t, db = orders(bq, "crash_inside")
    before = table_rows(bq, t)
    real = type(db).query

    def failing(self, sql, params=None, what="querying"):
        return real(self, sql.replace("COMMIT TRANSACTION;", "SELECT ERROR('injected');\nCOMMIT TRANSACTION;"),
                    params, what)
    a = db.open_applier()
    try:
        a.acquire_lease(HOLDER, 60)
        monkeypatch.setattr(type(db), "query", failing)
        with pytest.raises(DataError, match="injected"):
            a.apply_file("run3", 0, changes(t), HOLDER, 60)
        monkeypatch.setattr(type(db), "query", real)
        assert table_rows(bq, t) == before and a.applied_files("run3") == set()
    finally:
        a.release_lease(HOLDER)
        a.close()


def test_the_lease_refuses_a_second_loader_and_a_lost_lease_applies_nothing(bq):
    t, db = orders(bq, "leased")
    before = table_rows(bq, t)
    other = LeaseHolder("other-" + uuid.uuid4().hex[:8], "another-host", 2)
    a, b = db.open_applier(), db.open_applier()
    try:
        a.acquire_lease(HOLDER, 60)
        with pytest.raises(LeaseHeld, match="pid 1 on this-host"):
            b.acquire_lease(other, 60)
        a.release_lease(HOLDER)
        b.acquire_lease(other, 60)          # released: the other loader takes it
        with pytest.raises(LeaseHeld, match="no longer holds the apply lease"):
            a.apply_file("run4", 0, changes(t), HOLDER, 60)
        assert table_rows(bq, t) == before and a.applied_files("run4") == set()
        b.release_lease(other)
    finally:
        a.close()
        b.close()


def test_an_expired_lease_of_another_host_is_taken_over(bq):
    db = bq.db
    a = db.open_applier()
    gone = LeaseHolder("gone-" + uuid.uuid4().hex[:8], "far-host", 3)
    try:
        a.acquire_lease(gone, 0.001)        # expires at once
        a.acquire_lease(HOLDER, 60)
        a.release_lease(HOLDER)
    finally:
        a.close()


# ---- the emulator's gaps, each named ----------------------------------------------------

@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    """The emulator itself, whatever TARGETSYNC_TEST_BIGQUERY_DSN says."""
    service = cloud.emulator()
    with cloud.dataset(f"bigquery://{cloud.PROJECT}/x?endpoint=http://{service.host_port}", "gaps") as (url, c, ds):
        yield cloud.Raw(c, ds)


def test_emulator_gap_bignumeric_holds_38_digits_and_unparameterized_rounds_to_five(emu):
    """BigQuery's BIGNUMERIC holds 76 digits (38 after the point); DuckDB's DECIMAL holds 38:
    the emulator refuses a value of more, and a BIGNUMERIC without parameters keeps 5
    fractional digits. The suites' decimals stay within BIGNUMERIC(38, s), which it holds
    exactly; an unconstrained source decimal (BIGNUMERIC) is tested on the service only."""
    emu.execute(f"CREATE TABLE `{emu.dataset}`.`wide` (d BIGNUMERIC(50, 10), e BIGNUMERIC)")
    with pytest.raises(Exception, match="(?i)decimal|conversion|overflow|out of range"):
        emu.query(f"INSERT INTO `{emu.dataset}`.`wide` (d) VALUES (1234567890123456789012345678901234567890.5)")
    emu.query(f"INSERT INTO `{emu.dataset}`.`wide` (e) VALUES (1.123456789012345678901)")
    assert emu.query(f"SELECT e FROM `{emu.dataset}`.`wide`") == [(Decimal("1.12346"),)]


def test_emulator_gap_numeric_cast_rounds_to_three_digits(emu):
    """``CAST(x AS NUMERIC)`` is DuckDB's DECIMAL(18, 3): the adapter casts no value."""
    got = emu.query("SELECT CAST('1.23456' AS NUMERIC)")[0][0]
    assert got != Decimal("1.23456")


def test_emulator_gap_table_names_fold_case(emu):
    """BigQuery's table names are case-sensitive; the emulator's (DuckDB's) are not: the
    suite uses no two names differing in case alone."""
    emu.execute(f"CREATE TABLE `{emu.dataset}`.`cased` (v INT64)")
    with pytest.raises(Exception, match="(?i)exist"):
        emu.execute(f"CREATE TABLE `{emu.dataset}`.`CASED` (v INT64)")


def test_emulator_gap_raise_is_an_internal_error_so_the_lease_check_uses_error(emu):
    """``RAISE`` in a script makes the emulator answer 500 (which the client would retry):
    the apply script's lease check fails through ``SELECT ERROR(…)`` instead, which
    BigQuery has as well."""
    from google.api_core.exceptions import BadRequest
    with pytest.raises(BadRequest, match="lease"):
        emu.query("IF TRUE THEN\n  SELECT ERROR('lease');\nEND IF;")
    from google.api_core.retry import Retry
    with pytest.raises(Exception) as e:   # a 500, retried for a second only
        emu.client.query("IF TRUE THEN\n  RAISE USING MESSAGE = 'lease';\nEND IF;", retry=Retry(deadline=1),
                         job_retry=None).result(retry=Retry(deadline=1))
    assert not isinstance(e.value, BadRequest) and "500" in str(e.value) + str(getattr(e.value, "cause", ""))


def test_emulator_gap_launcher_puts_declared_types_back(emu, bq):
    """Without the launcher's fix the emulator lists STRING(n), NUMERIC(p, s), BIGNUMERIC
    and JSON columns as STRING / NUMERIC without parameters (``bqemulator_launcher.py``)."""
    emu.execute(f"CREATE TABLE `{emu.dataset}`.`declared` (s STRING(7), n NUMERIC(12, 4), b BIGNUMERIC(38, 12), "
                "j JSON, y BYTES(3))")
    t = emu.client.get_table(f"{emu.client.project}.{emu.dataset}.declared")
    got = [(f.field_type, f.max_length, f.precision, f.scale) for f in t.schema]
    assert got == [("STRING", 7, None, None), ("NUMERIC", None, 12, 4), ("BIGNUMERIC", None, 38, 12),
                   ("JSON", None, None, None), ("BYTES", 3, None, None)]


def test_a_json_null_document_reads_back_as_sql_null(bq):
    """A column's JSON text ``null`` loads as SQL NULL (a load job's JSON null is the
    column's NULL): a known limit, named here."""
    t, db = orders(bq, "jsonnull")
    a = db.open_applier()
    try:
        a.acquire_lease(HOLDER, 60)
        a.apply_file("run5", 0, [TableBatch(t, upserts=[(8, "x", None, "null")])], HOLDER, 60)
    finally:
        a.release_lease(HOLDER)
        a.close()
    assert [r for r in table_rows(bq, t) if r[0] == 8] == [(8, "x", None, None)]



def test_a_table_of_the_staging_name_that_is_not_staging_is_refused_not_replaced(bq):
    t, db = orders(bq, "clash")
    bq.raw.execute(f"CREATE TABLE `{bq.schema}`.`clash_wkm0` (precious INT64)")
    bq.raw.query(f"INSERT INTO `{bq.schema}`.`clash_wkm0` (precious) VALUES (42)")
    a = db.open_applier()
    try:
        a.acquire_lease(HOLDER, 60)
        with pytest.raises(SchemaMismatch, match="clash_wkm0 .* is not a targetsync staging table"):
            a.apply_file("run6", 0, changes(t), HOLDER, 60)
    finally:
        a.release_lease(HOLDER)
        a.close()
    assert bq.raw.query(f"SELECT precious FROM `{bq.schema}`.`clash_wkm0`") == [(42,)]


def test_foreign_keys_are_declared_not_enforced_and_schema_apply_runs_them(bq):
    from targetsync_core.model.schema import ForeignKey
    parent = Table(bq.schema, "fk_parent", (C("id", Kind.INT64, False),), ("id",))
    child = Table(bq.schema, "fk_child", (C("id", Kind.INT64, False), C("pid", Kind.INT64)), ("id",),
                  foreign_keys=(ForeignKey(("pid",), bq.schema, "fk_parent", ("id",)),))
    ddl = BigQueryDatabase.generate_ddl([parent, child])
    assert (f"ALTER TABLE `{bq.schema}`.`fk_child` ADD CONSTRAINT `fk_fk_child_0` FOREIGN KEY (`pid`) REFERENCES "
            f"`{bq.schema}`.`fk_parent` (`id`) NOT ENFORCED;") in ddl["f.sql"]
    db = bq.db
    for name in ("c.sql", "i.sql", "f.sql"):
        db.execute_script(ddl[name])
    assert db.shape(bq.schema, "fk_child").primary_key == ("id",)


def test_two_loaders_claiming_at_once_get_one_lease(bq):
    """The compare-and-swap claim: of two loaders taking a free lease at the same moment,
    exactly one holds it and the other is refused."""
    import threading
    db = bq.db
    db.open_applier().acquire_lease(HOLDER, 0.001)   # the lease row exists, expired
    holders = [LeaseHolder(f"racer{i}-" + uuid.uuid4().hex[:6], f"host{i}", 10 + i) for i in range(2)]
    appliers = [db.open_applier() for _ in holders]
    outcome: dict[int, str] = {}
    start = threading.Barrier(2)

    def claim(i):
        start.wait()
        try:
            appliers[i].acquire_lease(holders[i], 60)
            outcome[i] = "held"
        except LeaseHeld:
            outcome[i] = "refused"
    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome.values()) == ["held", "refused"], outcome
    winner = next(i for i, v in outcome.items() if v == "held")
    appliers[winner].release_lease(holders[winner])
