"""S3 for the cloud targets that stage through it (``adapters/staging/s3.py``): moto's
server, ``moto[server]`` in a venv of its own (it pulls Flask), started once per test
session on a free port and stopped by PID; a bucket of its own per :func:`s3_stage`.

With ``TARGETSYNC_TEST_S3_STAGE`` set to a DSN query string naming a real bucket
(``awsBucket=my-bucket/prefix&awsRegion=…&awsCredentialsFile=/path``) the same fixtures
use it instead, each under a prefix of its own, deleted afterwards.

What moto does not emulate that matters here: it accepts a DeleteObjects request of more
than 1000 keys, which S3 refuses (the staging module batches by 1000 and a test counts
its requests); it checks no signature against a real key (any key id and secret pass),
so refused credentials are tested by a bucket the key cannot see, not a bad signature.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from tests.standins import Service, start_service, tool_venv

MOTO = ["moto[server]==5.2.6"]
#: the fake access key written to every moto credentials file; the secret is made per
#: stage so a test can look for it in output
KEY_ID = "AKIATARGETSYNCMOTO01"
REAL = "TARGETSYNC_TEST_S3_STAGE"


def moto_server() -> Service:
    """moto's S3 (and every other service) on 127.0.0.1, once per test session."""
    bin_dir = tool_venv("moto", MOTO)

    def ready(service: Service) -> bool:
        import urllib.request
        try:
            with urllib.request.urlopen(f"http://{service.host_port}/moto-api/data.json", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    return start_service("moto", lambda port, workdir: [str(bin_dir / "moto_server"), "-H", "127.0.0.1",
                                                        "-p", str(port)], ready=ready)


@dataclass
class StageFixture:
    """A place to stage: ``query`` (DSN query parameters, ready to append to a target DSN
    after ``?`` or ``&``), the settings it parses to, a stage over it, and the secret in
    its credentials file (for tests that look for leaks)."""

    query: str
    settings: object
    stage: object
    secret: str
    endpoint: str | None


def write_credentials(path: Path, secret: str, key_id: str = KEY_ID, form: str = "ini") -> Path:
    """An AWS credentials file at ``path``: INI (profile ``default``) or JSON."""
    if form == "json":
        import json
        path.write_text(json.dumps({"aws_access_key_id": key_id, "aws_secret_access_key": secret}))
    else:
        path.write_text(f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    return path


@contextlib.contextmanager
def s3_stage(tmp: Path, name: str = "stage"):
    """A :class:`StageFixture`: on moto, a new bucket and a credentials file in ``tmp``;
    on the real bucket of ``TARGETSYNC_TEST_S3_STAGE``, a new prefix under its own. Every
    object under it is deleted afterwards (the bucket too, on moto)."""
    from targetsync_core.adapters.staging.s3 import S3Settings, S3Stage
    unique = uuid.uuid4().hex[:12]
    real = os.environ.get(REAL)
    if real:
        base = S3Settings.from_query(real, source=REAL)
        query = real.replace(f"awsBucket={base.bucket}", "", 1)
        query = urlencode({"awsBucket": f"{base.bucket}/{base.prefix}ts-{name}-{unique}"}) + (
            "&" + query.lstrip("&") if query.strip("&") else "")
        settings = S3Settings.from_query(query, source=REAL)
        secret, endpoint = (settings.key.secret_access_key if settings.key else ""), settings.endpoint_url
        stage = S3Stage(settings)
    else:
        endpoint = f"http://{moto_server().host_port}"
        secret = f"moto-secret-{unique}"
        creds = write_credentials(tmp / f"aws-{name}-{unique}.credentials", secret)
        bucket = f"ts-{name.lower().replace('_', '-')[:30]}-{unique}"
        query = urlencode({"awsBucket": f"{bucket}/staged", "awsRegion": "us-east-1",
                           "awsCredentialsFile": str(creds), "awsEndpointUrl": endpoint})
        settings = S3Settings.from_query(query, source=str(tmp / "target.dsn"))
        stage = S3Stage(settings)
        stage.client.create_bucket(Bucket=bucket)
    try:
        yield StageFixture(query, settings, stage, secret, endpoint)
    finally:
        with contextlib.suppress(Exception):
            stage.delete(settings.prefix or f"ts-{name}-{unique}/")
            if not real:
                stage.client.delete_bucket(Bucket=settings.bucket)
        stage.close()
