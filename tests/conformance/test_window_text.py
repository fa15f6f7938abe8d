"""Adapters that render windows as text lines (``line_format``) decode those lines to
exactly the rows ``read_window`` returns, for every kind and for nasty values."""
from __future__ import annotations

import math
import random

import pytest

from targetsync_core.adapters.sql.canonical import LINES
from targetsync_core.adapters.registry import adapter_class
from targetsync_core.diff.blocks import CANONICAL, CANONICAL_KINDS
from targetsync_core.diff.merge import split_lines
from targetsync_core.diff.windows import Window
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS, adapter_of, joint_limits
from tests.helpers import VALUE_COLUMNS, random_value

#: backend names are their type names
TEXTUAL = [k for k in BACKENDS if adapter_of(k).line_format is not None]


def test_postgres_renders_lines():
    assert "postgres" in TEXTUAL


@pytest.mark.parametrize("kind", TEXTUAL)
def test_text_lines_decode_to_the_rows_read_window_returns(tmp_path, kind):
    with BACKENDS[kind](tmp_path, "txt") as side:
        db = side.db
        t = Table(side.schema, "types", (Column("id", Kind.INT64, False), *VALUE_COLUMNS), ("id",))
        lim = side.limits
        rng = random.Random(7)
        rows = [(i, *[None if rng.random() < 0.1 else random_value(rng, c, lim.max_integer) for c in VALUE_COLUMNS])
                for i in range(300)]
        rows = [tuple(0.5 if isinstance(v, float) and v != v and not lim.nonfinite_floats else v for v in r)
                for r in rows]
        side.create([t])
        side.insert(t, rows)
        whole = Window(0, 0, None, None)
        expect = [repr(r) for r in db.read_window(t, whole)]  # repr: NaN equals NaN
        text = db.read_window_text(t, whole)
        assert [repr(r) for r in text.parse(split_lines(text.lines))] == expect
        half = Window(0, 1, (150,), None)
        part = db.read_window_text(t, half)
        assert [repr(r) for r in part.parse(split_lines(part.lines))] == expect[150:]
        db.close()


CHECKSUMMING = [k for k in BACKENDS if adapter_of(k).checksum_format is not None]


def test_postgres_checksums_windows():
    assert "postgres" in CHECKSUMMING


def twin_tables(a, b, rng, ids) -> tuple[Table, Table, list[tuple]]:
    """The same random rows of every kind on ``a`` and on ``b``, whose table holds the
    columns in reverse order; returns ``a``'s table, its twin on ``b``, and the rows."""
    t = Table(a.schema, "types", (Column("id", Kind.INT64, False), *VALUE_COLUMNS), ("id",))
    flipped = Table(b.schema, "types", (*reversed(VALUE_COLUMNS), Column("id", Kind.INT64, False)), ("id",))
    rows = [(i, *[None if rng.random() < 0.1 else random_value(rng, c, a.limits.max_integer) for c in VALUE_COLUMNS])
            for i in ids]
    a.create([t])
    b.create([flipped])
    a.insert(t, rows)
    b.insert(flipped, [tuple(reversed(r)) for r in rows])
    return t, t.renamed(b.schema), rows


