"""The external sort and the bounded (pk, hash) diff (issue 21): property tests against
the in-memory answer, spilling proven by a tiny ceiling (runs written, never more items
held than the ceiling), windows read by key range, repeated keys refused."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from targetsync_core.diff import external
from targetsync_core.diff.compare import RowComparer
from targetsync_core.diff.external import ExternalSorter, sort_items
from targetsync_core.diff.merge import Counts, diff_rows
from targetsync_core.diff.pkhash import diff_hashed, project, row_digest
from targetsync_core.errors import OrderError
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

keys = st.one_of(st.integers(-2**63, 2**63 - 1), st.text(max_size=6))


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(-10**6, 10**6), max_size=400), st.integers(1, 50), st.integers(0, 30),
       st.randoms(use_true_random=False))
def test_sorted_like_sorted_whatever_the_ceiling(values, mem_rows, every, rng):
    items = [((v,), f"p{v}") for v in values]
    rng.shuffle(items)
    store = sort_items(items, mem_rows, "t", every)
    try:
        ordered = sorted(items)
        assert list(store.read()) == ordered
        assert store.count == len(items)
        assert store.bounds == ([k for k, _ in ordered][every::every] if every else [])
    finally:
        store.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=5), unique=True, max_size=200), st.integers(1, 20), st.data())
def test_a_window_reads_exactly_its_key_range(words, mem_rows, data):
    items = [((w,), len(w)) for w in words]
    store = sort_items(items, mem_rows, "t")
    try:
        lo = data.draw(st.one_of(st.none(), st.text(max_size=5).map(lambda w: (w,))))
        hi = data.draw(st.one_of(st.none(), st.text(max_size=5).map(lambda w: (w,))))
        inclusive = data.draw(st.booleans())
        want = [i for i in sorted(items) if (lo is None or i[0] > lo or (inclusive and i[0] == lo))
                and (hi is None or i[0] < hi)]
        assert list(store.read(lo, inclusive, hi)) == want
    finally:
        store.close()


def test_a_tiny_ceiling_spills_in_merge_rounds_and_holds_no_more_than_it(monkeypatch, tmp_path):
    monkeypatch.setattr(external, "FAN_IN", 4)       # 50 runs: merged in rounds of 4
    monkeypatch.setattr(external, "BLOCK", 7)
    rng = random.Random(3)
    values = rng.sample(range(10**9), 5000)
    sorter = ExternalSorter(100, "t", every=1000, directory=tmp_path)
    sorter.extend(((v,), None) for v in values)
    store = sorter.finish()
    assert sorter.runs == 50 and sorter.peak == 100
    assert [k[0] for k, _ in store.read()] == sorted(values)
    lo, hi = sorted(values)[1234], sorted(values)[4321]
    assert [k[0] for k, _ in store.read((lo,), False, (hi,))] == sorted(values)[1235:4321]
    assert store.bounds == [(v,) for v in sorted(values)[1000::1000]]
    store.close()
    assert list(tmp_path.iterdir()) == []   # the spill is gone


@pytest.mark.parametrize("mem_rows", [1, 3, 1000])
def test_a_key_seen_twice_is_refused_naming_table_and_key(mem_rows, tmp_path):
    sorter = ExternalSorter(mem_rows, "ks.users", directory=tmp_path)
    sorter.extend([((3,), 1), ((1,), 1), ((3,), 2), ((2,), 1)])
    with pytest.raises(OrderError, match=r"source table ks.users returned key \(3,\) twice"):
        sorter.finish()
    assert list(tmp_path.iterdir()) == []


T = Table("ks", "t", (Column("id", Kind.INT64, False), Column("name", Kind.VARCHAR, length=20),
                      Column("amount", Kind.DECIMAL, precision=20, scale=4), Column("score", Kind.FLOAT64),
                      Column("at", Kind.TIMESTAMPTZ, precision=3), Column("doc", Kind.JSON),
                      Column("code", Kind.CHAR, length=4)), ("id",))
UTC = dt.timezone.utc


def row(i: int, rng: random.Random) -> tuple:
    return (i, rng.choice(["a", "é", "", None, "𝄞x"]), rng.choice([Decimal("1.5"), Decimal("-0.0001"), None]),
            rng.choice([0.0, 1.25, float("nan"), None]), rng.choice([dt.datetime(2020, 1, 2, 3, 4, 5, 6000, UTC), None]),
            rng.choice(['{"a": 1, "b": [2]}', None]), rng.choice(["ab", "x", None]))


def equal_but_spelled_otherwise(r: tuple) -> tuple:
    """The same row as a target may hold it: decimals with more zeros, -0.0, a naive UTC
    timestamp, JSON with other key order and spacing, CHAR padded."""
    i, name, amount, score, at, doc, code = r
    return (i, name, None if amount is None else amount.quantize(Decimal("0.00001")),
            -0.0 if score == 0 else score, at, None if doc is None else '{"b":[2],"a":1}',
            None if code is None else code.ljust(4))


@settings(max_examples=80, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(0, 60), st.integers(1, 40))
def test_the_pk_hash_diff_equals_the_full_diff_and_fetches_only_the_drift(rng, n, mem_rows):
    source = [row(i, rng) for i in rng.sample(range(200), n)]
    target = []
    for r in source:
        pick = rng.random()
        if pick < 0.15:
            continue                                      # the target lacks it
        if pick < 0.3:
            target.append((r[0], "changed", *r[2:]))      # drifted
        else:
            target.append(equal_but_spelled_otherwise(r) if rng.random() < 0.5 else r)
    target += [row(i, rng) for i in range(300, 300 + rng.randint(0, 5))]   # the source lacks them
    target.sort(key=lambda r: r[0])
    by_key = {(r[0],): r for r in source}
    digest = row_digest(T)
    store = sort_items(project(T, source, digest), mem_rows, T.qualified)
    fetched: list = []

    def fetch(keys):
        fetched.extend(keys)
        return [by_key[k] for k in reversed(keys)]
    comparer = RowComparer(T)
    got_counts, want_counts = Counts(), Counts()
    try:
        got = list(diff_hashed(T, store.read(), target, digest, fetch, comparer, got_counts))
    finally:
        store.close()
    want = list(diff_rows(T, sorted(source), target, comparer, want_counts))
    assert got == want
    assert got_counts == want_counts
    in_sync = {(r[0],) for r in target} - {c.key for c in want}
    assert not in_sync & set(fetched), "a row in sync was fetched again"


def test_a_row_deleted_at_the_source_after_its_scan_is_deleted_from_the_target():
    digest = row_digest(T)
    rng = random.Random(1)
    src = [row(1, rng), row(2, rng)]
    tgt = [(1, "old", *src[0][2:]), src[1]]
    changes = list(diff_hashed(T, project(T, src, digest), tgt, digest, lambda keys: [], RowComparer(T)))
    assert [(c.op, c.key) for c in changes] == [("D", (1,))]


def test_at_scale_a_tiny_ceiling_spills_and_the_windows_equal_the_in_memory_diff(tmp_path):
    """120,000 rows sorted holding at most 997 (121 runs, merged in two rounds), diffed
    window by window against a target with 1% drift: the same changes and counts as the
    whole diff in memory, and only the drifted keys fetched."""
    table = Table("ks", "big", (Column("id", Kind.INT64, False), Column("v", Kind.VARCHAR, length=20)), ("id",))
    n, rng = 120_000, random.Random(21)
    keys = list(range(0, 3 * n, 3))
    rng.shuffle(keys)
    source = [(k, f"v{k}") for k in keys]               # in no order, as a token scan returns them
    target = {k: v for k, v in source}
    drifted = rng.sample(keys, n // 100)
    for k in drifted[: n // 300]:
        del target[k]
    for k in drifted[n // 300:]:
        target[k] = "drift"
    for k in range(1, 600, 3):
        target[k] = "extra"
    target_rows = sorted(target.items())
    digest = row_digest(table)
    sorter = ExternalSorter(997, table.qualified, every=10_000, directory=tmp_path)
    sorter.extend(project(table, source, digest))
    store = sorter.finish()
    assert sorter.runs == 121 and sorter.peak == 997
    by_key = dict(source)
    fetched: list = []

    def fetch(ks):
        fetched.extend(ks)
        return [(k[0], by_key[k[0]]) for k in ks]
    comparer, got, got_counts = RowComparer(table), [], Counts()
    edges = [None, *store.bounds, None]
    for lo, hi in zip(edges, edges[1:]):
        window = [r for r in target_rows if (lo is None or (r[0],) >= lo) and (hi is None or (r[0],) < hi)]
        got += diff_hashed(table, store.read(lo, True, hi), window, digest, fetch, comparer, got_counts)
    store.close()
    want_counts = Counts()
    want = list(diff_rows(table, sorted(source), target_rows, comparer, want_counts))
    assert got == want and got_counts == want_counts
    assert sorted(fetched) == sorted((k,) for k in drifted)
