"""Block checksums (diff.blocks): widths from window bounds, the comparison of block
lines, and the key ranges of dirty blocks under truncating integer division."""
from __future__ import annotations

import random

import pytest

from targetsync_core.diff.blocks import (CANONICAL, INT64_MAX, INT64_MIN, BlockDiff, blockable, block_ranges,
                                         block_widths, canonical, common_format, compare_blocks)
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind


def trunc_div(k: int, w: int) -> int:
    """SQL's integer division: toward zero."""
    q = abs(k) // w
    return q if k >= 0 else -q


def test_only_single_integer_keys_are_blockable():
    c = Column
    assert blockable(Table("s", "t", (c("id", Kind.INT64, False), c("v", Kind.TEXT)), ("id",)))
    assert blockable(Table("s", "t", (c("id", Kind.UINT32, False),), ("id",)))
    assert not blockable(Table("s", "t", (c("id", Kind.UINT64, False),), ("id",)))   # numeric on PostgreSQL
    assert not blockable(Table("s", "t", (c("k", Kind.VARCHAR, False, length=9),), ("k",)))
    assert not blockable(Table("s", "t", (c("a", Kind.INT32, False), c("b", Kind.INT32, False)), ("a", "b")))


def test_canonical_hashing_needs_every_column_renderable():
    c = Column
    ok = (c("id", Kind.INT64, False), c("v", Kind.VARCHAR, length=9), c("n", Kind.DECIMAL, precision=9, scale=2),
          c("f", Kind.FLOAT64), c("d", Kind.DATE), c("t", Kind.TIMESTAMP), c("b", Kind.BOOLEAN))
    assert canonical(Table("s", "t", ok, ("id",)))
    for odd in (Kind.FLOAT32, Kind.TIME, Kind.TIMESTAMPTZ, Kind.JSON, Kind.BLOB, Kind.UUID, Kind.CHAR):
        assert not canonical(Table("s", "t", (*ok, c("x", odd)), ("id",))), odd


def test_the_source_preference_picks_a_shared_format():
    native = "postgres-row-hash-blocks"
    assert common_format((native, CANONICAL), (native, CANONICAL)) == native
    assert common_format((native, CANONICAL), (CANONICAL,)) == CANONICAL
    assert common_format((CANONICAL,), (native, CANONICAL)) == CANONICAL
    assert common_format((native,), (CANONICAL,)) is None
    assert common_format((), (CANONICAL,)) is None


def test_widths_follow_the_key_span_of_each_window():
    # windows of 100 rows: keys 0..999 step 1, then step 10, then sparse
    bounds = [(100,), (200,), (1200,), (101200,)]
    widths = block_widths(bounds, 100, rows_per_block=10)
    assert widths == [10, 10, 100, 10_000, 10_000]   # open ends borrow their neighbour's
    assert block_widths([(5,)], 100) is None and block_widths([], 100) is None
    assert block_widths([(1,), (2,)], 100, rows_per_block=10) == [1, 1, 1]   # never below 1


def test_compare_blocks_finds_differing_blocks_and_counts_the_rest():
    src = b"3\t10\t-77\n1\t10\t5\n2\t9\t6\n"
    tgt = b"1\t10\t5\n2\t9\t7\n4\t1\t8\n"
    found = compare_blocks(src, tgt)
    assert found == BlockDiff(dirty=[2, 3, 4], clean_rows=10, dirty_rows=9 + 9 + 10 + 1)
    assert compare_blocks(b"", b"") == BlockDiff([], 0, 0)
    assert compare_blocks(src, src) == BlockDiff([], 29, 0)


def test_blocks_pay_while_most_rows_need_no_reading():
    assert BlockDiff([1], clean_rows=90, dirty_rows=20).pays
    assert not BlockDiff([1, 2], clean_rows=10, dirty_rows=180).pays
    assert BlockDiff([1], clean_rows=0, dirty_rows=0).pays


@pytest.mark.parametrize("width", [1, 2, 3, 10, 97])
def test_ranges_hold_exactly_the_keys_of_their_blocks(width):
    rng = random.Random(width)
    keys = sorted({rng.randint(-40 * width, 40 * width) for _ in range(300)} | {0, 1, -1, width, -width})
    for _ in range(30):
        blocks = sorted({trunc_div(k, width) for k in rng.sample(keys, 12)})
        ranges = block_ranges(blocks, width)
        assert all(a[1] + 1 < b[0] for a, b in zip(ranges, ranges[1:])), "ranges overlap or touch"
        inside = [k for k in keys if any(lo <= k <= hi for lo, hi in ranges)]
        assert inside == [k for k in keys if trunc_div(k, width) in blocks]


def test_ranges_stop_at_the_64_bit_limits():
    width = 10
    low, high = trunc_div(INT64_MIN, width), trunc_div(INT64_MAX, width)
    assert block_ranges([low], width) == [(INT64_MIN, low * width)]
    assert block_ranges([high], width) == [(high * width, INT64_MAX)]
    assert block_ranges([-1, 0, 1], width) == [(-19, 19)]