@pytest.mark.parametrize("kind", CHECKSUMMING)
def test_window_checksums_match_exactly_when_rows_match(tmp_path, kind):
    """Equal rows give equal checksums whatever the physical column order; any single
    changed value (a case-only change under a case-insensitive collation too) changes it."""
    with BACKENDS[kind](tmp_path, "a") as a, BACKENDS[kind](tmp_path, "b") as b:
        rng = random.Random(11)
        lim = a.limits
        t, tb, rows = twin_tables(a, b, rng, range(200))
        whole, low = Window(0, 0, None, None), Window(0, 0, None, (100,))
        assert a.db.window_checksum(t, whole) == b.db.window_checksum(tb, whole)
        assert a.db.window_checksum(t, whole)[0] == 200
        assert a.db.window_checksum(t, low) == b.db.window_checksum(tb, low)
        assert a.db.window_checksum(t, low) != a.db.window_checksum(t, whole)
        b.execute(f'UPDATE "{b.schema}"."types" SET "c_vc" = \'Mixed\' WHERE id = 150')
        a.execute(f'UPDATE "{a.schema}"."types" SET "c_vc" = \'mixed\' WHERE id = 150')
        for side in (a, b):
            side.execute(f'CREATE COLLATION IF NOT EXISTS "{side.schema}".ci (provider = icu, '
                         f"locale = 'und-u-ks-level2', deterministic = false);"
                         f'ALTER TABLE "{side.schema}"."types" ALTER COLUMN "c_vc" TYPE varchar(60) '
                         f'COLLATE "{side.schema}".ci')
        assert a.db.window_checksum(t, low) == b.db.window_checksum(tb, low)
        assert a.db.window_checksum(t, whole) != b.db.window_checksum(tb, whole)
        for col in VALUE_COLUMNS:
            b.execute(f'UPDATE "{b.schema}"."types" SET "c_vc" = \'mixed\' WHERE id = 150')
            assert a.db.window_checksum(t, whole) == b.db.window_checksum(tb, whole)
            value = next(v for v in (random_value(rng, col, lim.max_integer) for _ in range(50))
                         if repr(v) != repr(rows[42][t.columns.index(col)]))
            update_value(b, col, value)
            assert a.db.window_checksum(t, whole) != b.db.window_checksum(tb, whole), col.name
            update_value(b, col, rows[42][t.columns.index(col)])
        a.db.close()
        b.db.close()


def update_value(side, col: Column, value) -> None:
    import psycopg
    cast = "::json" if col.kind is Kind.JSON else ""
    with psycopg.connect(side.url, autocommit=True) as conn:
        conn.execute(f'UPDATE "{side.schema}"."types" SET "{col.name}" = %s{cast} WHERE id = 42', (value,))


#: backends with a block format of their own (one that hashes every kind)
NATIVE_BLOCKING = [k for k in TEXTUAL if getattr(adapter_class(k, "type", "source"), "native_blocks", None)]


def test_postgres_sums_blocks():
    assert "postgres" in NATIVE_BLOCKING


def block_lines(db, table, window, width, fmt=None) -> set[bytes]:
    with db.window_blocks(table, window, width, fmt or db.block_formats(table)[0]) as blocks:
        return set(split_lines(blocks.sums()))


@pytest.mark.parametrize("kind", NATIVE_BLOCKING)
def test_block_sums_find_exactly_the_changed_blocks(tmp_path, kind):
    """Equal rows give equal block lines whatever the physical column order; a changed
    value, or two rows of one block swapping a value, changes that block's line alone;
    the rows read back for a set of ranges are those rows of the window, negative keys
    included."""
    with BACKENDS[kind](tmp_path, "a") as a, BACKENDS[kind](tmp_path, "b") as b:
        rng = random.Random(12)
        lim = a.limits
        t, tb, rows = twin_tables(a, b, rng, range(-60, 140))
        whole = Window(0, 0, None, None)
        assert block_lines(a.db, t, whole, 7) == block_lines(b.db, tb, whole, 7)
        assert len(block_lines(a.db, t, whole, 7)) == len({int(r[0] / 7) for r in rows})   # toward zero
        # one value changed, column by column: one line differs, the block of id 42
        for col in VALUE_COLUMNS:
            value = next(v for v in (random_value(rng, col, lim.max_integer) for _ in range(50))
                         if repr(v) != repr(rows[102][t.columns.index(col)]))
            update_value(b, col, value)
            diff = block_lines(a.db, t, whole, 7) ^ block_lines(b.db, tb, whole, 7)
            assert {line.split(b"\t")[0] for line in diff} == {b"6"}, col.name
            update_value(b, col, rows[102][t.columns.index(col)])
        # two rows of block 6 (ids 42..48) swap a value: the window sum and the block see it
        for side, (x, y) in ((a, ("left", "right")), (b, ("right", "left"))):
            side.execute(f'UPDATE "{side.schema}"."types" SET "c_vc" = CASE id WHEN 43 THEN \'{x}\' '
                         f"ELSE '{y}' END WHERE id IN (43, 44)")
        assert a.db.window_checksum(t, whole) != b.db.window_checksum(tb, whole)
        diff = block_lines(a.db, t, whole, 7) ^ block_lines(b.db, tb, whole, 7)
        assert {line.split(b"\t")[0] for line in diff} == {b"6"}
        # rows of ranges, within the window only, in key order
        part = Window(0, 1, (-20,), (45,))
        with a.db.window_blocks(t, part, 7, a.db.block_formats(t)[0]) as blocks:
            text = blocks.read_text([(-30, -14), (0, 2), (40, 60)])
        got = [r[0] for r in text.parse(split_lines(text.lines))]
        assert got == [*range(-20, -13), 0, 1, 2, *range(40, 45)]
        expect = {r[0]: repr(r) for r in a.db.read_window(t, whole)}
        assert [repr(r) for r in text.parse(split_lines(text.lines))] == [expect[k] for k in got]
        a.db.close()
        b.db.close()


