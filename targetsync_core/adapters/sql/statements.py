"""The apply statements of a relational target, described once and rendered per dialect.

A change file reaches a table as rows in its merge shadow (``__op``, ``__grp`` and the
table's columns, see ``sqlapply.shadow_rows``). Three statements move them into the
table, and every relational target runs the same three, only spelled its own way:

* **delete**: the rows whose key a ``D`` row holds (a correlated ``EXISTS``, which every
  dialect here has and every optimizer turns into a semi-join);
* **upsert**: the ``I`` rows, as a ``MERGE`` that updates a row the table holds and
  inserts one it lacks (``WITH (HOLDLOCK)`` on SQL Server, where MERGE otherwise races a
  concurrent insert of the same key);
* **update**: the ``U`` rows of one group (one set of changed columns), as a ``MERGE``
  that only updates, so its row count is the rows found.

Each is a sqlglot expression tree built from the names alone (never from SQL text, so
no name can break out of its quotes) and rendered with sqlglot's generator for the
target's dialect (``postgres``, ``tsql``, ``oracle``, ``snowflake``, ``bigquery``,
``databricks``, …); ``tests/unit/test_statements.py`` holds the rendered text of every
dialect as golden files. Dialects without MERGE (MySQL) keep their own upsert.
"""
from __future__ import annotations

from dataclasses import dataclass

#: dialects whose MERGE must end with a semicolon (SQL Server refuses it otherwise)
TERMINATED = {"tsql"}
#: table hints that make a MERGE hold its key-range locks to the end (SQL Server)
MERGE_HINTS = {"tsql": ("HOLDLOCK",)}
TARGET, SHADOW = "ts_t", "ts_w"


@dataclass(frozen=True)
class Shadowed:
    """One table and its shadow: names as the target spells them, unquoted.

    ``table`` is ``(schema, name)``; ``shadow`` is the shadow's name, quoted as any
    other (``[#orders_wkm]`` on SQL Server, where the ``#`` makes it the session's
    temporary table); ``keys`` the key columns in key order, ``columns`` every column."""

    table: tuple[str, str]
    shadow: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    #: the shadow's schema, where it is not the session's (Oracle's global temporary tables)
    shadow_schema: str | None = None

    @property
    def rest(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.keys)


def _exp():
    from sqlglot import exp
    return exp


def _ident(name: str):
    return _exp().to_identifier(name, quoted=True)


def _col(name: str, table: str | None = None):
    exp = _exp()
    return exp.Column(this=_ident(name), table=exp.to_identifier(table) if table else None)


def _table(s: Shadowed, dialect: str, alias: str | None = TARGET, hints: bool = False):
    exp = _exp()
    schema, name = s.table
    t = exp.Table(this=_ident(name), db=_ident(schema))
    if hints and dialect in MERGE_HINTS:
        t.set("hints", [exp.WithTableHint(expressions=[exp.var(h) for h in MERGE_HINTS[dialect]])])
    if alias:
        t.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return t


def _shadow(s: Shadowed, alias: str | None = None):
    exp = _exp()
    t = exp.Table(this=_ident(s.shadow), db=_ident(s.shadow_schema) if s.shadow_schema else None)
    if alias:
        t.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return t


def _and(parts: list):
    exp = _exp()
    out = parts[0]
    for p in parts[1:]:
        out = exp.And(this=out, expression=p)
    return out


def _eq(a, b):
    return _exp().EQ(this=a, expression=b)


def _op_is(op: str, table: str | None = None):
    exp = _exp()
    return _eq(_col("__op", table), exp.Literal.string(op))


def _keys_match(s: Shadowed, left, right: str):
    """``left.k = right.k`` for every key column; ``left`` an alias or a table expression."""
    exp = _exp()
    return _and([_eq(exp.Column(this=_ident(k), table=left.copy() if not isinstance(left, str)
                                else exp.to_identifier(left)), _col(k, right)) for k in s.keys])


def _render(tree, dialect: str, terminated: bool = False) -> str:
    sql = tree.sql(dialect=dialect)
    return sql + ";" if terminated and dialect in TERMINATED else sql


def delete_sql(s: Shadowed, dialect: str) -> str:
    """``DELETE FROM t WHERE EXISTS (SELECT 1 FROM shadow w WHERE w.__op = 'D' AND keys)``.
    The table is not aliased: not every dialect lets a DELETE alias its table."""
    exp = _exp()
    schema, name = s.table
    qualified = exp.Dot.build([_ident(schema), _ident(name)])
    inner = (exp.select(exp.Literal.number(1)).from_(_shadow(s, SHADOW))
             .where(_and([_op_is("D", SHADOW), _keys_match(s, qualified, SHADOW)])))
    tree = exp.Delete(this=_table(s, dialect, alias=None), where=exp.Where(this=exp.Exists(this=inner)))
    return _render(tree, dialect)


def _using(s: Shadowed, dialect: str, op: str, columns: tuple[str, ...], group: int | None):
    exp = _exp()
    cond = _op_is(op)
    if group is not None:
        cond = _and([cond, _eq(_col("__grp"), exp.Literal.number(group))])
    select = exp.select(*[_col(c) for c in columns]).from_(_shadow(s)).where(cond)
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(SHADOW)))


def _merge(s: Shadowed, dialect: str, using, whens: list) -> str:
    exp = _exp()
    # ON in parentheses: Oracle requires them, and every other dialect takes them
    tree = exp.Merge(this=_table(s, dialect, hints=True), using=using, on=exp.Paren(this=_keys_match(s, TARGET, SHADOW)),
                     whens=exp.Whens(expressions=whens))
    return _render(tree, dialect, terminated=True)


def _set(columns) -> "object":
    exp = _exp()
    return exp.Update(expressions=[_eq(_col(c), _col(c, SHADOW)) for c in columns])


def upsert_sql(s: Shadowed, dialect: str) -> str:
    """MERGE of the ``I`` rows: update the non-key columns of a row the table holds,
    insert a row it lacks (a key-only table only inserts)."""
    exp = _exp()
    whens = []
    if s.rest:
        whens.append(exp.When(matched=True, source=False, then=_set(s.rest)))
    insert = exp.Insert(this=exp.Tuple(expressions=[_col(c) for c in s.columns]),
                        expression=exp.Tuple(expressions=[_col(c, SHADOW) for c in s.columns]))
    whens.append(exp.When(matched=False, source=False, then=insert))
    return _merge(s, dialect, _using(s, dialect, "I", s.columns, None), whens)


def update_sql(s: Shadowed, dialect: str, group: int, columns: tuple[str, ...]) -> str:
    """MERGE of the ``U`` rows of ``group``, setting ``columns``; it never inserts, so
    its row count is the number of rows the table held."""
    exp = _exp()
    cols = tuple(dict.fromkeys((*s.keys, *columns)))
    when = exp.When(matched=True, source=False, then=_set(columns))
    return _merge(s, dialect, _using(s, dialect, "U", cols, group), [when])
