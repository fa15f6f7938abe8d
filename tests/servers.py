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


MONGODB_URL = os.environ.get("TARGETSYNC_TEST_MONGODB_DSN", "")
MONGODB_STANDALONE_URL = os.environ.get("TARGETSYNC_TEST_MONGODB_STANDALONE_DSN", "")
_mongod: dict = {}


def mongodb_server(standalone: bool = False) -> str:
    """A MongoDB server for this test session: ``TARGETSYNC_TEST_MONGODB_DSN`` (a replica
    set) or, by default, secantusdb started here on a free port with storage of its own
    (a single-node replica set with transactions), stopped by PID when the session ends;
    returns ``mongodb://host:port``. ``standalone``: a server that is no replica set
    (``TARGETSYNC_TEST_MONGODB_STANDALONE_DSN``, or secantusdb ``--standalone``, whose
    ``hello`` names no set), started beside the other."""
    given = MONGODB_STANDALONE_URL if standalone else MONGODB_URL
    if given:
        return given.rstrip("/")
    if standalone in _mongod:
        return _mongod[standalone]
    import atexit
    import shutil
    import socket
    import subprocess
    import sys
    import tempfile
    import time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tempfile.mkdtemp(prefix="ts-secantus-")
    shape = ["--standalone"] if standalone else []
    proc = subprocess.Popen([sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
                             "--storage-path", store, "--log-level", "WARNING", *shape],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def stop():
        proc.kill()
        proc.wait(10)
        shutil.rmtree(store, ignore_errors=True)
    atexit.register(stop)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            unreachable("secantusdb", RuntimeError(f"exited {proc.returncode}: {proc.stderr.read()[-500:]}"))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                _mongod[standalone] = f"mongodb://127.0.0.1:{port}"
                return _mongod[standalone]
        except OSError:
            time.sleep(0.2)
    unreachable("secantusdb", TimeoutError(f"nothing listens on port {port} after 30 s"))


@contextlib.contextmanager
def mongodb_database(standalone: bool = False):
    """A database of its own on the test MongoDB server (``standalone``: on the one that
    is no replica set), dropped afterwards."""
    try:
        import pymongo
        url = mongodb_server(standalone)
        client = pymongo.MongoClient(url + "/?directConnection=true", serverSelectionTimeoutMS=10_000)
        client.admin.command("ping")
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        unreachable("MongoDB", exc)
    name = "ts_" + uuid.uuid4().hex[:12]
    try:
        yield ServerDb("mongodb", f"{url}/{name}?directConnection=true", name, name)
    finally:
        for db in client.list_database_names():
            if db.startswith(name):
                client.drop_database(db)
        client.close()


@contextlib.contextmanager
def cassandra_keyspace():
    """A keyspace of its own: on the cluster TARGETSYNC_TEST_CASSANDRA_DSN names, through
    the real driver, else on the test double (``tests/conformance/cassandra_double``),
    which the adapter then reaches through the registry's override. Yields (DSN, keyspace)."""
    name = "ts_" + uuid.uuid4().hex[:12]
    real = os.environ.get("TARGETSYNC_TEST_CASSANDRA_DSN")
    saved = {k: os.environ.get(k) for k in ("TARGETSYNC_CASSANDRA_DOUBLE", "TARGETSYNC_ADAPTER_CASSANDRA")}
    root = None
    if real:
        url = real
    else:
        import tempfile
        root = tempfile.mkdtemp(prefix="targetsync-cassandra-double-")
        os.environ["TARGETSYNC_CASSANDRA_DOUBLE"] = root
        os.environ["TARGETSYNC_ADAPTER_CASSANDRA"] = "tests.conformance.cassandra_double:DoubledCassandra"
        url = "cassandra://double:9042/"
    try:
        yield url, name
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if root is not None:
            import shutil
            shutil.rmtree(root, ignore_errors=True)
