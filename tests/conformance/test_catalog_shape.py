"""A live table's shape read from the server's catalog (``Database.shape``, used by emit,
validate and apply) equals what SQLAlchemy's reflection (``Database.reflect``, used by
``schema``) gives, for every type either maps, and refuses what reflection refuses."""
from __future__ import annotations

import contextlib

import pytest

from targetsync_core.errors import ConfigError, SchemaMismatch
from tests.conformance.backends import BACKENDS

PG_EVERY = """
CREATE TYPE "{s}".mood AS ENUM ('sad', 'ok', 'happy enough');
CREATE TABLE "{s}".every (
  b BOOLEAN, i2 SMALLINT NOT NULL, i4 INTEGER, i8 BIGINT, n NUMERIC(30,10), n0 NUMERIC, n5 NUMERIC(5),
  r REAL, f FLOAT(10), d DOUBLE PRECISION, f53 FLOAT(53), c CHAR(5), c1 CHARACTER, vc VARCHAR(40),
  v VARCHAR, t TEXT, by BYTEA, dt DATE, tm TIME, tm3 TIME(3), ts TIMESTAMP, ts0 TIMESTAMP(0),
  tz TIMESTAMPTZ, tz2 TIMESTAMP(2) WITH TIME ZONE, u UUID, j JSON, jb JSONB, m "{s}".mood,
  "Mixed Case" INTEGER, k2 VARCHAR(10) NOT NULL,
  PRIMARY KEY (k2, i2));
CREATE VIEW "{s}".seen AS SELECT i2, vc FROM "{s}".every;
"""

PG_REFUSED = ["TIME WITH TIME ZONE", "INTERVAL", "INTEGER[]", "MONEY", "INET", "BIT(3)", "XML", '"{s}".dom',
              "INT4RANGE", "POINT"]

MARIA_EVERY = """
CREATE TABLE `{s}`.`every` (
  flag TINYINT(1), flagu TINYINT(1) UNSIGNED, t8 TINYINT, t8u TINYINT UNSIGNED NOT NULL, s SMALLINT,
  su SMALLINT UNSIGNED, m MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, b BIGINT,
  bu BIGINT UNSIGNED, y YEAR, d DECIMAL(30,10), d0 DECIMAL, f FLOAT, f7 FLOAT(7,3), db DOUBLE, re REAL,
  c CHAR(5), vc VARCHAR(40) NOT NULL, tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT,
  e ENUM('red','green','it''s blue'), st SET('a','bb','ccc'), bn BINARY(4), vb VARBINARY(8),
  tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB, dt DATE, tm TIME, tm6 TIME(6), dtm DATETIME,
  dtm3 DATETIME(3), ts TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL, doc JSON, `Mixed Case` INT, `a``b` INT,
  k VARCHAR(10) NOT NULL,
  PRIMARY KEY (k, t8u)) CHARACTER SET utf8mb4;
CREATE VIEW `{s}`.`seen` AS SELECT t8u, vc FROM `{s}`.`every`;
"""

MARIA_REFUSED = ["BIT(8)", "GEOMETRY", "POINT", "INET6"]


def _columns(table, nullable: bool = True):
    """Everything of a table both paths give, ``native`` aside (each spells it its way).
    A MySQL view's columns are all nullable to SQLAlchemy, which reads ``SHOW CREATE
    VIEW``; the catalog gives the base columns' nullability."""
    return ([(c.name, c.kind, c.nullable if nullable else None, c.length, c.precision, c.scale)
             for c in table.columns], table.primary_key)


@pytest.fixture(params=["postgres", "mariadb", "mysql"])
def server(request, tmp_path):
    with BACKENDS[request.param](tmp_path, "src") as backend:
        yield backend


def _every(backend) -> str:
    return (PG_EVERY if backend.kind == "postgres" else MARIA_EVERY).format(s=backend.schema)


def test_shape_equals_reflection_for_every_type(server):
    server.execute(_every(server))
    db = server.db
    try:
        for name in ("every", "seen"):
            live = db.reflect(server.schema, name)
            assert live is not None and len(live.columns) > 1
            plain = name == "every" or server.kind == "postgres"
            assert _columns(db.shape(server.schema, name), plain) == _columns(live, plain), name
        shape = db.shape(server.schema, "every")
        assert all(c.native for c in shape.columns)
        assert db.shape(server.schema, "missing") is None and db.reflect(server.schema, "missing") is None
        assert db.shape(server.schema + "_nowhere", "every") is None
    finally:
        db.close()


def test_shape_refuses_what_reflection_refuses(server):
    refused = PG_REFUSED if server.kind == "postgres" else MARIA_REFUSED
    quote = '"' if server.kind == "postgres" else "`"
    if server.kind == "postgres":
        server.execute(f'CREATE DOMAIN "{server.schema}".dom AS INTEGER CHECK (VALUE > 0)')
    for n, native in enumerate(refused):
        server.execute(f"CREATE TABLE {quote}{server.schema}{quote}.{quote}r{n}{quote} "
                       f"(id INTEGER PRIMARY KEY, odd {native.format(s=server.schema)})")
    db = server.db
    try:
        for n, native in enumerate(refused):
            with pytest.raises(SchemaMismatch) as by_sqla:
                db.reflect(server.schema, f"r{n}")
            with pytest.raises(SchemaMismatch) as by_catalog:
                db.shape(server.schema, f"r{n}")
            message = str(by_catalog.value)
            assert f"table {server.schema}.r{n} column odd" in message and "\n" not in message, message
            assert ("no canonical type" in message) == ("no canonical type" in str(by_sqla.value)), native
    finally:
        db.close()


