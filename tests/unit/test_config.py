"""Configuration: keys, types, defaults, contradictions, paths — all before any database."""
from pathlib import Path

import pytest

from targetsync_core import config
from targetsync_core.dsn import parse_dsn, read_dsn_file, remember_secret, scrub
from targetsync_core.errors import ConfigError

EMIT = {"targetSyncEmit": "true", "emitOutputDirectory": "out", "sourceType": "sqlite", "sourceDsnFile": "s.dsn",
        "targetType": "sqlite", "targetDsnFile": "t.dsn", "schemaFile": "x.skt", "tableFile": "tables.txt"}


def build(command, items, flags=None, base=Path("/cfg")):
    return config.build(command, [(k, v, f"f.cfg:{i}") for i, (k, v) in enumerate(items.items(), 1)],
                        flags or {}, base, Path("/cwd"))


def test_defaults_paths_and_flag_precedence():
    cfg = build("emit", EMIT, {"windowSize": "7", "schemaFile": "flag.skt"})
    assert cfg["windowSize"] == 7 and cfg["maxThreads"] == 4 and cfg["resume"] is False
    assert cfg["emitOutputDirectory"] == Path("/cfg/out")      # file paths: relative to the file
    assert cfg["schemaFile"] == Path("/cwd/flag.skt")          # flag paths: relative to the cwd


@pytest.mark.parametrize("items,needle", [
    ({**EMIT, "bogus": "1"}, "bogus"),
    ({k: v for k, v in EMIT.items() if k != "schemaFile"}, "schemaFile"),
    ({**EMIT, "windowSize": "0"}, "windowSize"),
    ({**EMIT, "maxThreads": "x"}, "maxThreads"),
    ({**EMIT, "resume": "yes"}, "resume"),
    ({**EMIT, "resume": "true"}, "checkpointDir"),
    ({**EMIT, "schemaRename": "a-b"}, "schemaRename"),
    ({**EMIT, "doneDirectory": "d"}, "doneDirectory"),
    ({**EMIT, "windowSize": ""}, "windowSize"),
])
def test_emit_refusals_name_the_key(items, needle):
    with pytest.raises(ConfigError, match=needle):
        build("emit", items)


def test_apply_and_sync_contradictions():
    apply = {"targetType": "sqlite", "targetDsnFile": "t", "schemaFile": "s", "inputDirectory": "in",
             "doneDirectory": "done"}
    with pytest.raises(ConfigError, match="hexEncoding"):
        build("apply", {**apply, "hexEncoding": "true"})
    with pytest.raises(ConfigError, match="doneDirectory"):
        build("apply", {**apply, "doneDirectory": "in"})
    sync = {**EMIT, "doneDirectory": "done"}
    del sync["targetSyncEmit"]
    assert build("sync", sync)["inputDirectory"] == Path("/cfg/out")
    with pytest.raises(ConfigError, match="targetSyncEmit"):
        build("sync", {**sync, "targetSyncEmit": "false"})
    with pytest.raises(ConfigError, match="inputDirectory"):
        build("sync", {**sync, "inputDirectory": "elsewhere"})


def test_rename_and_table_list(tmp_path):
    assert build("validate", {**EMIT, "schemaRename": "dbo:app, x:y"})["schemaRename"] == {"dbo": "app", "x": "y"}
    tl = tmp_path / "t.txt"
    tl.write_text("# comment\n\nmain.a\n  main.b  \n")
    assert config.read_table_list(tl) == ["main.a", "main.b"]
    tl.write_text("main.a\nmain.a\n")
    with pytest.raises(ConfigError, match="listed twice"):
        config.read_table_list(tl)
    tl.write_text("justaname\n")
    with pytest.raises(ConfigError, match="t.txt:1"):
        config.read_table_list(tl)


def test_config_file_syntax(tmp_path):
    f = tmp_path / "c.cfg"
    f.write_text("# c\nwindowSize = 5\nnot a setting\n")
    with pytest.raises(ConfigError, match="c.cfg:3"):
        config.read_file(str(f))
    with pytest.raises(ConfigError, match="does not exist"):
        config.read_file(str(tmp_path / "none.cfg"))


def test_dsn_parsing_never_echoes_the_secret(tmp_path):
    f = tmp_path / "pg.dsn"
    f.write_text("postgresql+psycopg://app:s3cr3t-pw@db.example:5433/sales?sslmode=require\n")
    dsn = read_dsn_file(str(f), "sourceDsnFile")
    assert (dsn.scheme, dsn.driver, dsn.username, dsn.host, dsn.port, dsn.database) == \
        ("postgresql", "psycopg", "app", "db.example", 5433, "sales")
    assert "s3cr3t" not in str(dsn) and "s3cr3t" not in repr(dsn)
    assert scrub("failed: password s3cr3t-pw rejected") == "failed: password *** rejected"
    f.write_text("postgresql://app:pw@host:notaport/db\n")
    with pytest.raises(ConfigError) as err:
        read_dsn_file(str(f), "sourceDsnFile")
    assert "notaport" not in str(err.value) and "pg.dsn" in str(err.value)
    rel = parse_dsn("sqlite:///data/x.db", base=Path("/run"))
    assert rel.database == "/run/data/x.db"
    assert parse_dsn("sqlite:////abs/x.db").database == "/abs/x.db"
    remember_secret(rel)


def test_a_path_naming_an_unknown_users_home_is_refused_naming_the_key():
    """Found by atheris: ``~name`` expands to that user's home, and an unknown user made
    pathlib raise RuntimeError instead of a clean refusal."""
    with pytest.raises(ConfigError, match="tableFile"):
        build("emit", {**EMIT, "tableFile": "~no_such_user_here/tables.txt"})


def test_a_path_with_a_nul_byte_is_refused_naming_the_key():
    """Found by atheris: a NUL byte in a path made pathlib raise ValueError."""
    for raw in ("~x\x00y/t.txt", "tables\x00.txt"):
        with pytest.raises(ConfigError, match="tableFile"):
            build("emit", {**EMIT, "tableFile": raw})