CANONICAL_COLUMNS = [c for c in VALUE_COLUMNS if c.kind in CANONICAL_KINDS]
#: engine pairs hashing blocks canonically (a MariaDB server behind both MySQL-family adapters)
CANONICAL_PAIRS = [("postgres", "mariadb"), ("mysql", "postgres"), ("postgres", "postgres")]


def canonical_twins(a, b, rng, value, ids) -> tuple[Table, Table, list[tuple]]:
    """Rows of every canonical kind (``value(column)`` draws one) on ``a`` and on ``b``,
    whose table holds the columns in reverse order; returns ``a``'s table, its twin on
    ``b``, and the rows."""
    cols = CANONICAL_COLUMNS
    t = Table(a.schema, "canon", (Column("id", Kind.INT64, False), *cols), ("id",))
    flipped = Table(b.schema, "canon", (*reversed(cols), Column("id", Kind.INT64, False)), ("id",))
    rows = [(i, *[None if rng.random() < 0.1 else value(c) for c in cols]) for i in ids]
    a.create([t])
    b.create([flipped])
    a.insert(t, rows)
    b.insert(flipped, [tuple(reversed(r)) for r in rows])
    return t, t.renamed(b.schema), rows


def set_value(side, table: Table, col: Column, value, key: int) -> None:
    if side.kind == "postgres":
        import psycopg
        with psycopg.connect(side.url, autocommit=True) as conn:
            conn.execute(f'UPDATE "{side.schema}"."{table.name}" SET "{col.name}" = %s WHERE id = %s', (value, key))
    else:
        conn = side._mysql()
        with conn.cursor() as cur:
            cur.execute(f"UPDATE `{side.schema}`.`{table.name}` SET `{col.name}` = %s WHERE id = %s", (value, key))
        conn.close()


