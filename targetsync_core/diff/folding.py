"""Keys a folding target would merge (SPEC 6).

A target whose key collation ignores case (and accents) or trailing spaces would store
two distinct source keys as one: ``a`` and ``A``, or ``a`` and ``a ``. Such a sync is
refused before any work, naming the keys; so is a key holding an empty string where the
target stores one as NULL (``empty``: Oracle). The fold approximates those collations from
the safe side: it may call two keys equal that the database keeps apart (a refusal with
names), never the reverse.
"""
from __future__ import annotations

import hashlib
import unicodedata
from typing import Iterable, Iterator

from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.schema import Table


def fold(text: str, how: str) -> str:
    if "space" in how:
        text = text.rstrip(" ")
    if "case" in how:
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch))
    return text


def refuse_folded_keys(table: Table, keys: Iterable[tuple], folding: dict[str, str], target: str) -> None:
    """Raise SchemaMismatch if two of ``keys`` fold to the same key under ``folding``
    (key column name → how). Memory: 8 bytes of digest and one key per distinct key."""
    hows = [folding.get(c.name) for c in table.key_columns]
    if not any(hows):
        return
    if any(h and "empty" in h for h in hows):
        keys = _no_empty(table, keys, hows, target)

    def folded(key: tuple) -> tuple:
        return tuple(fold(v, h) if h and isinstance(v, str) else v for v, h in zip(key, hows))

    seen: dict[bytes, tuple] = {}
    for key in keys:
        f = folded(key)
        digest = hashlib.blake2b(repr(f).encode(), digest_size=8).digest()
        prev = seen.setdefault(digest, key)
        if prev != key and folded(prev) == f:
            cols = ", ".join(f"{c.name} ({h})" for c, h in zip(table.key_columns, hows) if h)
            raise SchemaMismatch(
                f"target table {target} folds key column(s) {cols}: source keys {_show(prev)} and {_show(key)} "
                f"of {table.qualified} would become one row; give the target key a binary collation "
                "(e.g. utf8mb4_nopad_bin) or make the keys distinct")


def _no_empty(table: Table, keys: Iterable[tuple], hows: list, target: str) -> Iterator[tuple]:
    """``keys``, refusing one with an empty string where the target stores it as NULL."""
    for key in keys:
        for c, v, h in zip(table.key_columns, key, hows):
            if h and "empty" in h and v == "":
                raise SchemaMismatch(
                    f"target table {target} stores an empty string as NULL, which key column {c.name} cannot "
                    f"hold: source key {_show(key)} of {table.qualified} cannot be synced there; give the source "
                    "row another key value")
        yield key


def _show(key: tuple) -> str:
    return repr(key[0]) if len(key) == 1 else repr(key)
