"""Real database servers for the tests: a fresh database with a unique name per use,
dropped afterwards. Where a server cannot be reached the test fails under CI=true (a
missing server must never pass silently there) and is skipped elsewhere, with the reason.

Servers are found through TARGETSYNC_TEST_PG (default postgresql://root@127.0.0.1:5432/test)
and TARGETSYNC_TEST_MARIADB (default mysql://root@127.0.0.1:3306/test).
"""
from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass

import pytest

from targetsync_core.dsn import parse_dsn

PG_URL = os.environ.get("TARGETSYNC_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("TARGETSYNC_TEST_MARIADB", "mysql://root@127.0.0.1:3306/test")


def unreachable(name: str, exc: Exception):
    msg = f"{name} test server unreachable ({type(exc).__name__}: {exc})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(msg + " — under CI a missing server is a failure")
    pytest.skip(msg)


@dataclass
class ServerDb:
    """One throwaway database: ``url`` for a DSN file, ``schema`` its tables live in."""

    kind: str
    url: str
    schema: str
    name: str


def _pg_admin():
    import psycopg
    d = parse_dsn(PG_URL)
    return psycopg.connect(host=d.host, port=d.port or 5432, user=d.username, password=d.password or None,
                           dbname=d.database, autocommit=True, connect_timeout=5)


@contextlib.contextmanager
def postgres_database(byte_order: bool = False):
    """A new database; ``byte_order``: its strings compare in byte order (collation C)."""
    try:
        admin = _pg_admin()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        unreachable("PostgreSQL", exc)
    name = "ts_" + uuid.uuid4().hex[:12]
    d = parse_dsn(PG_URL)
    admin.execute(f'CREATE DATABASE "{name}"' + (" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
                                                   if byte_order else ""))
    try:
        auth = d.username + (f":{d.password}" if d.password else "")
        yield ServerDb("postgres", f"postgresql://{auth}@{d.host}:{d.port or 5432}/{name}", "public", name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _maria_admin():
    import pymysql
    d = parse_dsn(MARIADB_URL)
    return pymysql.connect(host=d.host, port=d.port or 3306, user=d.username, password=d.password or "",
                           autocommit=True, connect_timeout=5)


@contextlib.contextmanager
def mariadb_database(kind: str = "mariadb"):
    try:
        admin = _maria_admin()
    except Exception as exc:  # noqa: BLE001
        unreachable("MariaDB", exc)
    name = "ts_" + uuid.uuid4().hex[:12]
    d = parse_dsn(MARIADB_URL)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    try:
        auth = d.username + (f":{d.password}" if d.password else "")
        scheme = "mariadb+pymysql" if kind == "mariadb" else "mysql+pymysql"
        yield ServerDb(kind, f"{scheme}://{auth}@{d.host}:{d.port or 3306}/{name}", name, name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def pyodbc_module():
    """pyodbc, which needs the system's unixODBC (``scripts/system-packages.sh``): a test
    that needs it fails under CI=true when it cannot be imported, and skips elsewhere."""
    try:
        import pyodbc
    except ImportError as exc:
        unreachable("pyodbc (unixODBC)", exc)
    return pyodbc
