"""BigQuery for the conformance suite, at the emulator tier: bqemulator 1.4.0 (a REST
emulator backed by DuckDB) in a venv of its own, started through
``bqemulator_launcher.py`` (which works around the emulator's gaps it names) and reached
through Google's own client with anonymous credentials; or the real service when
``TARGETSYNC_TEST_BIGQUERY_DSN`` names one (``bigquery://PROJECT/DATASET?credentials=…``:
each backend then makes a dataset of its own in PROJECT and drops it afterwards).

The raw access here (``execute``, ``insert``, ``read``) goes through the client alone,
never the adapter: a load job of NDJSON it writes itself, and SELECTs.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import math
import os
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from targetsync_core.model.schema import Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import Backend
from tests.standins import start_service, tool_venv

#: bqemulator and what it needs here: its sqlglot below 30.12 (the project's is newer),
#: DuckDB 1.5 and numpy; Google's client for the test's own raw access is the project's
EMULATOR = ["bqemulator==1.4.0", "sqlglot>=30.9,<30.12", "duckdb>=1.5,<1.6", "numpy>=1.26"]
LAUNCHER = Path(__file__).with_name("bqemulator_launcher.py")
PROJECT = "ts-test"


def emulator():
    """The emulator's service (started once per test session)."""
    bin_dir = tool_venv("bqemulator", EMULATOR)

    def ready(service) -> bool:
        import urllib.request
        try:
            with urllib.request.urlopen(f"http://{service.host_port}/bigquery/v2/projects/{PROJECT}/datasets",
                                        timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    return start_service("bqemulator", lambda port, workdir: [str(bin_dir / "python"), str(LAUNCHER), str(port)],
                         timeout=90, ready=ready)


def client_of(url: str):
    """Google's client for a test DSN (its own parsing: not the adapter's)."""
    from google.cloud import bigquery
    parts = urlsplit(url)
    q = dict(parse_qsl(parts.query))
    if "endpoint" in q and "credentials" not in q:
        from google.auth.credentials import AnonymousCredentials
        return bigquery.Client(project=parts.hostname, credentials=AnonymousCredentials(),
                               client_options={"api_endpoint": q["endpoint"]})
    if "credentials" in q:
        from google.oauth2 import service_account
        creds = service_account.Credentials.from_service_account_file(q["credentials"])
        return bigquery.Client(project=parts.hostname, credentials=creds, location=q.get("location"))
    return bigquery.Client(project=parts.hostname, location=q.get("location"))


def retry():
    from google.cloud.bigquery import DEFAULT_RETRY
    return DEFAULT_RETRY.with_deadline(20)


class Raw:
    """Raw access to one dataset through the client."""

    def __init__(self, client, dataset: str):
        self.client, self.dataset = client, dataset

    def query(self, sql: str) -> list[tuple]:
        job = self.client.query(sql, retry=retry(), job_retry=None)
        return [tuple(r.values()) for r in job.result(retry=retry(), timeout=120)]

    def execute(self, sql: str) -> None:
        body = "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))
        for statement in (s.strip() for s in body.split(";\n")):
            if statement.rstrip(";"):
                self.query(statement.rstrip(";"))

    def insert(self, table: Table, rows: list[tuple]) -> None:
        from google.cloud import bigquery
        lines = "".join(json.dumps({c.name: _json(c.kind, v) for c, v in zip(table.columns, r)}) + "\n"
                        for r in rows)
        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                                        write_disposition=bigquery.WriteDisposition.WRITE_APPEND)
        job = self.client.load_table_from_file(io.BytesIO(lines.encode()), f"{self.client.project}.{table.schema}."
                                               f"{table.name}", job_config=config, num_retries=0, timeout=60)
        job.result(retry=retry(), timeout=120)

    def read(self, table: Table) -> list[tuple]:
        cols = ", ".join(f"TO_JSON_STRING(`{c.name}`)" if c.kind is Kind.JSON else f"`{c.name}`"
                         for c in table.columns)
        return self.query(f"SELECT {cols} FROM `{table.schema}`.`{table.name}`")


def _json(kind: Kind, v):
    """A value as the test writes it into an NDJSON load (BigQuery's documented forms)."""
    if v is None:
        return None
    if kind is Kind.JSON:
        return json.loads(v)
    if isinstance(v, bool):
        return v
    if isinstance(v, int) or isinstance(v, Decimal):
        return str(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else ("NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, dt.datetime):
        return (v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo else v).isoformat(" ")
    if isinstance(v, (dt.date, dt.time, uuid.UUID)):
        return str(v) if not isinstance(v, dt.time) else v.isoformat()
    return v


@contextlib.contextmanager
def dataset(url: str, name: str):
    """A dataset of its own (``ts_<name>_<hex>``), dropped with its tables afterwards;
    yields the DSN that names it, and the client."""
    client = client_of(url)
    ds = f"ts_{name}_{uuid.uuid4().hex[:10]}"
    client.create_dataset(f"{client.project}.{ds}", retry=retry())
    parts = urlsplit(url)
    try:
        yield parts._replace(path=f"/{ds}").geturl(), client, ds
    finally:
        client.delete_dataset(f"{client.project}.{ds}", delete_contents=True, not_found_ok=True, retry=retry())
        client.close()


def base_url() -> str:
    real = os.environ.get("TARGETSYNC_TEST_BIGQUERY_DSN")
    if real:
        return real
    service = emulator()
    return f"bigquery://{PROJECT}/unused?endpoint=http://{service.host_port}"


@contextlib.contextmanager
def backend(tmp: Path, name: str):
    with dataset(base_url(), name) as (url, client, ds):
        yield Backend("bigquery", "bigquery", url, ds, raw=Raw(client, ds))
