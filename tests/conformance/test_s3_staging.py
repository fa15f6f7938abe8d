"""The S3 staging module (``adapters/staging/s3.py``) through real boto3 against moto's
server (``tests/conformance/cloud/s3.py``), or the bucket ``TARGETSYNC_TEST_S3_STAGE``
names: settings from DSN query parameters, credentials files, upload (single and
multipart), listing, deletes in batches of 1000 and one-line errors without secrets."""
from __future__ import annotations

import json

import pytest

from targetsync_core.adapters.staging import s3
from targetsync_core.adapters.staging.s3 import S3Settings, S3Stage, split_uri
from targetsync_core.dsn import scrub
from targetsync_core.errors import ConfigError, ConnectError
from tests.conformance.cloud.s3 import s3_stage, write_credentials


# -- settings (no server) --

def test_bucket_and_prefix_forms(tmp_path):
    for raw, bucket, prefix in [("my-bucket", "my-bucket", ""), ("my-bucket/a/b", "my-bucket", "a/b/"),
                                ("s3://my-bucket/a/", "my-bucket", "a/"), ("s3://my.bucket", "my.bucket", "")]:
        s = S3Settings.from_query(f"awsBucket={raw}&awsRegion=eu-west-1", source=str(tmp_path / "t.dsn"))
        assert (s.bucket, s.prefix, s.region, s.key, s.endpoint_url) == (bucket, prefix, "eu-west-1", None, None)
    assert S3Settings.from_query("catalog=x", required=False) is None


@pytest.mark.parametrize("query, says", [
    ("catalog=x", "names no S3 staging bucket: add ?awsBucket="),
    ("awsBucket=My_Bucket", "awsBucket must start with an S3 bucket name"),
    ("awsBucket=b1b&awsEndpointUrl=ftp://x", "awsEndpointUrl must be an http:// or https:// URL"),
    ("awsBucket=b1b&awsCredentialsFile=nowhere.ini", "awsCredentialsFile"),
])
def test_refusals_name_the_dsn_file(tmp_path, query, says):
    with pytest.raises(ConfigError) as err:
        S3Settings.from_query(query, source=str(tmp_path / "target.dsn"))
    assert says in str(err.value) and "\n" not in str(err.value)
    if "Endpoint" not in query and "Credentials" not in query:
        assert f"the DSN in {tmp_path / 'target.dsn'}" in str(err.value)
    if "Credentials" in query:   # relative to the DSN file's folder
        assert str(tmp_path / "nowhere.ini") in str(err.value)


def test_credentials_files_ini_json_sts(tmp_path):
    ini = write_credentials(tmp_path / "a.ini", "secret-ini-1")
    (tmp_path / "b.json").write_text(json.dumps({"Credentials": {"AccessKeyId": "AKIA2", "SecretAccessKey": "secret-sts-2",
                                                                 "SessionToken": "token-sts-2"}}))
    write_credentials(tmp_path / "c.json", "secret-json-3", key_id="AKIA3", form="json")
    (tmp_path / "d.ini").write_text("[prod]\naws_access_key_id = AKIA4\naws_secret_access_key = secret-prof-4\n")
    src = str(tmp_path / "target.dsn")
    a = S3Settings.from_query(f"awsBucket=bbb&awsCredentialsFile={ini}", source=src).key
    b = S3Settings.from_query("awsBucket=bbb&awsCredentialsFile=b.json", source=src).key
    c = S3Settings.from_query("awsBucket=bbb&awsCredentialsFile=c.json", source=src).key
    d = S3Settings.from_query("awsBucket=bbb&awsCredentialsFile=d.ini&awsProfile=prod", source=src).key
    assert (a.secret_access_key, b.access_key_id, b.secret_access_key, b.session_token) == \
        ("secret-ini-1", "AKIA2", "secret-sts-2", "token-sts-2")
    assert (c.access_key_id, c.secret_access_key, d.secret_access_key) == ("AKIA3", "secret-json-3", "secret-prof-4")
    shown = repr(a) + repr(b) + str(S3Settings.from_query(f"awsBucket=bbb&awsCredentialsFile={ini}", source=src))
    assert "secret" not in shown and "token-sts" not in shown
    # remembered: scrubbed from any text shown to a user (the process's other secrets too,
    # which earlier tests may have added: only these three are checked)
    shown = scrub("x secret-ini-1 token-sts-2 secret-prof-4")
    assert shown.startswith("x ") and not any(v in shown for v in ("secret-ini-1", "token-sts-2", "secret-prof-4"))


