"""S3 staging for cloud targets that bulk-load from a bucket (Databricks ``COPY INTO``,
Firebolt external tables): upload a change file's rows, hand the target their URI,
delete them once the file's record has committed.

**Settings** come from the target DSN's query parameters (the DSN file is the one place
a target's connection is configured, and the adapter alone reads it):

========================  ====================================================
``awsBucket``             the bucket, optionally with a key prefix:
                          ``my-bucket``, ``my-bucket/some/prefix`` or
                          ``s3://my-bucket/some/prefix`` (required)
``awsRegion``             the bucket's region (default: boto3's own lookup)
``awsCredentialsFile``    a file holding the access key (below); relative to
                          the DSN file's folder. Without it boto3's default
                          chain applies (environment, instance profile, …)
``awsProfile``            the profile (section) of an INI credentials file
                          (default ``default``)
``awsEndpointUrl``        another S3 endpoint (tests: moto; or MinIO)
========================  ====================================================

The credentials file is either AWS's shared-credentials form (INI: ``[default]``
``aws_access_key_id = …``, ``aws_secret_access_key = …``, optional
``aws_session_token = …``) or JSON with the same three keys (or STS's ``AccessKeyId``,
``SecretAccessKey``, ``SessionToken``). The secret key and session token are remembered
as secrets (:func:`targetsync_core.dsn.scrub` removes them from any text shown) and never
appear in a message; errors name the file, never its contents.

**Objects** are named by (run, file, table) under the prefix
(:meth:`S3Stage.prefix_for`): a replay of a file after a crash writes the same keys
again, overwriting what a dead loader left, and deleting the prefix after the file's
record commits removes exactly that file's objects. Objects a crash leaves are harmless
(nothing reads them but the load of that file) and are overwritten or deleted by its
replay. Uploads go through ``upload_fileobj`` (multipart above
:data:`MULTIPART_THRESHOLD`); deletes go 1000 keys a request, S3's limit.
"""
from __future__ import annotations

import configparser
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qsl

from targetsync_core import dsn as _dsn
from targetsync_core.errors import ConfigError, ConnectError, TargetSyncError, read_user_file

#: the DSN query parameters this module reads (an adapter passes the others on)
PARAMS = ("awsBucket", "awsRegion", "awsCredentialsFile", "awsProfile", "awsEndpointUrl")
#: uploads larger than this go in parts of this size
MULTIPART_THRESHOLD = 64 * 1024 * 1024
#: keys one DeleteObjects request may name (S3 refuses more; moto accepts more)
DELETE_BATCH = 1000
#: what boto3 needs when it is missing
INSTALL_HINT = "boto3: pip install 'targetsync[s3]'"


@dataclass(frozen=True)
class AwsKey:
    """An access key read from a credentials file; repr shows only the key id."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class S3Settings:
    """Where to stage and how to reach it (see the module)."""

    bucket: str
    prefix: str = ""                 # "" or ends with "/"
    region: str | None = None
    endpoint_url: str | None = None
    key: AwsKey | None = field(default=None, repr=False)
    source: str = "<dsn>"            # the DSN file, for messages

    @classmethod
    def from_query(cls, query: str | dict, source: str = "<dsn>", base: Path | None = None,
                   required: bool = True) -> "S3Settings | None":
        """The settings in a DSN's query string (or a dict of its parameters); None when
        it names no ``awsBucket`` and ``required`` is false, else ConfigError naming the
        DSN file ``source``. ``base``: the folder a relative credentials path is in
        (default: the DSN file's)."""
        params = dict(parse_qsl(query, keep_blank_values=True)) if isinstance(query, str) else dict(query)
        where = f"the DSN in {source}"
        raw = (params.get("awsBucket") or "").strip()
        if not raw:
            if not required:
                return None
            raise ConfigError(f"{where} names no S3 staging bucket: add ?awsBucket=<bucket>[/prefix] "
                              "(and awsRegion, awsCredentialsFile) to its query")
        bucket, _, prefix = re.sub(r"^s3://", "", raw).partition("/")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket):
            raise ConfigError(f"{where}: awsBucket must start with an S3 bucket name "
                              "(3-63 lower-case letters, digits, '.', '-')")
        prefix = prefix.strip("/")
        if not re.fullmatch(r"[A-Za-z0-9._/=-]*", prefix):
            raise ConfigError(f"{where}: the prefix in awsBucket may hold letters, digits and . _ / = - only "
                              "(it is quoted in the SQL that loads from it)")
        endpoint = params.get("awsEndpointUrl") or None
        if endpoint and not re.match(r"https?://", endpoint):
            raise ConfigError(f"{where}: awsEndpointUrl must be an http:// or https:// URL")
        key = None
        if params.get("awsCredentialsFile"):
            if base is None and source != "<dsn>":
                base = Path(source).parent
            path = Path(params["awsCredentialsFile"])
            if not path.is_absolute() and base is not None:
                path = base / path
            key = read_credentials(path, params.get("awsProfile") or "default")
        return cls(bucket, prefix + "/" if prefix else "", params.get("awsRegion") or None, endpoint, key, source)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def read_credentials(path: Path, profile: str = "default") -> AwsKey:
    """The access key in ``path`` (INI or JSON, see the module), its secrets remembered
    for scrubbing; ConfigError naming the file (never its contents)."""
    what = "awsCredentialsFile"
    text = read_user_file(path, what)
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            raise ConfigError(f"{what} {path} is not valid JSON") from None
        doc = doc.get("Credentials", doc) if isinstance(doc, dict) else {}
        pick = {k.lower(): v for k, v in doc.items() if isinstance(v, str)}
        key_id = pick.get("aws_access_key_id") or pick.get("accesskeyid")
        secret = pick.get("aws_secret_access_key") or pick.get("secretaccesskey")
        token = pick.get("aws_session_token") or pick.get("sessiontoken")
        place = "its JSON"
    else:
        ini = configparser.ConfigParser(interpolation=None)
        try:
            ini.read_string(text)
        except configparser.Error:
            raise ConfigError(f"{what} {path} is neither JSON nor an AWS credentials (INI) file") from None
        if not ini.has_section(profile):
            raise ConfigError(f"{what} {path} has no profile [{profile}] (set awsProfile)")
        sec = ini[profile]
        key_id, secret, token = (sec.get("aws_access_key_id"), sec.get("aws_secret_access_key"),
                                 sec.get("aws_session_token"))
        place = f"profile [{profile}]"
    if not key_id or not secret:
        raise ConfigError(f"{what} {path}: {place} needs aws_access_key_id and aws_secret_access_key")
    for s in (secret, token):
        if s:
            _dsn.remember(s)
    return AwsKey(key_id.strip(), secret.strip(), token.strip() if token else None)