@pytest.mark.parametrize("a_kind,b_kind", CANONICAL_PAIRS, ids=[f"{a}-{b}" for a, b in CANONICAL_PAIRS])
def test_canonical_block_sums_agree_across_engines(tmp_path, a_kind, b_kind):
    """The canonical block format: equal rows of every canonical kind give equal block
    lines on two engines, whatever the physical column order; any one value changed to a
    value the diff deems different, or two rows of a block swapping a value, changes that
    block's line alone; the rows read back for a set of ranges are those of the window."""
    with BACKENDS[a_kind](tmp_path, "a") as a, BACKENDS[b_kind](tmp_path, "b") as b:
        rng = random.Random(13)
        lim = joint_limits(a.limits, b.limits)

        def value(col):
            v = random_value(rng, col, lim.max_integer)
            return 0.5 if isinstance(v, float) and not math.isfinite(v) and not lim.nonfinite_floats else v
        cols = CANONICAL_COLUMNS
        t, tb, rows = canonical_twins(a, b, rng, value, range(-60, 140))
        assert CANONICAL in a.db.block_formats(t) and CANONICAL in b.db.block_formats(tb)
        whole = Window(0, 0, None, None)

        def differing() -> set[bytes]:
            diff = block_lines(a.db, t, whole, 7, CANONICAL) ^ block_lines(b.db, tb, whole, 7, CANONICAL)
            return {line.split(b"\t")[0] for line in diff}
        assert differing() == set()
        assert len(block_lines(a.db, t, whole, 7, CANONICAL)) == len({int(r[0] / 7) for r in rows})
        for col in cols:   # row 102 is id 42, in block 6
            old = rows[102][t.columns.index(col)]
            new = next(v for v in (value(col) for _ in range(50)) if v != old and repr(v) != repr(old))
            set_value(b, tb, col, new, 42)
            assert differing() == {b"6"}, (col.name, old, new)
            set_value(b, tb, col, old, 42)
            assert differing() == set(), col.name
        # two rows of block 14 (ids 98..104) swap a value
        for side, table, (x, y) in ((a, t, ("left", "right")), (b, tb, ("right", "left"))):
            set_value(side, table, Column("c_vc", Kind.VARCHAR), x, 99)
            set_value(side, table, Column("c_vc", Kind.VARCHAR), y, 100)
        assert differing() == {b"14"}
        # rows of ranges, within the window only, in key order, as read_window gives them
        part = Window(0, 1, (-20,), (45,))
        for side, table in ((a, t), (b, tb)):
            with side.db.window_blocks(table, part, 7, CANONICAL) as blocks:
                got = blocks.read_rows([(-30, -14), (0, 2), (40, 60)])
            assert [r[0] for r in got] == [*range(-20, -13), 0, 1, 2, *range(40, 45)]
            expect = {r[0]: repr(r) for r in side.db.read_window(table, whole)}
            assert [repr(r) for r in got] == [expect[r[0]] for r in got]
        a.db.close()
        b.db.close()


#: engine pairs comparing canonical text lines (a MariaDB server behind both MySQL-family adapters)
LINE_PAIRS = [("postgres", "mariadb"), ("mysql", "postgres"), ("mariadb", "mysql")]
#: strings that look like the canonical text itself
FORMAT_LIKE = ["N", "1:N", ",", "3:a,b", ":", "0:", "a:b:c", "12", "\\N", "x\\", "\b\f\v", "\r\n", "😀,é", "a\tb\nc"]


def negative_zero(v) -> bool:
    return isinstance(v, float) and v == 0 and math.copysign(1, v) < 0


@pytest.mark.parametrize("a_kind,b_kind", LINE_PAIRS, ids=[f"{a}-{b}" for a, b in LINE_PAIRS])
def test_canonical_lines_decode_to_read_window_rows_and_agree_across_engines(tmp_path, a_kind, b_kind):
    """Canonical lines (``adapters.sql.canonical``) of rows of every canonical kind, strings
    that look like the format included: each side's lines parse to exactly the rows its
    ``read_window`` returns, and equal rows give equal lines on both engines whatever the
    physical column order (but for a negative zero, which MariaDB does not keep)."""
    with BACKENDS[a_kind](tmp_path, "a") as a, BACKENDS[b_kind](tmp_path, "b") as b:
        rng = random.Random(17)
        lim = joint_limits(a.limits, b.limits)

        def value(col):
            v = random_value(rng, col, lim.max_integer)
            if col.kind in (Kind.VARCHAR, Kind.TEXT) and rng.random() < 0.3:
                v = rng.choice(FORMAT_LIKE)
            return 0.5 if isinstance(v, float) and not math.isfinite(v) and not lim.nonfinite_floats else v
        t, tb, rows = canonical_twins(a, b, rng, value, range(-60, 340))
        assert LINES in a.db.line_formats(t) and LINES in b.db.line_formats(tb)
        whole, part = Window(0, 0, None, None), Window(0, 1, (50,), (200,))
        texts = {}
        for side, table in ((a, t), (b, tb)):
            expect = [repr(r) for r in side.db.read_window(table, whole)]
            text = side.db.read_window_text(table, whole, LINES)
            lines = split_lines(text.lines)
            got = list(text.parse(lines))       # lines come in any order: keyed by the row's id
            texts[side.kind] = {r[0]: line for r, line in zip(got, lines)}
            assert [repr(r) for r in sorted(got)] == expect, side.kind
            text = side.db.read_window_text(table, part, LINES)
            assert sorted(repr(r) for r in text.parse(split_lines(text.lines))) == sorted(expect[110:260]), side.kind
            side.db.close()
        left, right = texts[a.kind], texts[b.kind]
        assert len(left) == len(right) == len(rows)
        differing = [r[0] for r in rows if left[r[0]] != right[r[0]]]
        signed = [r[0] for r in rows if any(map(negative_zero, r))]
        assert signed and differing == (signed if "postgres" in (a_kind, b_kind) else [])


