"""The pure windowed sort-merge diff."""
import math
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from targetsync_core.diff.compare import RowComparer
from targetsync_core.diff.merge import Counts, diff_lines, diff_rows
from targetsync_core.diff.windows import ProbePolicy, Window, boundaries, windows
from targetsync_core.errors import OrderError
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

T = Table("s", "t", (Column("a", Kind.TEXT, False), Column("b", Kind.INT32, False), Column("v", Kind.INT32),
                     Column("f", Kind.FLOAT64), Column("c", Kind.CHAR, length=5), Column("d", Kind.DECIMAL,
                     precision=10, scale=2)), ("a", "b"))

rows_st = st.dictionaries(st.tuples(st.text(max_size=3), st.integers(-3, 3)),
                          st.tuples(st.none() | st.integers(0, 3), st.sampled_from([0.0, -0.0, math.nan, 1.5]),
                                    st.sampled_from(["ab", "ab  ", None]), st.sampled_from([Decimal("1.5"), Decimal("1.50"), Decimal(2)])),
                          max_size=25)


def as_rows(d):
    return [k + v for k, v in sorted(d.items())]


def apply(target: dict, changes) -> dict:
    out = dict(target)
    for ch in changes:
        if ch.op == "I":
            out[ch.key] = ch.row[2:]
        elif ch.op == "D":
            del out[ch.key]
        else:
            row = list(ch.key + out[ch.key])
            for pos, v in ch.changed:
                row[pos] = v
            out[ch.key] = tuple(row[2:])
    return out


def window_diff(source, target, bounds):
    cmp = RowComparer(T)
    out = []
    for w in windows(0, bounds):
        def inside(r, w=w):
            k = r[:2]
            return (w.lo is None or k >= w.lo) and (w.hi is None or k < w.hi)
        out += list(diff_rows(T, filter(inside, as_rows(source)), filter(inside, as_rows(target)), cmp))
    return out


@settings(max_examples=400)
@given(rows_st, rows_st, st.integers(1, 6))
def test_windowed_diff_makes_target_equal(source, target, size):
    bounds = boundaries((r[:2] for r in as_rows(source)), size)
    changes = window_diff(source, target, bounds)
    keys = [c.key for c in changes]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    result = apply(target, changes)
    assert result.keys() == source.keys()
    cmp = RowComparer(T)
    for k in source:
        assert not cmp.changed(k + source[k], k + result[k])
    # the same as one big window: windows neither lose nor add a change
    assert [c.key for c in changes] == [c.key for c in window_diff(source, target, [])]


def test_updates_carry_only_changed_columns_and_kind_rules():
    cmp = RowComparer(T)
    src = [("a", 1, 5, math.nan, "ab", Decimal("1.5"))]
    tgt = [("a", 1, 6, math.nan, "ab   ", Decimal("1.50"))]
    (ch,) = diff_rows(T, src, tgt, cmp)
    assert ch.op == "U" and ch.changed == ((2, 5),)


def test_code_point_order_and_counts():
    keys = sorted(["a", "B", "é", "\t", "日", "😀", "a b", "a-b"])
    assert keys == sorted(keys, key=lambda s: [ord(c) for c in s])
    counts = Counts()
    src = [(k, 0, 1, 0.0, None, None) for k in keys]
    list(diff_rows(T, src, [], RowComparer(T), counts))
    assert counts.inserts == len(keys) and counts.source_rows == len(keys)


def test_out_of_order_stream_is_refused():
    rows = [("b", 0, 1, 0.0, None, None), ("a", 0, 1, 0.0, None, None)]
    with pytest.raises(OrderError, match="source table s.t returned key"):
        list(diff_rows(T, rows, [], RowComparer(T)))


def test_windows_are_open_at_both_ends_and_cover():
    bounds = boundaries([(i,) for i in range(10)], 3)
    assert bounds == [(3,), (6,), (9,)]
    ws = list(windows(2, bounds))
    assert ws[0] == Window(2, 0, None, (3,)) and ws[-1] == Window(2, 3, (9,), None)
    assert list(windows(0, [])) == [Window(0, 0, None, None)]
    assert boundaries([(i,) for i in range(5)], 1) == [(i,) for i in range(1, 5)]


def test_float_tolerance_is_opt_in():
    t = Table("s", "t", (Column("k", Kind.INT32, False), Column("f", Kind.FLOAT64)), ("k",))
    assert RowComparer(t).changed((1, 1.0), (1, 1.0 + 1e-12)) == [(1, 1.0)]
    assert RowComparer(t, float_tolerance=1e-9).changed((1, 1.0), (1, 1.0 + 1e-12)) == []


def test_random_large_merge_against_dict_model():
    rng = random.Random(3)
    src = {(str(rng.randint(0, 500)), rng.randint(0, 3)): (rng.randint(0, 2), 0.0, None, None) for _ in range(800)}
    tgt = {(str(rng.randint(0, 500)), rng.randint(0, 3)): (rng.randint(0, 2), 0.0, None, None) for _ in range(800)}
    changes = window_diff(src, tgt, boundaries((r[:2] for r in as_rows(src)), 37))
    assert apply(tgt, changes) == src


