"""The SQL the Firebolt adapter sends to apply a change file, as small templates over
quoted names (``tests/unit/test_firebolt_statements.py`` holds every one as a golden file).

A change file reaches a table as rows of its shadow table (``__op``, ``__grp``, the
table's columns, see ``sqlapply.shadow_rows``), loaded by ``COPY FROM`` from the CSV
object staged on S3. Then, in the file's transaction:

* **delete**: ``DELETE … USING`` the shadow, for the keys of its ``D`` *and* ``I`` rows;
* **insert**: ``INSERT … SELECT`` of its ``I`` rows: with the delete before it, an upsert;
* **found**: how many ``U`` rows find their row (the rest are ``missed``): Firebolt
  reports no row count for an UPDATE;
* **update**: ``UPDATE … FROM`` the shadow, one a group of ``U`` rows (one set of columns).

No ``MERGE``: Firebolt engines gained it only in 2025, while ``DELETE … USING``,
``INSERT … SELECT`` and ``UPDATE … FROM`` run on every engine of Firebolt 2.0, and
within the file's transaction delete-then-insert is an upsert.
"""
from __future__ import annotations

from dataclasses import dataclass

TARGET, SHADOW = "ts_t", "ts_w"


def quote(name: str) -> str:
    """An identifier, always quoted (its case and any character survive)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Shadowed:
    """One table and its shadow, names unquoted: ``table`` and ``shadow`` are (schema,
    name); ``keys`` the key columns in key order, ``columns`` every column."""

    table: tuple[str, str]
    shadow: tuple[str, str]
    keys: tuple[str, ...]
    columns: tuple[str, ...]

    @property
    def target(self) -> str:
        return f"{quote(self.table[0])}.{quote(self.table[1])}"

    @property
    def shadow_ref(self) -> str:
        return f"{quote(self.shadow[0])}.{quote(self.shadow[1])}"

    def keys_match(self, left: str = TARGET, right: str = SHADOW) -> str:
        return " AND ".join(f"{left}.{quote(k)} = {right}.{quote(k)}" for k in self.keys)


def create_shadow_sql(s: Shadowed, column_defs: str) -> str:
    return f'CREATE TABLE {s.shadow_ref} ("__op" TEXT NULL, "__grp" INTEGER NULL, {column_defs})'


def drop_shadow_sql(s: Shadowed) -> str:
    return f"DROP TABLE IF EXISTS {s.shadow_ref}"


def empty_shadow_sql(s: Shadowed) -> str:
    return f"DELETE FROM {s.shadow_ref} WHERE TRUE"


def copy_sql(s: Shadowed, uri: str, credentials: str) -> str:
    """``COPY INTO`` the shadow from one staged CSV object: columns by position, no
    header, ``\\N`` for NULL and an empty quoted field an empty string, no error
    tolerated; ``credentials``: the ``CREDENTIALS = (…)`` clause, or empty."""
    mapping = ", ".join(f"{quote(c)} ${i}" for i, c in enumerate(("__op", "__grp", *s.columns), start=1))
    creds = f" CREDENTIALS = {credentials}" if credentials else ""
    return (f"COPY INTO {s.shadow_ref} ({mapping}) FROM {literal(uri)} WITH TYPE = CSV HEADER = FALSE "
            f"NULL_STRING = '\\N' EMPTY_FIELD_AS_NULL = FALSE MAX_ERRORS_PER_FILE = 0 AUTO_CREATE = FALSE{creds}")


def delete_sql(s: Shadowed) -> str:
    """The rows whose key a ``D`` or an ``I`` row holds."""
    return (f"DELETE FROM {s.target} AS {TARGET} USING {s.shadow_ref} AS {SHADOW} "
            f"WHERE {SHADOW}.\"__op\" IN ('D', 'I') AND {s.keys_match()}")


def insert_sql(s: Shadowed) -> str:
    cols = ", ".join(map(quote, s.columns))
    return f"INSERT INTO {s.target} ({cols}) SELECT {cols} FROM {s.shadow_ref} WHERE \"__op\" = 'I'"


def found_sql(s: Shadowed) -> str:
    """How many ``U`` rows find a row of the table (a file holds a key once per table)."""
    return (f"SELECT count(*) FROM {s.shadow_ref} AS {SHADOW} JOIN {s.target} AS {TARGET} ON {s.keys_match()} "
            f"WHERE {SHADOW}.\"__op\" = 'U'")


def update_sql(s: Shadowed, group: int, columns: tuple[str, ...]) -> str:
    """The ``U`` rows of ``group``, setting ``columns`` (never a key)."""
    sets = ", ".join(f"{quote(c)} = {SHADOW}.{quote(c)}" for c in columns)
    return (f"UPDATE {s.target} AS {TARGET} SET {sets} FROM {s.shadow_ref} AS {SHADOW} "
            f"WHERE {SHADOW}.\"__op\" = 'U' AND {SHADOW}.\"__grp\" = {int(group)} AND {s.keys_match()}")
