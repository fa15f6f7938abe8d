"""A composite window bound spelled out for dialects without row values (SQL Server,
Oracle) selects exactly the rows the row-value comparison selects: both forms run on
SQLite (which has row values) over random keys and bounds."""
from __future__ import annotations

import sqlite3

from hypothesis import given, settings, strategies as st

from targetsync_core.adapters.sql.server import keyset_predicate
from targetsync_core.diff.windows import Window

keys = st.integers(1, 3).flatmap(lambda n: st.tuples(
    st.lists(st.tuples(*[st.integers(-3, 3) if i % 2 == 0 else st.sampled_from(["", "a", "b", "ab"])
                         for i in range(n)]), min_size=0, max_size=25, unique=True),
    st.tuples(*[st.integers(-3, 3) if i % 2 == 0 else st.sampled_from(["", "a", "b", "ab"]) for i in range(n)]),
    st.tuples(*[st.integers(-3, 3) if i % 2 == 0 else st.sampled_from(["", "a", "b", "ab"]) for i in range(n)]),
    st.booleans()))


@settings(max_examples=150, deadline=None)
@given(keys)
def test_spelled_out_bounds_select_what_row_values_select(case):
    rows, lo, hi, inclusive = case
    n = len(lo)
    cols = [f"k{i}" for i in range(n)]
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE t ({', '.join(cols)})")
    conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * n)})", rows)
    window = Window(0, 1, lo, hi, lo_inclusive=inclusive)
    picked = []
    for row_values in (True, False):
        where, params = keyset_predicate(cols, window, "?", list, row_values)
        picked.append(sorted(conn.execute(f"SELECT * FROM t{where}", params).fetchall(), key=repr))
    assert picked[0] == picked[1]