@pytest.mark.parametrize("kind", ["mariadb", "mysql"])
def test_canonical_lines_of_a_datetime_without_fraction_whatever_the_schema_file_says(tmp_path, kind):
    """A live DATETIME without a fraction prints no point: its text is taken whole, even
    when the table handed in declares 6 fractional digits (trimming zeros would eat the
    seconds' zeros, ``12:30:00`` printing ``12:30:``)."""
    with BACKENDS[kind](tmp_path, "dt") as side:
        side.execute(f"CREATE TABLE `{side.schema}`.`stamps` (id INT PRIMARY KEY, at DATETIME, day DATE)")
        side.execute(f"INSERT INTO `{side.schema}`.`stamps` VALUES (1, '2024-05-06 12:30:00', '2024-05-06'), "
                     f"(2, '2024-05-06 00:00:00', NULL), (3, NULL, '0001-01-01')")
        t = Table(side.schema, "stamps", (Column("id", Kind.INT32, False), Column("at", Kind.TIMESTAMP, precision=6),
                                          Column("day", Kind.DATE)), ("id",))
        db = side.db
        text = db.read_window_text(t, Window(0, 0, None, None), LINES)
        assert b"1,2024-05-06 12:30:00,2024-05-06" in split_lines(text.lines)
        assert sorted(text.parse(split_lines(text.lines))) == list(db.read_window(t, Window(0, 0, None, None)))
        db.close()


def test_canonical_lines_of_a_window_larger_than_the_servers_packet(tmp_path):
    """MariaDB cuts a ``GROUP_CONCAT`` at ``max_allowed_packet`` bytes, warning; the window
    is then read row by row and every row comes back. The rows are made so that newlines
    inside strings make up exactly for the rows cut off: only the warning tells."""
    with BACKENDS["mariadb"](tmp_path, "big") as side:
        conn = side._mysql()
        with conn.cursor() as cur:
            cur.execute("SELECT @@max_allowed_packet")
            (packet,), = cur.fetchall()
        conn.close()
        body = 1000
        texts, size = 0, -1
        while size + len(f"{texts + 1},{body}:") + body + 1 <= packet:   # whole texts before the cut
            texts += 1
            size += len(f"{texts},{body}:") + body + 1
        embedded = 10
        rows = texts + 1 + embedded      # lines in the cut text: texts + 1 (a part) + embedded
        side.execute(f"CREATE TABLE `{side.schema}`.`wide` (id INT PRIMARY KEY, body TEXT)")
        side.execute(f"INSERT INTO `{side.schema}`.`wide` SELECT seq, IF(seq <= {embedded}, "
                     f"CONCAT(REPEAT('a', 500), CHAR(10), REPEAT('b', {body - 501})), REPEAT(CHAR(97 + seq % 26), "
                     f"{body})) FROM seq_1_to_{rows}")
        t = Table(side.schema, "wide", (Column("id", Kind.INT32, False), Column("body", Kind.TEXT)), ("id",))
        db = side.db
        text = db.read_window_text(t, Window(0, 0, None, None), LINES)
        got = sorted(text.parse(split_lines(text.lines)))
        assert len(got) == rows and got[-1] == (rows, chr(97 + rows % 26) * body)
        assert got == list(db.read_window(t, Window(0, 0, None, None)))
        db.close()
