"""One conformance suite over every backend and every source × target pair (issue 3).

For each pair: create the suite's tables on the source, migrate the schema into an empty
target with ``targetsync schema --apply``, drift the target, ``sync``, then read both sides
afresh through the raw drivers (not the tool's validate) and require them equal; a second
``validate`` must report zero differences and replaying the files must change nothing.
Data is limited by what both backends declare they can hold.
"""
from __future__ import annotations

import datetime as dt
import math
import random
import shutil
from decimal import Decimal

import pytest

from targetsync_core.cli import main
from targetsync_core.emit import files as F
from targetsync_core.model import skt
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import ALL_BACKENDS, BACKENDS, CLOUD, CLOUD_SOURCES, Limits, joint_limits, write_configs
from tests.helpers import VALUE_COLUMNS, random_value

KINDS = list(BACKENDS)
SOURCES = [k for k in KINDS if k != "mongodb"]   # a target only
TARGETS = [k for k in KINDS if k != "cassandra"]   # a source only
PAIRS = ([(s, t) for s in SOURCES for t in TARGETS] + [(s, "mongodb-standalone") for s in ("sqlite", "postgres")]
         + [(s, t) for t in CLOUD for s in CLOUD_SOURCES])

STRING_KEYS = ["a", "A", "b", "B", "a-b", "a b", "a ", "a  ", " a", "ab", "Ab", "aB", "é", "É", "ß", "ss",
               "日本", "😀", "z", "Z", "-", "--", "0", "9", "a\tb", "mañana", "Ωmega", "ωmega"]


def tables(schema: str) -> list[Table]:
    c = Column
    return [
        Table(schema, "types", (c("id", Kind.INT64, False), *VALUE_COLUMNS), ("id",)),
        Table(schema, "composite", (c("a", Kind.INT32, False), c("b", Kind.VARCHAR, False, length=20),
                                    c("c", Kind.DATE, False), c("v", Kind.TEXT),
                                    c("n", Kind.DECIMAL, precision=10, scale=2)), ("a", "b", "c")),
        Table(schema, "strkeys", (c("k", Kind.VARCHAR, False, length=40), c("v", Kind.INT32)), ("k",)),
        Table(schema, "big", (c("id", Kind.INT64, False), c("v", Kind.VARCHAR, length=30), c("f", Kind.FLOAT64)),
              ("id",)),
        Table(schema, "empty_src", (c("id", Kind.INT32, False), c("v", Kind.TEXT)), ("id",)),
        Table(schema, "empty_tgt", (c("id", Kind.INT32, False), c("v", Kind.TEXT)), ("id",)),
    ]


def limited(col: Column, v, lim: Limits):
    if v is None:
        return v
    if col.kind in (Kind.FLOAT32, Kind.FLOAT64) and not lim.nonfinite_floats and not math.isfinite(v):
        return 0.5
    if isinstance(v, int) and not isinstance(v, bool) and v > lim.max_integer:
        return lim.max_integer
    if isinstance(v, (dt.date, dt.datetime)) and v.year < lim.min_year:
        return v.replace(year=lim.min_year)
    if isinstance(v, (dt.date, dt.datetime)) and v.year > lim.max_year:
        return v.replace(year=lim.max_year)
    return v


def value(rng, col: Column, lim: Limits):
    return limited(col, random_value(rng, col, lim.max_integer), lim)


def row(rng, t: Table, key: tuple, lim: Limits) -> tuple:
    keys = dict(zip(t.primary_key, key))
    return tuple(keys[c.name] if c.name in keys else (None if c.nullable and rng.random() < 0.15 else value(rng, c, lim))
                 for c in t.columns)


def source_rows(rng, t: Table, lim: Limits) -> list[tuple]:
    if t.name == "types":
        keys = [(i,) for i in range(1, 60)]
    elif t.name == "composite":
        keys = sorted({(rng.randint(-3, 3), rng.choice(["x", "y", "Y", "z z"] + ([] if lim.empty_is_null else [""])),
                        dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(0, 3))) for _ in range(60)})
    elif t.name == "strkeys":
        seen, pool = set(), []
        for k in STRING_KEYS:  # keep only keys the pair's collations keep apart
            if lim.empty_is_null and not k:
                continue   # a key the target would store as NULL
            f = k.rstrip(" ") if lim.pad_space else k
            f = f.casefold() if lim.folds_case else f
            if f not in seen:
                seen.add(f)
                pool.append(k)
        keys = sorted((k,) for k in pool)
    elif t.name == "big":
        keys = [(i * 3,) for i in range(3000)]
    elif t.name == "empty_src":
        keys = []
    else:
        keys = [(i,) for i in range(40)]
    return [row(rng, t, k, lim) for k in keys]