def _safe(part: str) -> str:
    """A key segment for ``part``: its plain characters, and a short hash where any other
    was dropped (two names never share a segment)."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", part)[:80]
    return plain if plain == part else f"{plain}-{hashlib.sha1(part.encode()).hexdigest()[:8]}"


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key``."""
    m = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
    if not m:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return m.group(1), m.group(2)


class S3Stage:
    """Objects under one bucket prefix, reached through one boto3 client (created on
    first use; safe to share between threads, as boto3 clients are)."""

    def __init__(self, settings: S3Settings):
        self.settings = settings
        self._client = None

    # -- naming --
    def file_prefix(self, run_id: str, file_no: int) -> str:
        """The key prefix of one (run, file): every table's objects of that file lie
        under it (ends in ``/``), so one :meth:`delete` removes them."""
        return f"{self.settings.prefix}targetsync/{_safe(run_id)}/{int(file_no):06d}/"

    def prefix_for(self, run_id: str, file_no: int, table: str) -> str:
        """The key prefix of one (run, file, table): the same on a replay (ends in ``/``)."""
        return f"{self.file_prefix(run_id, file_no)}{_safe(table)}/"

    def uri(self, key: str) -> str:
        return self.settings.uri(key)

    def where(self) -> str:
        return f"S3 staging s3://{self.settings.bucket}/{self.settings.prefix} (DSN file {self.settings.source})"

    # -- the client --
    @property
    def client(self):
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise ConnectError(f"{self.where()} needs {INSTALL_HINT}") from None
            s, key = self.settings, self.settings.key
            session = boto3.session.Session(
                aws_access_key_id=key.access_key_id if key else None,
                aws_secret_access_key=key.secret_access_key if key else None,
                aws_session_token=key.session_token if key else None, region_name=s.region)
            config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=120,
                            s3={"addressing_style": "path"} if s.endpoint_url else {})
            self._client = session.client("s3", endpoint_url=s.endpoint_url, config=config)
        return self._client

    def _error(self, exc: Exception, doing: str) -> TargetSyncError:
        """A one-line error for a boto3 failure, naming the bucket and DSN file; no secret
        (boto3 never quotes the secret key, and :func:`scrub` would remove it)."""
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
        detail = _dsn.scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        cls = ConnectError if code in (None, "403", "404", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                                       "NoSuchBucket", "ExpiredToken") else TargetSyncError
        return cls(f"{self.where()}: cannot {doing}: {detail}")

    def _call(self, doing: str, fn, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            return fn(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, doing) from None

    # -- operations --
    def check(self) -> None:
        """Raise ConnectError unless the bucket is reachable with these credentials."""
        self._call("reach the bucket", self.client.head_bucket, Bucket=self.settings.bucket)

    def put(self, key: str, data: bytes | BinaryIO | str | Path) -> str:
        """Upload ``data`` (bytes, a binary file object, or a local file's path) as ``key``
        (replacing any object there); its ``s3://`` URI."""
        from boto3.s3.transfer import TransferConfig
        transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)
        if isinstance(data, (str, Path)):
            with open(data, "rb") as f:
                return self.put(key, f)
        body = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
        self._call(f"upload {key}", self.client.upload_fileobj, body, self.settings.bucket, key, Config=transfer)
        return self.uri(key)

    def get(self, key_or_uri: str) -> bytes:
        """The bytes of an object (by key or ``s3://`` URI of this bucket)."""
        key = split_uri(key_or_uri)[1] if key_or_uri.startswith("s3://") else key_or_uri
        resp = self._call(f"read {key}", self.client.get_object, Bucket=self.settings.bucket, Key=key)
        return resp["Body"].read()

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, in S3's (byte) order."""
        out: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.settings.bucket, Prefix=prefix)
        self._call(f"list {prefix}", lambda: [out.extend(o["Key"] for o in p.get("Contents", [])) for p in pages])
        return out

    def delete(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (1000 keys a request); how many. A prefix
        must be non-empty and end in ``/``, so no call deletes a whole bucket or another
        file's objects by accident."""
        if not prefix.endswith("/") or prefix == "/":
            raise ValueError(f"refusing to delete under prefix {prefix!r}: it must name a folder (end in '/')")
        keys = self.keys(prefix)
        for i in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": k} for k in keys[i:i + DELETE_BATCH]]
            resp = self._call(f"delete under {prefix}", self.client.delete_objects, Bucket=self.settings.bucket,
                              Delete={"Objects": batch, "Quiet": True})
            if resp.get("Errors"):
                err = resp["Errors"][0]
                raise TargetSyncError(f"{self.where()}: cannot delete {err.get('Key')}: {err.get('Code')}")
        return len(keys)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