def test_mysql_shape_takes_the_table_of_that_exact_name(tmp_path):
    """MariaDB's catalog matches names without case; two tables differing only by case
    are two tables."""
    with BACKENDS["mariadb"](tmp_path, "src") as maria:
        s = maria.schema
        maria.execute(f"CREATE TABLE `{s}`.`Items` (id INT PRIMARY KEY, upper_only TEXT);\n"
                      f"CREATE TABLE `{s}`.`items` (id BIGINT PRIMARY KEY, lower_only DATE NOT NULL);")
        db = maria.db
        try:
            assert [c.name for c in db.shape(s, "Items").columns] == ["id", "upper_only"]
            assert [c.name for c in db.shape(s, "items").columns] == ["id", "lower_only"]
            assert db.shape(s, "ITEMS") is None
        finally:
            db.close()


def test_mysql_shape_does_not_take_another_spelling_of_a_missing_name(tmp_path):
    """On a server that keeps names' case (``lower_case_table_names=0``), ``ITEMS`` is
    missing when only ``items`` exists: a catalog matching names without case must not
    hand over the other spelling's columns."""
    with BACKENDS["mariadb"](tmp_path, "src") as maria:
        s = maria.schema
        maria.execute(f"CREATE TABLE `{s}`.`items` (id BIGINT PRIMARY KEY, lower_only DATE NOT NULL);")
        db = maria.db
        try:
            with db.borrow() as conn, conn.cursor() as cur:
                cur.execute("SELECT @@lower_case_table_names")
                assert cur.fetchone()[0] == 0, "this test needs a server that keeps names' case"
            assert db.shape(s, "ITEMS") is None
            assert db.shape(s, "Items") is None
            assert [c.name for c in db.shape(s, "items").columns] == ["id", "lower_only"]
        finally:
            db.close()


@contextlib.contextmanager
def _limited_user(backend):
    """A login of ``backend``'s server that may read table ``open`` only (MariaDB: and
    insert into ``secret``, which keeps that table in its catalog view)."""
    import psycopg
    import pymysql

    from targetsync_core.adapters.registry import adapter_class
    from targetsync_core.dsn import parse_dsn
    from tests.servers import _maria_admin, _pg_admin
    s, at = backend.schema, parse_dsn(backend.url)
    user = f"{s}_reader"[:32]
    if backend.kind == "postgres":
        admin = _pg_admin()
        admin.execute(f'CREATE ROLE "{user}" LOGIN PASSWORD \'pw\'')
        with psycopg.connect(backend.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as owner:
            owner.execute(f'GRANT SELECT ON "{s}".open TO "{user}"')
            owner.execute(f'GRANT INSERT ON "{s}".secret TO "{user}"')
        url = f"postgresql://{user}:pw@{at.host}:{at.port or 5432}/{at.database}"
    else:
        admin = _maria_admin()
        with admin.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
            cur.execute(f"GRANT SELECT ON `{s}`.`open` TO '{user}'@'%'")
            cur.execute(f"GRANT INSERT ON `{s}`.`secret` TO '{user}'@'%'")
            cur.execute(f"CREATE TABLE `{s}`.`hidden` (id INT PRIMARY KEY)")
        url = f"mysql://{user}:pw@{at.host}:{at.port or 3306}/{s}"
    db = adapter_class(backend.type_name, "targetType", "target").from_dsn(backend.type_name, parse_dsn(url))
    try:
        yield db
    finally:
        db.close()
        if backend.kind == "postgres":
            with psycopg.connect(backend.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as owner:
                owner.execute(f'DROP OWNED BY "{user}"')
            admin.execute(f'DROP ROLE IF EXISTS "{user}"')
        else:
            with admin.cursor() as cur:
                try:
                    cur.execute(f"DROP USER '{user}'@'%'")
                except pymysql.Error:
                    pass
        admin.close()


@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_a_missing_privilege_is_refused_as_configuration_not_as_bad_data(tmp_path, kind):
    """A table the login may not read is a configuration problem (exit 2, not retried),
    met while checking its shape (MariaDB hides a table its user has no privilege on) or
    reading it (a table the catalog shows: PostgreSQL's, or MariaDB's with another
    privilege)."""
    from targetsync_core.diff.windows import Window
    with BACKENDS[kind](tmp_path, "src") as backend:
        q = '"' if kind == "postgres" else "`"
        for name in ("open", "secret"):
            backend.execute(f"CREATE TABLE {q}{backend.schema}{q}.{q}{name}{q} (id INTEGER PRIMARY KEY, v INTEGER)")
        with _limited_user(backend) as db:
            assert db.shape(backend.schema, "open") is not None
            secret = db.shape(backend.schema, "secret")
            assert secret is not None
            with pytest.raises(ConfigError) as refused:
                list(db.read_window(secret, Window(0, 0, None, None)))
            message = str(refused.value)
            assert "secret" in message and "denied" in message and "pw" not in message, message
            assert not isinstance(refused.value, SchemaMismatch)
            if kind == "mariadb":
                with pytest.raises(ConfigError) as hidden:
                    db.shape(backend.schema, "hidden")
                assert "denied" in str(hidden.value) and "pw" not in str(hidden.value)
                assert not isinstance(hidden.value, SchemaMismatch)