def drift(rng, t: Table, rows: list[tuple], lim: Limits) -> list[tuple]:
    if t.name == "empty_tgt":
        return []
    if t.name == "empty_src":
        return [row(rng, t, (i,), lim) for i in range(25)]
    kp = t.key_positions
    out = {}
    for r in rows:
        x = rng.random()
        if x < 0.1:
            continue
        if x < 0.3:
            r = list(r)
            for p in rng.sample(range(len(r)), 2):
                if p not in kp:
                    r[p] = value(rng, t.columns[p], lim) if rng.random() < 0.8 else None
            r = tuple(r)
        out[tuple(r[p] for p in kp)] = r
    extra = {"types": [(-5,), (0,), (10**6,)], "big": [(-1,), (1,), (10**7,)],
             "strkeys": [("~",), ("aa",)] + ([] if lim.empty_is_null else [("",)]),
             "composite": [(-9, "a", dt.date(1999, 1, 1)), (9, "zz", dt.date(2030, 1, 1))]}.get(t.name, [])
    for k in extra:
        out[k] = row(rng, t, k, lim)
    return list(out.values())


def write_cfg(d, src, tgt):
    write_configs(d, src, tgt, [t.name for t in tables(src.schema)], extra="checkpointDir=cp\n")
    (d / "apply.cfg").write_text(f"targetType={tgt.type_name}\ntargetDsnFile=target.dsn\nschemaFile=schema.skt\n"
                                 "inputDirectory=emit\ndoneDirectory=done\n")


def prepare(tmp_path, src, tgt, seed: int):
    """Source tables with data, target migrated by the tool and drifted; returns the
    source-side tables and their target-side twins."""
    lim = joint_limits(src.limits, tgt.limits)
    rng = random.Random(seed)
    src_tables = tables(src.schema)
    src.create(src_tables)
    rows = {t.name: source_rows(rng, t, lim) for t in src_tables}
    for t in src_tables:
        src.insert(t, rows[t.name])
    write_cfg(tmp_path, src, tgt)
    assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
    tgt_tables = [t.renamed(tgt.schema) for t in src_tables]
    for side in (src, tgt):
        non_c_collation(side)
    made = {t.name: t.renamed(tgt.schema) for t in skt.read(tmp_path / "schema.skt")}
    for t, tt in zip(src_tables, tgt_tables):
        tgt.insert(made[t.name], as_extracted(t, made[t.name], drift(rng, t, rows[t.name], lim)))
    return src_tables, tgt_tables


def as_extracted(suite: Table, extracted: Table, rows: list[tuple]) -> list[tuple]:
    """``rows`` of a suite table as values of the table the tool extracted from the
    source, in its column order (Cassandra lists the key first, then the other columns by
    name), where a source without a kind stores it as another (Oracle: a uuid in RAW(16),
    a boolean in NUMBER(1), a date in DATE with its time)."""
    def value(a: Column, b: Column, v):
        if isinstance(v, dt.datetime) and b.precision is not None and b.precision < 6:
            step = 10 ** (6 - b.precision)   # a target value fits its column
            v = v.replace(microsecond=v.microsecond // step * step)
        if v is None or a.kind is b.kind:
            return v
        if a.kind is Kind.TIMESTAMP and b.kind is Kind.TIMESTAMPTZ:
            return v.replace(tzinfo=dt.timezone.utc)
        if b.kind is Kind.DECIMAL:
            return Decimal(v)
        if a.kind is Kind.UUID:   # RAW(16) on Oracle, CHAR(36) on the MySQL family
            return v.bytes if b.kind in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB) else str(v)
        if a.kind is Kind.BOOLEAN:
            return int(v)
        if a.kind is Kind.DATE and b.kind is Kind.TIMESTAMP:
            return dt.datetime.combine(v, dt.time(0))
        return v
    at = {c.name.lower(): i for i, c in enumerate(suite.columns)}
    order = [(at[b.name.lower()], b) for b in extracted.columns]
    return [tuple(value(suite.columns[i], b, r[i]) for i, b in order) for r in rows]


def non_c_collation(side) -> None:
    """On PostgreSQL, put the string-key table under a linguistic (ICU where available)
    collation, whose order differs from code-point order: the tool must not follow it."""
    if side.kind != "postgres":
        return
    import psycopg
    with psycopg.connect(side.url, autocommit=True) as conn:
        names = [r[0] for r in conn.execute("SELECT collname FROM pg_collation WHERE collname IN "
                                            "('und-x-icu', 'en_US.utf8', 'en_US') ORDER BY collname DESC")]
        assert names, "no linguistic collation on this PostgreSQL"
        conn.execute(f'ALTER TABLE "{side.schema}"."strkeys" ALTER COLUMN k TYPE varchar(40) COLLATE "{names[0]}"')
        order = [r[0] for r in conn.execute(f'SELECT k FROM "{side.schema}"."strkeys" ORDER BY k')]
        assert order == [] or order != sorted(order) or len(order) < 3


