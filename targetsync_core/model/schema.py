"""Schema model: frozen dataclasses for columns and tables, and the rules over them."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.types import FAMILY, KEY_KINDS, Kind


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = True
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    native: str = ""


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    _positions: dict = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "_positions", {c.name: i for i, c in enumerate(self.columns)})

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def position(self, column: str) -> int:
        return self._positions[column]

    @property
    def key_positions(self) -> tuple[int, ...]:
        return tuple(self._positions[c] for c in self.primary_key)

    @property
    def key_columns(self) -> tuple[Column, ...]:
        return tuple(self.columns[i] for i in self.key_positions)

    def renamed(self, schema: str) -> "Table":
        return replace(self, schema=schema)

    def check_keyed(self) -> None:
        """Refuse a table the diff cannot work on: no key, or a key of an unordered kind."""
        if not self.primary_key:
            raise SchemaMismatch(f"table {self.qualified} has no primary key; every table needs one")
        for col in self.key_columns:
            if col.kind not in KEY_KINDS:
                raise SchemaMismatch(
                    f"table {self.qualified}: key column {col.name} is {col.kind.value}, "
                    "which has no exact order shared by every database")


def parse_table_name(text: str, where: str) -> tuple[str, str]:
    """Split ``schema.table`` (the first dot separates) or refuse it naming ``where``."""
    schema, dot, name = text.strip().partition(".")
    if not dot or not schema or not name:
        raise SchemaMismatch(f"{where}: '{text.strip()}' is not of the form schema.table")
    return schema, name


def check_same_shape(expected: Table, live: Table, side: str, stored_as: dict | None = None) -> None:
    """Refuse a live table whose columns differ from the ``.skt`` by name, order or type
    family. ``stored_as`` maps a kind to the kind this database keeps it as."""
    stored_as = stored_as or {}
    exp = [(c.name, FAMILY[stored_as.get(c.kind, c.kind)]) for c in expected.columns]
    got = [(c.name, FAMILY[c.kind]) for c in live.columns]
    if exp == got and expected.primary_key == live.primary_key:
        return
    for i, (e, g) in enumerate(zip(exp, got)):
        if e != g:
            raise SchemaMismatch(
                f"{side} table {live.qualified} column {i} is {g[0]} {live.columns[i].kind.value}, "
                f"the schema file says {e[0]} {expected.columns[i].kind.value}")
    if len(exp) != len(got):
        extra = [n for n, _ in (got[len(exp):] or exp[len(got):])]
        which = "has extra" if len(got) > len(exp) else "lacks"
        raise SchemaMismatch(f"{side} table {live.qualified} {which} column(s) {', '.join(extra)} "
                             "compared with the schema file")
    raise SchemaMismatch(f"{side} table {live.qualified} primary key is ({', '.join(live.primary_key)}), "
                         f"the schema file says ({', '.join(expected.primary_key)})")
