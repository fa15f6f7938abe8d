"""Block checksums: a window compared in small key blocks before any row is read.

When drift is sparse but everywhere (1% of rows, scattered), every window differs, so a
window checksum proves nothing and the whole window is read. Cutting the window into
blocks of about ``ROWS_PER_BLOCK`` rows and asking each database for every block's row
count and hash finds the few blocks that differ; only their rows are read and diffed.

Blocks exist for single-column integer keys: block ``b`` holds the keys ``k`` with
``k / width == b`` (integer division truncating toward zero, as SQL's ``/`` does on
integers), so both databases compute the same blocks from the key alone, with no
arithmetic that could overflow. ``width`` comes from the source's window bounds: the key
span of ``window_size`` rows, cut to about ``ROWS_PER_BLOCK`` rows a block.

A database renders a window's blocks as ``block\\tcount\\thash`` lines; equal lines on
both sides are equal blocks (up to a 64-bit hash collision), so the comparison is one set
operation over bytes. Two databases compare blocks when they share a *block format*, a
way of hashing rows: an engine's own (PostgreSQL's typed hashes) or the canonical one
below, which different engines compute alike.

The canonical block format (:data:`CANONICAL`) hashes a row as the first 64 bits of the
md5 of its canonical text: the columns in ``.skt`` order, each rendered as below, joined
by ``,``, NULL as ``N``:

* integers and booleans (0/1) in decimal;
* decimals in decimal with every digit of the column's scale (``1.50`` in a
  ``numeric(12,2)``), as both engines print them: a column of another scale on the other
  side, or an unconstrained ``numeric``, prints otherwise and only reads as differing;
* doubles as the shortest text that reads back exactly (``0.30000000000000004``), an
  exponent without ``+`` (``1e20``), zero without a sign;
* dates ``YYYY-MM-DD``; timestamps ``YYYY-MM-DD HH:MM:SS`` with ``.ffffff`` trimmed of
  trailing zeros (dropped when zero);
* strings as ``<length in characters>:<characters>`` (UTF-8), so no separator inside a
  string can shift the fields.

A block's hash is the XOR of its rows' hashes, written in lowercase hexadecimal as an
unsigned number without leading zeros.

The canonical text itself, unhashed, is also a line format (``adapters.sql.canonical``): where
both sides can render it, the emitter compares windows as lines of it instead of blocks.

Each engine's rendering must be one-to-one on values (two different values never render
alike); that is what makes equal hashes mean equal rows. Where two engines print a value
differently (PostgreSQL writes ``1e+20`` and MariaDB ``1e20``) the block merely differs
and its rows are read and compared: slower, never wrong. Tables with a column of another
kind (times, binaries, JSON, UUIDs, time-zoned timestamps, single floats, padded chars)
are not hashed canonically.
"""
from __future__ import annotations

from dataclasses import dataclass

from targetsync_core.model.schema import Table
from targetsync_core.model.types import Kind

ROWS_PER_BLOCK = 10
#: key kinds whose values every database holds as exact integers
INTEGER_KINDS = frozenset({Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32})
#: blocks pay while the rows they leave to read are at most this share of the window
PAYING_SHARE = 0.5
#: the block format different engines share (see the module docstring)
CANONICAL = "canonical-md5-blocks"
#: the column kinds the canonical format renders
CANONICAL_KINDS = INTEGER_KINDS | {Kind.UINT64, Kind.BOOLEAN, Kind.DECIMAL, Kind.FLOAT64, Kind.VARCHAR, Kind.TEXT,
                                   Kind.DATE, Kind.TIMESTAMP}
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


def blockable(table: Table) -> bool:
    """Whether ``table``'s key can be cut into blocks: one integer column."""
    keys = table.key_columns
    return len(keys) == 1 and keys[0].kind in INTEGER_KINDS


def canonical(table: Table) -> bool:
    """Whether every column of ``table`` has a canonical rendering (:data:`CANONICAL`)."""
    return all(c.kind in CANONICAL_KINDS for c in table.columns)


def common_format(source: tuple[str, ...], target: tuple[str, ...]) -> str | None:
    """The first of the source's block formats that the target has too."""
    return next((f for f in source if f in target), None)


def block_widths(bounds: list[tuple], window_size: int, rows_per_block: int = ROWS_PER_BLOCK) -> list[int] | None:
    """The block width of each window that ``bounds`` cut (``len(bounds) + 1`` of them),
    or None when fewer than two bounds leave no window with a known key span. An open
    first or last window borrows its neighbour's width."""
    if len(bounds) < 2:
        return None
    inner = [max(1, (hi[0] - lo[0]) * rows_per_block // window_size) for lo, hi in zip(bounds, bounds[1:])]
    return [inner[0], *inner, inner[-1]]


@dataclass(frozen=True)
class BlockDiff:
    """What comparing two windows' block lines found."""

    dirty: list[int]        # blocks whose count or hash differ, ascending
    clean_rows: int         # rows in blocks both sides hold alike (on each side)
    dirty_rows: int         # rows in the dirty blocks, both sides together

    @property
    def pays(self) -> bool:
        """Whether the blocks saved reading most of the window."""
        return self.dirty_rows <= PAYING_SHARE * (2 * self.clean_rows + self.dirty_rows)


def _fields(line: bytes) -> tuple[int, int]:
    block, count, _ = line.split(b"\t")
    return int(block), int(count)


def compare_blocks(source: bytes, target: bytes) -> BlockDiff:
    """Compare two windows' ``block\\tcount\\thash`` lines (in any order)."""
    src, tgt = set(source.splitlines()), set(target.splitlines())
    clean = sum(_fields(line)[1] for line in src & tgt)
    dirty: set[int] = set()
    dirty_rows = 0
    for line in src ^ tgt:
        block, count = _fields(line)
        dirty.add(block)
        dirty_rows += count
    return BlockDiff(sorted(dirty), clean, dirty_rows)


def block_ranges(blocks: list[int], width: int) -> list[tuple[int, int]]:
    """The inclusive key ranges ``(lo, hi)`` that ascending ``blocks`` cover, adjacent
    blocks merged. Truncating division puts ``1 - width .. width - 1`` in block 0, so
    block ``b`` holds ``b*width .. b*width + width - 1`` above zero and the mirror below;
    ranges stop at the 64-bit integer limits, the widest key there is."""
    out: list[tuple[int, int]] = []
    for b in blocks:
        lo = max(INT64_MIN, b * width - (width - 1 if b <= 0 else 0))
        hi = min(INT64_MAX, b * width + (width - 1 if b >= 0 else 0))
        if out and out[-1][1] + 1 >= lo:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
