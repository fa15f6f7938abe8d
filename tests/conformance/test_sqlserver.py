"""What SQL Server does its own way, at the translated tier (``tests.conformance.translated``;
``TARGETSYNC_TEST_SQLSERVER_DSN`` for a real server): keys ordered as the diff needs
(uniqueidentifier, strings beyond the BMP) cut by small windows in both directions,
identity columns, a case-insensitive key refused, a connection refused in one line."""
from __future__ import annotations

import random
import uuid

import pytest

from targetsync_core.cli import main
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import postgres_backend, refused_connection, sqlserver_backend, write_configs
from tests.conformance.translated import Translated
from tests.servers import pyodbc_module

#: strings whose code-point order differs from UTF-16 code-unit order (U+E000..U+FFFF
#: against characters beyond the BMP) and from any linguistic order
STRING_KEYS = ["a", "B", "b", "\ue000", "\uffee", "😀", "𝄞", "ﬀ", "é", "z", "Z", "aa", "a-b", "0", "~"]


def tables(schema: str) -> list[Table]:
    c = Column
    return [Table(schema, "by_uuid", (c("id", Kind.UUID, False), c("v", Kind.INT32)), ("id",)),
            Table(schema, "by_text", (c("k", Kind.VARCHAR, False, length=20), c("v", Kind.INT32)), ("k",)),
            Table(schema, "by_both", (c("u", Kind.UUID, False), c("k", Kind.VARCHAR, False, length=20),
                                      c("v", Kind.TEXT)), ("u", "k"))]


def rows(rng: random.Random, t: Table) -> list[tuple]:
    ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(40)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]
    if t.name == "by_uuid":
        return [(u, i) for i, u in enumerate(ids)]
    if t.name == "by_text":
        return [(k, i) for i, k in enumerate(STRING_KEYS)]
    return [(u, k, f"{u}/{k}") for u in ids[:6] for k in STRING_KEYS[:7]]


def drifted(rng: random.Random, source: list[tuple]) -> list[tuple]:
    out = []
    for r in source:
        x = rng.random()
        if x < 0.25:
            continue
        out.append(r if x > 0.5 else (*r[:-1], None))
    return out


@pytest.mark.parametrize("direction", ["postgres-to-sqlserver", "sqlserver-to-postgres"])
def test_uuid_and_non_bmp_string_keys_sync_through_small_windows(tmp_path, direction):
    first, second = (postgres_backend, sqlserver_backend) if direction.startswith("postgres") else \
        (sqlserver_backend, postgres_backend)
    rng = random.Random(7)
    with first(tmp_path, "src") as src, second(tmp_path, "tgt") as tgt:
        made = tables(src.schema)
        src.create(made)
        data = {t.name: rows(rng, t) for t in made}
        for t in made:
            src.insert(t, data[t.name])
        write_configs(tmp_path, src, tgt, [t.name for t in made], window_size=3)
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        theirs = [t.renamed(tgt.schema) for t in made]
        for t, tt in zip(made, theirs):
            tgt.insert(tt, drifted(rng, data[t.name]))
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        for t, tt in zip(made, theirs):
            assert src.read(t) == tgt.read(tt), t.name
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0


def test_identity_columns_take_the_sources_values(tmp_path):
    """A target table made by hand with an IDENTITY key: the insert runs between SET
    IDENTITY_INSERT … ON and OFF, and the rows keep the source's ids."""
    with postgres_backend(tmp_path, "src") as src, sqlserver_backend(tmp_path, "tgt") as tgt:
        t = Table(src.schema, "tickets", (Column("id", Kind.INT32, False), Column("title", Kind.VARCHAR, length=30)),
                  ("id",))
        src.create([t])
        src.insert(t, [(i * 10, f"ticket {i}") for i in range(1, 30)])
        tgt.execute(f"CREATE TABLE [{tgt.schema}].[tickets] ([id] INT IDENTITY(1,1) NOT NULL PRIMARY KEY, "
                    "[title] NVARCHAR(30) NULL);\n")
        write_configs(tmp_path, src, tgt, ["tickets"], window_size=7)
        assert main(["schema", "--config", str(tmp_path / "schema.cfg")]) == 0
        Translated.sent.clear()
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        assert src.read(t) == tgt.read(t.renamed(tgt.schema))
        if isinstance(tgt.db, Translated):
            sent = Translated.sent
            on = sent.index(f"SET IDENTITY_INSERT [{tgt.schema}].[tickets] ON")
            merge = next(i for i, s in enumerate(sent) if s.startswith("MERGE INTO") and "__op] = 'I'" in s)
            off = sent.index(f"SET IDENTITY_INSERT [{tgt.schema}].[tickets] OFF")
            assert on < merge < off


def test_case_insensitive_target_key_refuses_case_distinct_source_keys(tmp_path, capsys):
    """A target made by hand with a string key under a case-insensitive collation (SQL
    Server's default) cannot hold 'a' and 'A' apart: refused before any work, naming them."""
    with postgres_backend(tmp_path, "src") as src, sqlserver_backend(tmp_path, "tgt") as tgt:
        t = Table(src.schema, "codes", (Column("k", Kind.VARCHAR, False, length=10), Column("v", Kind.INT32)), ("k",))
        src.create([t])
        src.insert(t, [("a", 1), ("A", 2), ("b", 3)])
        # no COLLATE: the database's default, case-insensitive on SQL Server (and, at the
        # translated tier, reported so for any non-binary collation)
        tgt.execute(f"CREATE TABLE [{tgt.schema}].[codes] ([k] NVARCHAR(10) NOT NULL PRIMARY KEY, [v] INT NULL);\n")
        write_configs(tmp_path, src, tgt, ["codes"])
        assert main(["schema", "--config", str(tmp_path / "schema.cfg")]) == 0
        capsys.readouterr()
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "'a'" in err[0] and "'A'" in err[0], err
        assert tgt.read(t.renamed(tgt.schema)) == []


def test_unreachable_server_is_one_line_through_the_real_driver(tmp_path, capsys):
    """pyodbc with FreeTDS against a port where nothing listens."""
    pyodbc_module()
    refused_connection(tmp_path, capsys, "sqlserver",
                       lambda port: f"mssql+pyodbc://sa:Hunter2Secret@127.0.0.1:{port}/shop?driver=FreeTDS",
                       "Hunter2Secret")
