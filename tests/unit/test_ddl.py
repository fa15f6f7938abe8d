"""Generated DDL under ``schemaRename`` (issue 18): every schema name in c/i/f/d.sql is the
target's, foreign keys' referenced tables included (f.sql said ``REFERENCES public.artist``
for a target renamed from ``public``, and MariaDB refused it)."""
from __future__ import annotations

import pytest

from targetsync_core.commands import target_ddl
from targetsync_core.model.schema import Column, ForeignKey, Table
from targetsync_core.model.types import Kind


def chinook(schema: str) -> list[Table]:
    c = Column
    return [
        Table(schema, "artist", (c("artist_id", Kind.INT32, False), c("name", Kind.VARCHAR, length=120)),
              ("artist_id",), unique=(("name",),)),
        Table(schema, "album", (c("album_id", Kind.INT32, False), c("artist_id", Kind.INT32, False)), ("album_id",),
              foreign_keys=(ForeignKey(("artist_id",), schema, "artist", ("artist_id",), "fk_artist"),)),
        Table(schema, "employee", (c("employee_id", Kind.INT32, False), c("reports_to", Kind.INT32)),
              ("employee_id",),
              foreign_keys=(ForeignKey(("reports_to",), schema, "employee", ("employee_id",)),)),
    ]


@pytest.mark.parametrize("target", ["postgres", "mysql", "mariadb", "sqlite"])
def test_every_schema_name_in_the_ddl_goes_through_the_rename(target):
    rename = {"public": "shop"} if target != "sqlite" else {"public": "main"}
    ddl = target_ddl(target, chinook("public"), rename)
    text = "".join(ddl.values())
    assert "public" not in text, text
    if target != "sqlite":
        assert "REFERENCES shop.artist" in ddl["f.sql"] and "REFERENCES shop.employee" in ddl["f.sql"]


def test_postgres_foreign_keys_are_deferrable_initially_immediate():
    f = target_ddl("postgres", chinook("public"), {})["f.sql"]
    assert f.count("DEFERRABLE INITIALLY IMMEDIATE") == 2, f
    assert "DEFERRABLE" not in target_ddl("mariadb", chinook("public"), {})["f.sql"]