@pytest.mark.parametrize("text, says", [
    ("[other]\naws_access_key_id = A\naws_secret_access_key = leakme-1\n", "has no profile [default]"),
    ("[default]\naws_access_key_id = A\n", "needs aws_access_key_id and aws_secret_access_key"),
    ('{"aws_secret_access_key": "leakme-2"', "is not valid JSON"),
    ("aws_secret_access_key = leakme-3\n", "neither JSON nor an AWS credentials (INI) file"),
])
def test_bad_credentials_files(tmp_path, text, says):
    (tmp_path / "creds").write_text(text)
    with pytest.raises(ConfigError) as err:
        S3Settings.from_query("awsBucket=bbb&awsCredentialsFile=creds", source=str(tmp_path / "target.dsn"))
    assert says in str(err.value) and str(tmp_path / "creds") in str(err.value)
    assert "leakme" not in str(err.value)


def test_prefix_for_is_stable_and_distinct():
    st = S3Stage(S3Settings("bbb", "p/"))
    assert st.prefix_for("run-1", 7, "app.orders") == "p/targetsync/run-1/000007/app.orders/"
    assert st.prefix_for("run-1", 7, "app.orders") == st.prefix_for("run-1", 7, "app.orders")
    odd = {st.prefix_for("r", 1, n) for n in ("a b", "a_b", "a/b", "a?b")}
    assert len(odd) == 4 and all(p.count("/") == 5 for p in odd)
    assert split_uri("s3://bbb/x/y.csv") == ("bbb", "x/y.csv")
    with pytest.raises(ValueError):
        st.delete("p/targetsync")   # not a folder
    with pytest.raises(ValueError):
        st.delete("")


# -- against moto (or a real bucket) --

def test_put_get_list_delete(tmp_path):
    with s3_stage(tmp_path, "roundtrip") as fx:
        st = fx.stage
        pre = st.prefix_for("run-a", 1, "app.t")
        other = st.prefix_for("run-a", 2, "app.t")
        uri = st.put(pre + "rows.csv", b"a,b\n1,2\n")
        assert uri == f"s3://{fx.settings.bucket}/{pre}rows.csv"
        (tmp_path / "f.bin").write_bytes(b"\x00\x01" * 10)
        st.put(pre + "file.bin", tmp_path / "f.bin")
        with open(tmp_path / "f.bin", "rb") as f:
            st.put(other + "obj.bin", f)
        st.put(pre + "rows.csv", b"replaced\n")   # a replay overwrites
        assert st.get(uri) == b"replaced\n" and st.get(pre + "file.bin") == b"\x00\x01" * 10
        assert st.keys(pre) == [pre + "file.bin", pre + "rows.csv"]
        assert st.delete(pre) == 2
        assert st.keys(pre) == [] and st.keys(other) == [other + "obj.bin"]
        assert st.delete(pre) == 0


def test_deletes_go_in_batches(tmp_path, monkeypatch):
    """S3 takes at most 1000 keys a DeleteObjects request (moto takes more): the module
    batches by DELETE_BATCH; here 3, so seven objects take three requests."""
    assert s3.DELETE_BATCH == 1000
    monkeypatch.setattr(s3, "DELETE_BATCH", 3)
    with s3_stage(tmp_path, "batches") as fx:
        st = fx.stage
        pre = st.prefix_for("run-b", 1, "t")
        for i in range(7):
            st.put(f"{pre}{i}", b"x")
        sizes = []
        st.client.meta.events.register("before-parameter-build.s3.DeleteObjects",
                                       lambda params, **kw: sizes.append(len(params["Delete"]["Objects"])))
        assert st.delete(pre) == 7
        assert sizes == [3, 3, 1] and st.keys(pre) == []


def test_large_uploads_are_multipart(tmp_path, monkeypatch):
    monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)   # S3's smallest part
    with s3_stage(tmp_path, "multipart") as fx:
        st = fx.stage
        calls = []
        st.client.meta.events.register("before-call.s3.*", lambda model, **kw: calls.append(model.name))
        body = bytes(range(256)) * (11 * 1024 * 1024 // 256)
        st.put("big/object", body)
        assert calls.count("UploadPart") == 3 and "CreateMultipartUpload" in calls
        assert st.get("big/object") == body
        st.delete("big/")


def test_unreachable_bucket_is_one_line_without_secret(tmp_path, capsys):
    with s3_stage(tmp_path, "missing") as fx:
        gone = S3Stage(S3Settings(fx.settings.bucket + "-gone", "", fx.settings.region, fx.endpoint,
                                  fx.settings.key, str(tmp_path / "target.dsn")))
        with pytest.raises(ConnectError) as err:
            gone.check()
        msg = str(err.value)
        assert f"s3://{fx.settings.bucket}-gone/" in msg and f"DSN file {tmp_path / 'target.dsn'}" in msg
        assert "\n" not in msg and fx.secret not in msg
        with pytest.raises(ConnectError):
            gone.put("k", b"x")
        fx.stage.check()
    out = capsys.readouterr()
    assert fx.secret not in out.out + out.err