def test_folded_key_collisions_are_refused_by_name():
    from targetsync_core.diff.folding import fold, refuse_folded_keys
    from targetsync_core.errors import SchemaMismatch
    t = Table("s", "k", (Column("k", Kind.VARCHAR, False, length=9), Column("n", Kind.INT32, False)), ("k", "n"))
    assert fold("Élan ", "case,space") == "elan" and fold("a ", "space") == "a" and fold("A", "space") == "A"
    refuse_folded_keys(t, [("A", 1), ("a", 2), ("b", 1)], {"k": "case"}, "t.k")     # n keeps them apart
    refuse_folded_keys(t, [("A", 1), ("a ", 1)], {"k": "space"}, "t.k")             # case is kept
    with pytest.raises(SchemaMismatch, match=r"source keys \('A', 1\) and \('a', 1\)"):
        refuse_folded_keys(t, [("A", 1), ("B", 1), ("a", 1)], {"k": "case"}, "t.k")
    with pytest.raises(SchemaMismatch, match="'a ', 1"):
        refuse_folded_keys(t, [("a", 1), ("a ", 1)], {"k": "space"}, "t.k")


def test_timestamps_compare_at_the_lower_precision_whether_the_target_rounds_or_truncates():
    import datetime as dt
    src = Table("s", "t", (Column("k", Kind.INT32, False), Column("ts", Kind.TIMESTAMP, precision=6)), ("k",))
    tgt = Table("s", "t", (Column("k", Kind.INT32, False), Column("ts", Kind.TIMESTAMP, precision=3)), ("k",))
    cmp = RowComparer(src, tgt)
    a = dt.datetime(2020, 1, 1, 0, 0, 0, 123500)
    assert cmp.changed((1, a), (1, a.replace(microsecond=123000))) == []     # MariaDB truncates
    assert cmp.changed((1, a), (1, a.replace(microsecond=124000))) == []     # PostgreSQL rounds
    assert cmp.changed((1, a), (1, a.replace(microsecond=125000))) == [(1, a)]
    top = dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
    assert cmp.changed((1, top), (1, top.replace(microsecond=999000))) == []   # no overflow at the end
    t0 = Table("s", "t", (Column("k", Kind.INT32, False), Column("t", Kind.TIME, precision=0)), ("k",))
    assert RowComparer(src.__class__("s", "t", (t0.columns[0], Column("t", Kind.TIME, precision=6)), ("k",)),
                       t0).changed((1, dt.time(1, 2, 3, 600000)), (1, dt.time(1, 2, 4))) == []


@settings(max_examples=300)
@given(rows_st, rows_st, st.randoms(use_true_random=False))
def test_line_diff_equals_row_diff(source, target, rng):
    """Comparing rendered lines first changes nothing, whatever the lines' order: same
    changes in key order, same counts, and only the lines one side lacks are decoded."""
    def render(rows):
        lines = [repr(r).encode() + b"\n" for r in rows]
        rng.shuffle(lines)
        return b"".join(lines)
    decoded = []

    def parse(lines):
        for line in lines:
            decoded.append(line)
            yield eval(line.decode(), {"nan": math.nan, "Decimal": Decimal})  # noqa: S307 - our own repr
    src, tgt = as_rows(source), as_rows(target)
    expect_counts, got_counts = Counts(), Counts()
    expect = list(diff_rows(T, src, tgt, RowComparer(T), expect_counts))
    got = list(diff_lines(T, render(src), render(tgt), parse, parse, RowComparer(T), got_counts))
    assert [(c.op, c.key, c.row, c.changed) for c in got] == [(c.op, c.key, c.row, c.changed) for c in expect]
    assert got_counts == expect_counts
    assert len(decoded) == len(set(render(src).split(b"\n")) ^ set(render(tgt).split(b"\n")))


def test_identical_windows_decode_nothing():
    rows = as_rows({("a", 1): (1, 1.5, "ab", Decimal(2)), ("b", 2): (None, 0.0, None, Decimal("1.5"))})
    blob = b"".join(repr(r).encode() + b"\n" for r in rows)
    counts = Counts()
    assert list(diff_lines(T, blob, blob, None, None, RowComparer(T), counts)) == []
    assert (counts.source_rows, counts.target_rows, counts.changes) == (2, 2, 0)
    assert list(diff_lines(T, b"", b"", None, None, RowComparer(T), counts)) == [] and counts.source_rows == 2


