"""Schema model: frozen dataclasses for columns and tables, and the rules over them."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from targetsync_core.errors import SchemaMismatch
from targetsync_core.model.types import FAMILY, KEY_KINDS, LENGTH_KINDS, PRECISION_KINDS, Kind


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

    def with_rename(self, rename: dict[str, str]) -> "Table":
        """The table as the target names it: its own schema and the schema of every
        table its foreign keys reference go through ``rename`` (``schemaRename``)."""
        fks = tuple(replace(fk, ref_schema=rename.get(fk.ref_schema, fk.ref_schema)) for fk in self.foreign_keys)
        return replace(self, schema=rename.get(self.schema, self.schema), foreign_keys=fks)

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


def describe(col: Column) -> str:
    """A column's type as a person reads it: the database's own spelling and the kind
    (``DECIMAL(6,3) (decimal)``)."""
    native = col.native or col.kind.value
    return native if native.lower() == col.kind.value else f"{native} ({col.kind.value})"


def check_same_shape(expected: Table, live: Table, side: str, stored_as: dict | None = None) -> None:
    """Refuse a live table whose columns differ from the ``.skt`` by name, order or type
    family, or whose key columns could not hold the source's keys exactly. ``stored_as``
    maps a kind to the kind this database keeps it as. ``side`` is ``source`` (the live
    source against the schema file it was extracted into) or ``target``."""
    stored_as = stored_as or {}
    got = [(c.name, FAMILY[c.kind]) for c in live.columns]
    # a target may hold a kind in its family, or in the family of its own stand-in for it
    # (PostgreSQL keeps a uint64 as numeric(20,0); a smallint holds the same values too)
    exp = [(e.name, FAMILY[e.kind] if g[1] == FAMILY[e.kind] else FAMILY[stored_as.get(e.kind, e.kind)])
           for e, g in zip(expected.columns, got + [("", "")] * len(expected.columns))]
    if exp != got or expected.primary_key != live.primary_key:
        _refuse_shape(expected, live, side, exp, got)
    if side == "source":
        for e, g in zip(expected.columns, live.columns):
            wider = _wider(e, g)
            if wider:
                raise SchemaMismatch(f"source column {live.qualified}.{g.name} holds {wider}, more than the schema "
                                     "file says: run targetsync schema again to refresh the schema file")
    if side == "target":
        for e in expected.key_columns:
            g = live.columns[live.position(e.name)]
            if not _holds_keys(e, g, stored_as):
                raise SchemaMismatch(
                    f"target key column {live.qualified}.{g.name} is {describe(g)} but the source's is {describe(e)}: "
                    "a key column must hold every source key exactly; give it the source's type")


def _refuse_shape(expected: Table, live: Table, side: str, exp: list, got: list) -> None:
    theirs = "the source's is" if side == "target" else "the schema file says"
    fix = ("make them the same kind, or cast in a view" if side == "target"
           else "run targetsync schema again to refresh the schema file")
    for i, (e, g) in enumerate(zip(exp, got)):
        if e[0] != g[0]:
            source = "the source" if side == "target" else "the schema file"
            raise SchemaMismatch(f"{side} table {live.qualified} has column {g[0]} where {source} has {e[0]} "
                                 f"(column {i + 1}): the columns must be the same, in the same order")
        if e != g:
            raise SchemaMismatch(
                f"{side} column {live.qualified}.{g[0]} is {describe(live.columns[i])} but {theirs} "
                f"{describe(expected.columns[i])}: {fix}")
    if len(exp) != len(got):
        extra = [n for n, _ in (got[len(exp):] or exp[len(got):])]
        which = "has extra" if len(got) > len(exp) else "lacks"
        raise SchemaMismatch(f"{side} table {live.qualified} {which} column(s) {', '.join(extra)} "
                             "compared with the schema file")
    raise SchemaMismatch(f"{side} table {live.qualified} primary key is ({', '.join(live.primary_key)}), "
                         f"the schema file says ({', '.join(expected.primary_key)})")


def _wider(expected: Column, live: Column) -> str:
    """What a live source column holds beyond its ``.skt`` column (so that its values could
    not be written or read as the ``.skt`` says), in words; empty if nothing."""
    if expected.kind in LENGTH_KINDS and expected.length is not None:
        unit = "bytes" if expected.kind in (Kind.BINARY, Kind.VARBINARY) else "characters"
        if live.length is None and live.kind not in LENGTH_KINDS:
            return f"{unit} without a limit ({describe(live)}) where it says {expected.length}"
        if live.length is not None and live.length > expected.length:
            return f"up to {live.length} {unit} where it says {expected.length}"
    if expected.kind is Kind.DECIMAL and expected.scale is not None and live.scale is not None:
        if live.scale > expected.scale:
            return f"{live.scale} digit(s) after the point where it says {expected.scale}"
        if expected.precision and live.precision and \
                live.precision - live.scale > expected.precision - expected.scale:
            return (f"{live.precision - live.scale} digit(s) before the point where it says "
                    f"{expected.precision - expected.scale}")
    if expected.kind in PRECISION_KINDS and expected.kind is not Kind.DECIMAL and expected.precision is not None \
            and live.precision is not None and live.precision > expected.precision:
        return f"{live.precision} fractional digit(s) where it says {expected.precision}"
    return ""


#: key kinds whose values read back alike from a column of either kind
_SAME_KEYS = [frozenset({Kind.VARCHAR, Kind.TEXT}), frozenset({Kind.VARBINARY, Kind.BLOB})]


def _holds_keys(expected: Column, live: Column, stored_as: dict) -> bool:
    """Whether a live key column holds every key of ``expected``'s type unchanged: the same
    kind (or the one this database stores it as), any integer width or decimal, and no
    fewer fractional digits, scale or characters."""
    e, g = expected.kind, live.kind
    family = FAMILY[e]
    same = (e == g or stored_as.get(e) == g or family in ("integer", "decimal")
            or any(e in s and g in s for s in _SAME_KEYS))
    if not same:
        return False
    for attr in ("precision", "scale", "length"):
        want, have = getattr(expected, attr), getattr(live, attr)
        if want is not None and have is not None and have < want and not (attr == "precision" and family == "decimal"):
            return False
    if family == "decimal" and expected.scale is not None and live.scale is not None and expected.precision \
            and live.precision and live.precision - live.scale < expected.precision - expected.scale:
        return False
    return True