def assert_same(src, tgt, src_tables, tgt_tables):
    for s, t in zip(src_tables, tgt_tables):
        a, b = src.read(s, tgt.limits.empty_is_null, millis=tgt.kind == "mongodb"), tgt.read(t)
        assert len(a) == len(b), f"{s.name}: {len(a)} source rows, {len(b)} target rows"
        for x, y in zip(a, b):
            assert x == y, f"{s.name}: source {x} != target {y}"


@pytest.mark.parametrize("source_kind,target_kind", PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_pair_migrates_syncs_and_validates(tmp_path, source_kind, target_kind, capsys):
    with BACKENDS[source_kind](tmp_path, "src") as src, ALL_BACKENDS[target_kind](tmp_path, "tgt") as tgt:
        src_tables, tgt_tables = prepare(tmp_path, src, tgt, seed=hash((source_kind, target_kind)) % 1000)
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 1
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        assert_same(src, tgt, src_tables, tgt_tables)
        capsys.readouterr()
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0
        assert "validate: 0 difference(s)" in capsys.readouterr().out
        # replaying every applied file, as a new run, changes nothing
        before = [tgt.read(t) for t in tgt_tables]
        replay = tmp_path / "replay"
        replay.mkdir()
        for p in (tmp_path / "done").glob("*.ckt"):
            shutil.copy(p, replay / p.name)
        assert F.ckt_numbers(replay), "the sync produced no change files"
        F.new_run(replay)
        F.write_done(replay)
        assert main(["apply", "--config", str(tmp_path / "apply.cfg"), "--inputDirectory", str(replay),
                     "--doneDirectory", str(tmp_path / "done2")]) == 0
        assert [tgt.read(t) for t in tgt_tables] == before


def test_suite_tables_are_what_the_skt_holds(tmp_path):
    with BACKENDS["sqlite"](tmp_path, "src") as src, BACKENDS["sqlite"](tmp_path, "tgt") as tgt:
        prepare(tmp_path, src, tgt, seed=1)
        names = [t.name for t in skt.read(tmp_path / "schema.skt")]
        assert names == [t.name for t in tables("main")]


@pytest.mark.parametrize("kind", KINDS)
def test_window_bounds_computed_in_the_database_match_a_key_scan(tmp_path, kind):
    from targetsync_core.diff.windows import boundaries
    with BACKENDS[kind](tmp_path, "src") as side:
        lim = side.limits
        rng = random.Random(5)
        chosen = [t for t in tables(side.schema) if t.name in ("composite", "strkeys", "big")]
        side.create(chosen)
        db = side.db
        for t in chosen:
            side.insert(t, source_rows(rng, t, lim))
            live = db.reflect(t.schema, t.name)
            for size in (1, 3, 7, 1000):
                assert db.window_bounds(live, size) == boundaries(db.read_keys(live), size), (t.name, size)
        db.close()


@pytest.mark.parametrize("kind", KINDS)
def test_window_bounds_of_keys_without_text_step_along_the_index_and_match_a_key_scan(tmp_path, kind):
    """Keys without a text column (one integer, an integer and a date, a uuid) take the
    index-stepping bounds where the server has them; they must be the key scan's."""
    import uuid

    from targetsync_core.diff.windows import boundaries
    c = Column
    chosen = [Table("", "pairs", (c("a", Kind.INT32, False), c("d", Kind.DATE, False), c("v", Kind.INT32)), ("a", "d")),
              Table("", "uids", (c("u", Kind.UUID, False), c("v", Kind.INT32)), ("u",)),
              Table("", "ints", (c("i", Kind.INT64, False), c("v", Kind.INT32)), ("i",))]
    rng = random.Random(11)
    with BACKENDS[kind](tmp_path, "src") as side:
        chosen = [Table(side.schema, t.name, t.columns, t.primary_key) for t in chosen]
        side.create(chosen)
        pairs = {(rng.randrange(-5, 6), dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(40))) for _ in range(120)}
        side.insert(chosen[0], [(a, d, a) for a, d in sorted(pairs)])
        side.insert(chosen[1], [(uuid.UUID(int=rng.getrandbits(128)), n) for n in range(77)])
        side.insert(chosen[2], [(i, 0) for i in sorted({rng.randrange(-2**40, 2**40) for _ in range(150)})])
        db = side.db
        try:
            for t in chosen:
                live = db.shape(t.schema, t.name)
                for size in (1, 2, 7, 50, 1000):
                    assert db.window_bounds(live, size) == boundaries(db.read_keys(live), size), (t.name, size)
        finally:
            db.close()