def test_probe_policy_backs_off_on_mismatch_and_resumes_on_match():
    p = ProbePolicy(max_gap=8)
    pattern = []
    for _ in range(40):  # drift everywhere: probes at growing gaps, capped
        probe = p.should_probe()
        pattern.append(probe)
        if probe:
            p.record(False)
    assert [i for i, x in enumerate(pattern) if x] == [0, 2, 5, 10, 19, 28, 37]
    p = ProbePolicy(max_gap=8)
    for _ in range(5):
        assert p.should_probe()
        p.record(True)  # unchanged windows: every one is probed
    p.record(False)
    assert not p.should_probe() and p.should_probe()
    p.record(True)
    assert p.should_probe()


# ---- values compare as the target holds them (issue 18) --------------------------------

def _pair(kind_s: Kind, kind_t: Kind, **t):
    src = Table("s", "t", (Column("k", Kind.INT32, False), Column("v", kind_s)), ("k",))
    tgt = Table("s", "t", (Column("k", Kind.INT32, False), Column("v", kind_t, **t)), ("k",))
    return src, tgt


def _same(kind_s, kind_t, s, t, fits=True, **params) -> bool:
    src, tgt = _pair(kind_s, kind_t, **params)
    return RowComparer(src, tgt, fits=fits).changed((1, s), (1, t)) == []


def test_a_narrower_target_holds_the_source_value_fitted_so_it_does_not_churn():
    import datetime as dt
    from decimal import Decimal
    from targetsync_core.diff.compare import as_float32
    assert _same(Kind.FLOAT64, Kind.FLOAT32, 0.1, as_float32(0.1))            # double into real
    assert not _same(Kind.FLOAT64, Kind.FLOAT32, 0.1, as_float32(0.1000001))
    assert _same(Kind.DECIMAL, Kind.DECIMAL, Decimal("12.3456789012"), Decimal("12.346"), precision=6, scale=3)
    assert _same(Kind.DECIMAL, Kind.DECIMAL, Decimal("12.3456789012"), Decimal("12.345"), precision=6, scale=3)
    assert not _same(Kind.DECIMAL, Kind.DECIMAL, Decimal("12.3456789012"), Decimal("12.344"), precision=6, scale=3)
    assert _same(Kind.DECIMAL, Kind.DECIMAL, Decimal("-12.5"), Decimal("-13"), precision=10, scale=0)
    a = dt.datetime(2020, 1, 1, 15, 10, 3, 500000, tzinfo=dt.timezone.utc)
    assert _same(Kind.TIMESTAMPTZ, Kind.TIMESTAMP, a, dt.datetime(2020, 1, 1, 15, 10, 4), precision=0)
    assert _same(Kind.TIMESTAMPTZ, Kind.TIMESTAMP, a, dt.datetime(2020, 1, 1, 15, 10, 3), precision=0)
    assert not _same(Kind.TIMESTAMPTZ, Kind.TIMESTAMP, a, dt.datetime(2020, 1, 1, 15, 10, 2), precision=0)


def test_a_wider_target_keeps_no_digit_the_source_lacks():
    import datetime as dt
    from decimal import Decimal
    s = dt.datetime(2020, 1, 1, 15, 10, 3)
    assert not _same(Kind.TIMESTAMP, Kind.TIMESTAMP, s, s.replace(microsecond=3030), precision=6)
    assert not _same(Kind.TIMESTAMP, Kind.TIMESTAMP, s.replace(microsecond=3000), s.replace(microsecond=3030),
                     precision=6)
    assert not _same(Kind.DECIMAL, Kind.DECIMAL, Decimal("1.23"), Decimal("1.2345"), precision=10, scale=4)
    assert _same(Kind.DECIMAL, Kind.DECIMAL, Decimal("1.23"), Decimal("1.2300"), precision=10, scale=4)
    assert not _same(Kind.FLOAT32, Kind.FLOAT64, 0.5, 0.5000001)


def test_time_zones_padding_and_a_target_that_keeps_what_it_is_given():
    import datetime as dt
    naive = dt.datetime(2024, 2, 29, 12, 0, 0, 123456)
    aware = naive.replace(tzinfo=dt.timezone.utc)
    assert _same(Kind.TIMESTAMP, Kind.TIMESTAMPTZ, naive, aware, precision=6)    # naive is UTC
    assert _same(Kind.TIMESTAMPTZ, Kind.TIMESTAMP, aware, naive, precision=6)
    assert not _same(Kind.TIMESTAMP, Kind.TIMESTAMPTZ, naive, aware + dt.timedelta(hours=1), precision=6)
    assert _same(Kind.VARBINARY, Kind.BINARY, b"ab", b"ab\0\0", length=4)      # BINARY(n) pads
    assert not _same(Kind.VARBINARY, Kind.VARBINARY, b"ab", b"ab\0\0", length=4)
    assert _same(Kind.VARCHAR, Kind.CHAR, "ab", "ab   ", length=5)
    # SQLite keeps what it is given: no fitting, compared as the source's kind
    assert not _same(Kind.TIMESTAMP, Kind.TIMESTAMP, naive, naive.replace(microsecond=0), fits=False, precision=0)
