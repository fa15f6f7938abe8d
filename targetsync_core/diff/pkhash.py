"""The bounded (pk, hash) diff, for sources that cannot read a table in key order.

Each source row is projected to ``(key, digest)``: a 16-byte hash of the row's values in a
form both sides agree on (:func:`row_digest`). The projection is sorted on disk
(``diff.external``) and each window of it is compared with the target's rows of the same
window, hashed alike: a key whose digests match is a row in sync, and only the keys whose
digests differ, or that the target lacks, are fetched from the source whole (``fetch``, by
primary-key lookups) and diffed as usual (:func:`diff_hashed`). Memory is bounded by the
sorter's ceiling and the window, and the rows fetched by the drift.

Equal digests must mean rows the diff deems equal, and do: before hashing, each value is
put in the form the comparison rule (``diff.compare``) treats as one: decimals by value,
floats with -0.0 as 0.0, CHAR without its padding, JSON parsed and rewritten with sorted
keys, timestamps with a zone as naive UTC, binaries as bytes. Digests may differ for rows
the diff deems equal (a target that rounded a value to its column, or stores ``''`` as
NULL): those rows are fetched and the comparison rule finds them equal. That costs a
lookup, never a wrong record.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Callable, Iterable, Iterator

from targetsync_core.codec.ckt import Change
from targetsync_core.diff.compare import RowComparer
from targetsync_core.diff.merge import Counts, _key_getter, _ordered, diff_rows
from targetsync_core.model.schema import Table
from targetsync_core.model.types import BINARY_KINDS, Kind

Digest = Callable[[tuple], bytes]
UTC = dt.timezone.utc


def _decimal(v):
    return "0" if v == 0 else str(v.normalize()) if v.is_finite() else str(v)


def _float(v):
    return 0.0 if v == 0 else v


def _char(v):
    return v.rstrip(" ")


def _json(v):
    try:
        return json.dumps(json.loads(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return v


def _instant(v):
    return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo is not None else v


def _bytes(v):
    return bytes(v)


def _normaliser(kinds: tuple[Kind, Kind]) -> Callable | None:
    if Kind.CHAR in kinds:
        return _char
    kind = kinds[0]
    if kind is Kind.DECIMAL:
        return _decimal
    if kind in (Kind.FLOAT32, Kind.FLOAT64):
        return _float
    if kind is Kind.JSON:
        return _json
    if kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        return _instant
    if kind in BINARY_KINDS:
        return _bytes
    return None


def row_digest(source: Table, target: Table | None = None) -> Digest:
    """The digest of a row of ``source`` (or of the same table as ``target`` reads it):
    equal for rows whose values the comparison rule deems equal as they stand."""
    target = target or source
    steps = [(i, f) for i, (s, t) in enumerate(zip(source.columns, target.columns))
             if (f := _normaliser((s.kind, t.kind)))]

    def digest(row: tuple) -> bytes:
        if steps:
            row = list(row)
            for i, f in steps:
                v = row[i]
                if v is not None:
                    row[i] = f(v)
        return hashlib.blake2b(repr(tuple(row)).encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return digest


def project(table: Table, rows: Iterable[tuple], digest: Digest) -> Iterator[tuple]:
    """``(key, digest)`` of each row."""
    key = _key_getter(table)
    for row in rows:
        yield key(row), digest(row)


def diff_hashed(table: Table, source: Iterable[tuple], target: Iterable[tuple], digest_target: Digest,
                fetch: Callable[[list[tuple]], Iterable[tuple]], comparer: RowComparer,
                counts: Counts | None = None, name: str | None = None) -> Iterator[Change]:
    """The changes making ``target`` (full rows, key order) equal to the source given as
    ``source``: its ``(key, digest)`` pairs of the same window, in key order. ``fetch``
    returns the source's current rows of the keys it is given (any order; a key the source
    no longer has is simply missing); it is called once, with the keys whose digests differ
    or that the target lacks. Counts as :func:`diff_rows`."""
    counts = counts if counts is not None else Counts()
    key = _key_getter(table)
    seen = Counts()
    tgt = _ordered(target, key, "target", table.qualified, seen, "target_rows")
    need: list[tuple] = []
    kept: list[tuple] = []
    same = 0
    end = (None, None)
    tk, trow = next(tgt, end)
    for sk, sdigest in source:
        while trow is not None and tk < sk:
            kept.append(trow)
            tk, trow = next(tgt, end)
        if trow is not None and tk == sk:
            if sdigest == digest_target(trow):
                same += 1
            else:
                need.append(sk)
                kept.append(trow)
            tk, trow = next(tgt, end)
        else:
            need.append(sk)
    while trow is not None:
        kept.append(trow)
        tk, trow = next(tgt, end)
    counts.source_rows += same
    counts.target_rows += same
    wanted = set(need)
    fetched = sorted((r for r in (fetch(need) if need else ()) if key(r) in wanted), key=key)
    return diff_rows(table, fetched, kept, comparer, counts, name)

