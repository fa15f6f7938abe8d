"""Change records and the ``N.ckt`` line format (SPEC 3.2).

A record is ``OP<TAB>schema.table<TAB>field<TAB>…<TAB><NL>``:

* ``I``: every column value in ``.skt`` order;
* ``U``: the key values, then ``offset<TAB>value`` pairs for the changed columns, offsets
  ascending (0-based positions in ``.skt`` order, never a key column);
* ``D``: the key values.

:class:`TableCodec` holds the per-column encoders/decoders of one table so encoding a
record costs one function call per value.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from operator import call
from typing import Iterable, Iterator

from targetsync_core.codec.values import NULL, decoder, encoder, fast_form
from targetsync_core.errors import CktFormatError, DataError
from targetsync_core.model.schema import Table

INSERT, UPDATE, DELETE = "I", "U", "D"
_OPS = frozenset((INSERT, UPDATE, DELETE))


@dataclass(frozen=True)
class Change:
    """One difference. ``values`` holds the full row for I, the key for D, and for U the
    key followed by nothing: the changed columns are in ``changed`` as (offset, value)."""

    op: str
    table: str
    key: tuple
    row: tuple | None = None
    changed: tuple[tuple[int, object], ...] = ()


class TableCodec:
    """Encodes and decodes the records of one table under its target-side name."""

    def __init__(self, table: Table, name: str | None = None):
        self.table = table
        self.name = name or table.qualified
        if "\t" in self.name or "\n" in self.name:
            raise CktFormatError(f"table name {self.name!r} holds a TAB or newline and cannot be written")
        self.encoders = [encoder(c) for c in table.columns]
        self.decoders = [decoder(c) for c in table.columns]
        self.keypos = table.key_positions
        self._key_set = frozenset(self.keypos)
        self._fast: list[FastDecoder | None] = [None, None]   # without and with NULLs
        self.render: tuple | None = None

    def stage(self, render: tuple | None) -> None:
        """Have the fast reader give the target's staging text of each record it matches
        instead of Python values (see :class:`StagingDecoder`); ``render`` holds one
        function per column, from a fast-form field text to the target's text (None: the
        same text). None turns staging off."""
        self.render = render
        self._fast = [None, None]

    # -- encoding --
    def _enc(self, pos: int, value) -> str:
        return NULL if value is None else self.encoders[pos](value)

    def encode_insert(self, row: tuple) -> str:
        enc = self.encoders
        fields = [NULL if v is None else enc[i](v) for i, v in enumerate(row)]
        return f"I\t{self.name}\t" + "\t".join(fields) + "\t\n"

    def encode_delete(self, key: tuple) -> str:
        fields = [self._enc(p, v) for p, v in zip(self.keypos, key)]
        return f"D\t{self.name}\t" + "\t".join(fields) + "\t\n"

    def encode_update(self, key: tuple, changed: Iterable[tuple[int, object]]) -> str:
        fields = [self._enc(p, v) for p, v in zip(self.keypos, key)]
        for pos, value in changed:
            fields.append(str(pos))
            fields.append(self._enc(pos, value))
        return f"U\t{self.name}\t" + "\t".join(fields) + "\t\n"

    def encode(self, change: Change) -> str:
        """The record's line; a value its column's encoder refuses (a decimal with more
        digits than the column's scale, say) raises DataError naming table, key and column."""
        try:
            if change.op == INSERT:
                return self.encode_insert(change.row)
            if change.op == DELETE:
                return self.encode_delete(change.key)
            return self.encode_update(change.key, change.changed)
        except ValueError:
            self._refuse(change)
            raise

    def _refuse(self, change: Change) -> None:
        values = (enumerate(change.row) if change.op == INSERT else
                  zip(self.keypos, change.key) if change.op == DELETE else
                  [*zip(self.keypos, change.key), *change.changed])
        for pos, value in values:
            try:
                self._enc(pos, value)
            except ValueError as exc:
                raise DataError(f"table {self.table.qualified} key {change.key!r}: column "
                                f"{self.table.columns[pos].name}: {exc}") from None

    def encode_key(self, key: tuple) -> list[str]:
        """The key's field texts, as in a D record."""
        return [self._enc(p, v) for p, v in zip(self.keypos, key)]

    def decode_key(self, fields: list[str], where: str) -> tuple:
        return tuple(self._dec(p, f, (where, 0), i + 1) for i, (p, f) in enumerate(zip(self.keypos, fields)))

    # -- decoding --
    def _dec(self, pos: int, text: str, where: tuple[str, int], field: int):
        if text == NULL:
            if pos in self._key_set or not self.table.columns[pos].nullable:
                raise CktFormatError(f"NULL in NOT NULL column {self.table.columns[pos].name}",
                                     where[0], where[1], field)
            return None
        try:
            return self.decoders[pos](text)
        except ValueError as exc:
            raise CktFormatError(f"column {self.table.columns[pos].name}: {exc}",
                                 where[0], where[1], field) from None

    def decode_fields(self, op: str, fields: list[str], where: tuple[str, int]) -> Change:
        """Decode the fields after ``OP`` and table; field numbers in errors are 1-based."""
        nkey, ncol = len(self.keypos), len(self.table.columns)
        if op == INSERT:
            if len(fields) != ncol:
                raise CktFormatError(f"I record has {len(fields)} values, table {self.name} has {ncol} columns", *where)
            row = tuple(self._dec(i, f, where, i + 3) for i, f in enumerate(fields))
            return Change(INSERT, self.name, tuple(row[p] for p in self.keypos), row=row)
        if len(fields) < nkey:
            raise CktFormatError(f"{op} record has {len(fields)} fields, key of {self.name} needs {nkey}", *where)
        key = tuple(self._dec(p, f, where, i + 3) for i, (p, f) in enumerate(zip(self.keypos, fields)))
        if op == DELETE:
            if len(fields) != nkey:
                raise CktFormatError(f"D record has {len(fields)} fields, key of {self.name} has {nkey}", *where)
            return Change(DELETE, self.name, key)
        return Change(UPDATE, self.name, key, changed=self._decode_pairs(fields[nkey:], nkey, where))

    def fast(self, with_nulls: bool) -> "FastDecoder":
        """The fast decoder of this table for records without / with a NULL field."""
        fd = self._fast[with_nulls]
        if fd is None:
            fd = self._fast[with_nulls] = (FastDecoder(self, with_nulls) if self.render is None
                                           else StagingDecoder(self, with_nulls, self.render))
        return fd

    def _decode_pairs(self, rest: list[str], nkey: int, where) -> tuple:
        if not rest or len(rest) % 2:
            raise CktFormatError("U record needs one or more offset/value pairs", *where)
        pairs, last = [], -1
        for i in range(0, len(rest), 2):
            field = nkey + i + 3
            text = rest[i]
            if not text.isdigit() or not text.isascii() or (len(text) > 1 and text[0] == "0"):
                raise CktFormatError(f"offset {text[:20]!r} is not a column position", *where, field)
            pos = int(text)
            if pos >= len(self.table.columns) or pos <= last or pos in self._key_set:
                raise CktFormatError(f"offset {pos} is out of range, not ascending, or a key column", *where, field)
            pairs.append((pos, self._dec(pos, rest[i + 1], where, field + 1)))
            last = pos
        return tuple(pairs)


_MISSING = object()


class FastDecoder:
    """Decodes the common records of one table at a fraction of the strict cost.

    A record is checked whole against one compiled pattern (per operation; per set of
    changed columns for U records) built from the columns' fast forms
    (``values.fast_form``), then its fields are converted by C functions. A record the
    pattern does not match, or whose conversion raises ValueError, is left to the strict
    decoder (``TableCodec.decode_fields``), which accepts it or refuses it naming the file,
    line and field: the fast path never accepts what the strict one refuses, nor decodes
    a value differently (``tests/unit/test_fast_decode.py`` checks both).
    """

    def __init__(self, codec: TableCodec, with_nulls: bool):
        cols = codec.table.columns
        forms = [fast_form(c, with_nulls and i not in codec._key_set) for i, c in enumerate(cols)]
        self.forms, self.keypos = forms, codec.keypos
        self._ncol = len(cols)
        self._key_set = codec._key_set
        self._keys = "\t".join(f"(?:{forms[p][0]})" for p in self.keypos)
        self._key_convs = tuple(forms[p][1] for p in self.keypos)
        self.insert = re.compile("\t".join(f"(?:{p})" for p, _ in forms)).fullmatch
        self.insert_convs = tuple(c for _, c in forms)
        self.delete = re.compile(self._keys).fullmatch
        self._updates: dict[tuple[str, ...], tuple | None] = {}

    def update_plan(self, offsets: tuple[str, ...]):
        """(match, key converters, offsets, value converters) for U records setting the
        columns at ``offsets`` (their texts), or None when the texts are not ascending
        canonical positions of non-key columns (the strict decoder words why)."""
        plan = self._updates.get(offsets, _MISSING)
        if plan is _MISSING:
            plan = self._update_plan(offsets)
            if len(self._updates) < 1024:
                self._updates[offsets] = plan
        return plan

    def _update_plan(self, texts: tuple[str, ...]):
        positions, last = [], -1
        for text in texts:
            if not (text.isascii() and text.isdigit()) or (len(text) > 1 and text[0] == "0"):
                return None
            pos = int(text)
            if pos >= self._ncol or pos <= last or pos in self._key_set:
                return None
            positions.append(pos)
            last = pos
        if not positions:
            return None
        pattern = self._keys + "".join(f"\t{p}\t(?:{self.forms[p][0]})" for p in positions)
        return (re.compile(pattern).fullmatch, self._key_convs, tuple(positions),
                tuple(self.forms[p][1] for p in positions))

    def decode(self, op: str, fields: list[str], line: str, start: int, end: int):
        """``(key, row, None)`` for I, ``(key, None, None)`` for D and ``(key, (offsets,
        values), None)`` for U, from the ``fields`` of ``line[start:end]``; None to leave
        it to the strict decoder."""
        try:
            if op == INSERT:
                if self.insert(line, start, end) is None:
                    return None
                row = tuple(map(call, self.insert_convs, fields))
                return tuple([row[p] for p in self.keypos]), row, None
            nkey = len(self.keypos)
            if op == DELETE:
                if self.delete(line, start, end) is None:
                    return None
                return tuple(map(call, self._key_convs, fields)), None, None
            plan = self.update_plan(tuple(fields[nkey::2]))
            if plan is None or plan[0](line, start, end) is None:
                return None
            key = tuple(map(call, plan[1], fields[:nkey]))
            return key, (plan[2], tuple(map(call, plan[3], fields[nkey + 1::2]))), None
        except ValueError:    # e.g. 2021-02-30: the strict decoder words the refusal
            return None


class StagingDecoder(FastDecoder):
    """A :class:`FastDecoder` for a target that stages rows as text (``TableCodec.stage``).

    For a record it matches it returns the record's *staging body*: every column in
    ``.skt`` order, TAB-separated, ending in a newline, with ``\\N`` for the columns a U
    or D record does not set, each field written from its ``.ckt`` text by the target's
    renderer. No Python value is built but the key's (the loader checks keys ascend).
    A renderer raises ValueError where the fast converter would, so such a record goes to
    the strict decoder as it would without staging.
    """

    def __init__(self, codec: TableCodec, with_nulls: bool, render: tuple):
        super().__init__(codec, with_nulls)
        cols = codec.table.columns
        rs = list(render)
        if with_nulls:   # a nullable column's field may be \\N, the same text in the target's form
            rs = [r if r is None or i in self._key_set or not cols[i].nullable else partial(_nullable_text, r)
                  for i, r in enumerate(rs)]
        self._render = rs
        keyed = list(enumerate(self.keypos))   # (field index, column position) of D and U records
        self._insert_body = self._compile([(p, p) for p in range(self._ncol)], [(p, p) for p in self.keypos])
        self._delete_body = self._compile(keyed, keyed)

    def _compile(self, slots: list[tuple[int, int]], keys: list[tuple[int, int]]):
        """A function from a record's fields to ``(key, body)``, for records setting the
        columns of ``slots``, pairs (field index, column position), whose key fields are
        those of ``keys``; the other columns are ``\\N``. It is generated as Python source
        (as ``dataclasses`` does) from field indexes and the renderers' and converters'
        names only: one expression, no loop per field."""
        cells = [NULL] * self._ncol
        args, ns = [], {}
        for fi, pos in sorted(slots, key=lambda s: s[1]):
            cells[pos] = "%s"
            if self._render[pos] is None:
                args.append(f"f[{fi}]")
            else:
                ns[f"r{pos}"] = self._render[pos]
                args.append(f"r{pos}(f[{fi}])")
        key = []
        for j, (fi, pos) in enumerate(keys):
            ns[f"k{j}"] = self._key_convs[j]
            key.append(f"k{j}(f[{fi}])")
        ns["T"] = "\t".join(cells) + "\n"
        return eval(f"lambda f: (({', '.join(key)},), T % ({', '.join(args)},))", ns)   # noqa: S307

    def _update_plan(self, texts: tuple[str, ...]):
        plan = super()._update_plan(texts)
        if plan is None:
            return None
        nkey = len(self.keypos)
        keyed = list(enumerate(self.keypos))
        body = self._compile(keyed + [(nkey + 2 * i + 1, p) for i, p in enumerate(plan[2])], keyed)
        return plan[0], plan[2], body

    def decode(self, op: str, fields: list[str], line: str, start: int, end: int):
        """``(key, None, body)`` for I and D, ``(key, offsets, body)`` for U; None to
        leave the record to the strict decoder."""
        try:
            if op == INSERT:
                if self.insert(line, start, end) is None:
                    return None
                key, body = self._insert_body(fields)
                return key, None, body
            if op == DELETE:
                if self.delete(line, start, end) is None:
                    return None
                key, body = self._delete_body(fields)
                return key, None, body
            plan = self.update_plan(tuple(fields[len(self.keypos)::2]))
            if plan is None or plan[0](line, start, end) is None:
                return None
            key, body = plan[2](fields)
            return key, plan[1], body
        except ValueError:
            return None


def _nullable_text(render, s: str) -> str:
    return s if s == NULL else render(s)


def split_line(line: str, where: tuple[str, int]) -> tuple[str, str, list[str]]:
    """Split one record line into (op, table, fields) or refuse it."""
    if not line.endswith("\t\n"):
        raise CktFormatError("record does not end with TAB and newline", *where)
    parts = line[:-2].split("\t")
    if len(parts) < 3:
        raise CktFormatError("record has fewer than three fields", *where)
    op = parts[0]
    if op not in (INSERT, UPDATE, DELETE):
        raise CktFormatError(f"unknown operation {op[:10]!r}", *where, 1)
    return op, parts[1], parts[2:]


def read_records(path: str, codecs: dict[str, TableCodec]) -> Iterator[tuple[int, Change]]:
    """Yield (line number, change) for every record of a ``.ckt`` file, strictly decoded."""
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            yield lineno, _decode_strictly(_text(raw, path, lineno), codecs, (str(path), lineno))


def _text(raw: bytes, path: str, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CktFormatError("line is not UTF-8", str(path), lineno) from None


def _decode_strictly(line: str, codecs: dict[str, TableCodec], where: tuple[str, int]) -> Change:
    op, name, fields = split_line(line, where)
    codec = codecs.get(name)
    if codec is None:
        raise CktFormatError(f"table {name[:80]!r} is not in the schema file", *where, 2)
    return codec.decode_fields(op, fields, where)


def read_changes(path: str, codecs: dict[str, TableCodec]) -> Iterator[tuple[int, str, str, tuple, object, str | None]]:
    """Yield ``(line number, op, table, key, payload, body)`` for every record of a
    ``.ckt`` file: what :func:`read_records` decodes, through each table's
    :class:`FastDecoder` where it can (the loader's hot path). With ``body`` None, payload
    is the row for I, None for D and ``(offsets, values)`` for U. A table that stages
    (``TableCodec.stage``) gives the staging ``body`` of the records its fast reader
    matches instead, with payload None for I and D and the offsets for U."""
    tables: dict[str, tuple] = {}   # table field → (name, decode without NULLs, decode with NULLs)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CktFormatError("line is not UTF-8", str(path), lineno) from None
            if line.endswith("\t\n"):
                parts = line[:-2].split("\t")
                if len(parts) >= 3:
                    op, name = parts[0], parts[1]
                    fast = tables.get(name)
                    if fast is None:
                        codec = codecs.get(name)
                        if codec is not None:
                            fast = tables[name] = (codec.name, codec.fast(False).decode, codec.fast(True).decode)
                    if fast is not None and op in _OPS:
                        got = fast[2 if "\\" in line else 1](op, parts[2:], line, len(op) + len(name) + 2,
                                                              len(line) - 2)
                        if got is not None:
                            yield (lineno, op, fast[0]) + got
                            continue
            ch = _decode_strictly(line, codecs, (str(path), lineno))
            op = ch.op
            payload = (ch.row if op == INSERT else None if op == DELETE
                       else (tuple(p for p, _ in ch.changed), tuple(v for _, v in ch.changed)))
            yield lineno, op, ch.table, ch.key, payload, None
