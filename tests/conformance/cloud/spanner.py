"""Spanner for the conformance suite: Google's Cloud Spanner emulator (``emulator_main``
of the Google Cloud SDK's ``cloud-spanner-emulator`` component), started by the test
command on a free port and stopped by PID; a database of its own per backend, in instance
``ts-test``, made and dropped through the admin API. Its tables live in named schema
``app``. ``raw`` reads and writes through ``google-cloud-spanner`` directly, never the
adapter.

With ``TARGETSYNC_TEST_SPANNER_DSN=spanner://projects/P/instances/I/databases/any`` (and
``TARGETSYNC_TEST_SPANNER_CREDENTIALS``, a service-account key file, or Application
Default Credentials) the same backend makes its databases in that real instance instead.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import re
import shutil
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path

from targetsync_core.model.schema import Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import Backend
from tests.servers import unreachable
from tests.standins import start_service

INSTANCE = "ts-test"
PROJECT = "ts-project"
SCHEMA = "app"
EMULATOR = "cloud_spanner_emulator/emulator_main"
CLIENT_ENV = {"SPANNER_DISABLE_BUILTIN_METRICS": "true", "GOOGLE_CLOUD_SPANNER_MULTIPLEXED_SESSIONS_FOR_RW": "false"}


def emulator_binary() -> Path | None:
    """``emulator_main`` under the Cloud SDK's root (``gcloud info``), or the usual root."""
    roots = []
    if shutil.which("gcloud"):
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            roots.append(subprocess.run(["gcloud", "info", "--format=value(installation.sdk_root)"],
                                        capture_output=True, text=True, timeout=60).stdout.strip())
    roots.append("/usr/lib/google-cloud-sdk")
    for root in filter(None, roots):
        path = Path(root) / "bin" / EMULATOR
        if path.exists():
            return path
    return None


def emulator() -> str:
    """``host:port`` of the session's emulator, started on first use."""
    binary = emulator_binary()
    if binary is None:
        unreachable("spanner emulator", FileNotFoundError(
            "no cloud_spanner_emulator/emulator_main under the Google Cloud SDK (gcloud components install "
            "cloud-spanner-emulator, or apt-get install google-cloud-cli-spanner-emulator)"))
    service = start_service("spanner", lambda port, workdir: [str(binary), f"--host_port=127.0.0.1:{port}"])
    return service.host_port


def client(project: str, credentials: str | None = None):
    for key, value in CLIENT_ENV.items():
        os.environ.setdefault(key, value)
    from google.cloud import spanner
    if credentials:
        from google.oauth2 import service_account
        return spanner.Client(project=project, credentials=service_account.Credentials.from_service_account_file(
            credentials))
    if os.environ.get("SPANNER_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials
        return spanner.Client(project=project, credentials=AnonymousCredentials())
    return spanner.Client(project=project)


def instance(c, name: str, emulated: bool):
    from google.api_core import exceptions as E
    inst = c.instance(name, configuration_name=f"projects/{c.project}/instanceConfigs/emulator-config",
                      display_name=name, node_count=1)
    if emulated:
        with contextlib.suppress(E.AlreadyExists):
            inst.create().result(60)
    return inst


def statements(sql: str) -> list[str]:
    body = "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";[ \t]*(?:\n|\Z)", body) if s.strip()]


def _to_client(kind: Kind, v):
    """A canonical test value as the client writes it (BYTES as base64, as it requires)."""
    if v is None:
        return None
    if kind in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
        return base64.b64encode(v)
    if kind in (Kind.DECIMAL, Kind.UINT64):
        return Decimal(v)
    if kind is Kind.TIME:
        return v.isoformat(timespec="microseconds")
    if kind is Kind.UUID:
        return str(v)
    if kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        return v.replace(tzinfo=dt.timezone.utc) if v.tzinfo is None else v
    if kind is Kind.JSON and not isinstance(v, str):
        import json
        return json.dumps(v)
    return v


class Raw:
    """A Spanner database reached with the client alone."""

    def __init__(self, database, schema: str):
        self.database, self.schema = database, schema

    def name(self, table: Table) -> str:
        return table.name if table.schema == "default" else f"{table.schema}.{table.name}"

    def execute(self, sql: str) -> None:
        ddl = statements(sql)
        if ddl:
            self.database.update_ddl(ddl).result(300)

    def spanner_types(self, table: Table) -> dict[str, str]:
        schema = "" if table.schema == "default" else table.schema
        return {r[0]: r[1] for r in self.query(
            "SELECT column_name, spanner_type FROM information_schema.columns WHERE table_schema = "
            f"'{schema}' AND table_name = '{table.name}'")}

    def insert(self, table: Table, rows: list[tuple]) -> None:
        """Rows as the client writes them; a decimal into a STRING column as its text."""
        cols = [c.name for c in table.columns]
        held = self.spanner_types(table)
        text = [c.kind in (Kind.DECIMAL, Kind.UINT64) and held[c.name].startswith("STRING") for c in table.columns]
        values = [[str(v) if t and v is not None else _to_client(c.kind, v)
                   for c, t, v in zip(table.columns, text, r)] for r in rows]
        self.database.run_in_transaction(lambda tx: tx.insert(self.name(table), cols, values))

    def query(self, sql: str) -> list[list]:
        with self.database.snapshot() as snap:
            return [list(r) for r in snap.execute_sql(sql)]

    def read(self, table: Table) -> list[tuple]:
        """Every row, BYTES decoded from the base64 the client returns, JSON as text."""
        source = f"`{table.schema}`.`{table.name}`" if table.schema != "default" else f"`{table.name}`"
        rows = self.query(f"SELECT {', '.join(f'`{c.name}`' for c in table.columns)} FROM {source}")
        binary = [c.kind in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB) for c in table.columns]
        return [tuple(base64.b64decode(v) if b and v is not None else
                      v.serialize() if hasattr(v, "serialize") else v for b, v in zip(binary, r)) for r in rows]


@contextlib.contextmanager
def spanner_database(schema: str = SCHEMA):
    """(DSN, Raw) of a database of its own, dropped afterwards."""
    real = os.environ.get("TARGETSYNC_TEST_SPANNER_DSN")
    before = os.environ.get("SPANNER_EMULATOR_HOST")
    if real:
        found = re.match(r"spanner://projects/([^/]+)/instances/([^/]+)/", real)
        project, inst_name, creds = found.group(1), found.group(2), os.environ.get("TARGETSYNC_TEST_SPANNER_CREDENTIALS")
    else:
        os.environ["SPANNER_EMULATOR_HOST"] = emulator()
        project, inst_name, creds = PROJECT, INSTANCE, None
    c = client(project, creds)
    name = "ts" + uuid.uuid4().hex[:20]
    database = instance(c, inst_name, not real).database(name)
    database.create().result(300)
    dsn = f"spanner://projects/{project}/instances/{inst_name}/databases/{name}"
    if creds:
        dsn += f"?credentials={creds}"
    try:
        yield dsn, Raw(database, schema)
    finally:
        with contextlib.suppress(Exception):
            database.drop()
        if before is None:
            os.environ.pop("SPANNER_EMULATOR_HOST", None)
        else:
            os.environ["SPANNER_EMULATOR_HOST"] = before


@contextlib.contextmanager
def backend(tmp: Path, name: str):
    with spanner_database() as (dsn, raw):
        yield Backend("spanner", "spanner", dsn, SCHEMA, raw=raw)
