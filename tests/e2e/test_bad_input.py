"""Bad input (issue 2, done-when 5): the SPEC 8 exit code and one line naming the
culprit, no traceback, nothing applied."""
import sqlite3
import time

import pytest

from targetsync_core.emit import files as F
from targetsync_core.model import skt
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from targetsync_core.adapters.sqlite import SqliteDatabase
from tests.helpers import cli, create_db, read_all, write_run

T = Table("main", "items", (Column("id", Kind.INT64, False), Column("name", Kind.VARCHAR, length=20),
                            Column("qty", Kind.INT32)), ("id",))


@pytest.fixture
def run(tmp_path):
    create_db(tmp_path / "source.db", [T], {"items": [(1, "a", 1), (2, "b", 2), (3, "c", 3)]})
    create_db(tmp_path / "target.db", [T], {"items": [(1, "a", 1), (4, "d", 4)]})
    write_run(tmp_path, [T])
    return tmp_path


def one_line_error(result, code: int, *needles: str) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def add(path, line):
    path.write_text(path.read_text() + line + "\n")


def test_unknown_config_key(run):
    add(run / "emit.cfg", "windowSise=10")
    one_line_error(cli("emit", "--config", str(run / "emit.cfg")), 2, "windowSise", "emit.cfg:")


def test_unknown_flag(run):
    one_line_error(cli("emit", "--config", str(run / "emit.cfg"), "--bogus", "1"), 2, "--bogus")


def test_missing_required_key(run):
    (run / "x.cfg").write_text("".join(ln + "\n" for ln in (run / "emit.cfg").read_text().splitlines()
                                       if not ln.startswith("tableFile")))
    one_line_error(cli("emit", "--config", str(run / "x.cfg")), 2, "tableFile")


def test_wrong_type(run):
    one_line_error(cli("emit", "--config", str(run / "emit.cfg"), "--windowSize", "ten"), 2, "windowSize")


def test_hex_encoding_true(run):
    add(run / "apply.cfg", "hexEncoding=true")
    one_line_error(cli("apply", "--config", str(run / "apply.cfg")), 2, "hexEncoding")


def test_missing_dsn_file(run):
    (run / "source.dsn").unlink()
    one_line_error(cli("emit", "--config", str(run / "emit.cfg")), 2, "sourceDsnFile", "source.dsn")


def test_table_without_primary_key(run):
    for db in ("source.db", "target.db"):
        sqlite3.connect(run / db).executescript('CREATE TABLE "nokey" (a INT, b TEXT);')
    (run / "tables.txt").write_text("main.nokey\n")
    (run / "schema.cfg").write_text("sourceType=sqlite\nsourceDsnFile=source.dsn\ntargetType=sqlite\n"
                                    "tableFile=tables.txt\nschemaFile=s2.skt\noutputDirectory=ddl\n")
    one_line_error(cli("schema", "--config", str(run / "schema.cfg")), 2, "main.nokey", "primary key")
    skt.write(run / "schema.skt", [Table("main", "nokey", (Column("a", Kind.INT32), Column("b", Kind.TEXT)), ())])
    one_line_error(cli("emit", "--config", str(run / "emit.cfg")), 2, "main.nokey", "primary key")


def test_table_not_found(run):
    (run / "tables.txt").write_text("main.items\nmain.ghost\n")
    one_line_error(cli("emit", "--config", str(run / "emit.cfg")), 2, "main.ghost")
    assert not (run / "emit").exists()


def test_skt_that_does_not_match_the_live_table(run):
    sqlite3.connect(run / "target.db").executescript(
        'DROP TABLE items; CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(20), qty TEXT);')
    one_line_error(cli("emit", "--config", str(run / "emit.cfg")), 2, "target column main.items.qty", "TEXT", "int32")
    one_line_error(cli("validate", "--config", str(run / "emit.cfg")), 2, "qty")


def test_malformed_ckt_line_applies_nothing(run):
    assert cli("emit", "--config", str(run / "emit.cfg")).returncode == 0
    ckt = run / "emit" / "0.ckt"
    good = ckt.read_text()
    ckt.write_text(good + "I\tmain.items\t5\tZQ==\tnot-a-number\t\n", newline="")
    (run / "emit" / "0.ckt.hw").unlink()   # a file edited by hand: no sidecar to check it against
    before = read_all(SqliteDatabase(str(run / "target.db")), T)
    line = one_line_error(cli("apply", "--config", str(run / "apply.cfg")), 3, "0.ckt:", "field 5", "qty")
    assert f":{good.count(chr(10)) + 1} field" in line
    after = read_all(SqliteDatabase(str(run / "target.db")), T)
    assert before == after and ckt.exists()


def test_second_loader_is_refused_while_the_lease_is_held(run):
    import subprocess
    import sys
    from tests.helpers import ROOT
    (run / "emit").mkdir()
    F.new_run(run / "emit")            # a run with no files yet: the first loader waits
    first = subprocess.Popen([sys.executable, "-m", "targetsync_core.cli", "apply", "--config",
                              str(run / "apply.cfg")], env={"PYTHONPATH": str(ROOT)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                conn = sqlite3.connect(run / "target.db")
                if conn.execute("SELECT count(*) FROM _targetsync_lease WHERE holder <> ''").fetchone()[0]:
                    break
            except sqlite3.OperationalError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("first loader never took the lease")
        one_line_error(cli("apply", "--config", str(run / "apply.cfg")), 3, "another loader", str(first.pid))
    finally:
        F.write_done(run / "emit")
        assert first.wait(30) == 0
    assert "CHANGE.DONE - exiting" in first.stderr.read()


def test_unreachable_sqlite_database_is_named(run):
    (run / "target.dsn").write_text("sqlite:///nowhere/target.db\n")
    one_line_error(cli("validate", "--config", str(run / "emit.cfg")), 3, "nowhere/target.db")


def test_debug_shows_the_traceback(run):
    add(run / "emit.cfg", "windowSise=10")
    r = cli("emit", "--config", str(run / "emit.cfg"), "--debug")
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_validate_exits_1_on_differences_and_0_when_in_sync(run):
    r = cli("validate", "--config", str(run / "emit.cfg"))
    assert r.returncode == 1 and "main.items" in r.stdout
    assert cli("sync", "--config", str(run / "sync.cfg")).returncode == 0
    assert cli("validate", "--config", str(run / "emit.cfg")).returncode == 0


def test_emit_with_target_sync_emit_false_only_validates(run):
    r = cli("emit", "--config", str(run / "emit.cfg"), "--targetSyncEmit", "false")
    assert r.returncode == 1 and not (run / "emit").exists()


def test_a_key_changed_twice_is_refused_and_nothing_applied(run):
    """Out of key order, so the loader checks the whole file for a repeated key."""
    assert cli("emit", "--config", str(run / "emit.cfg")).returncode == 0
    ckt = run / "emit" / "0.ckt"
    good = ckt.read_text()
    first = good.splitlines(keepends=True)[0]
    ckt.write_text(good + first, newline="")
    (run / "emit" / "0.ckt.hw").unlink()   # a file edited by hand: no sidecar to check it against
    before = read_all(SqliteDatabase(str(run / "target.db")), T)
    one_line_error(cli("apply", "--config", str(run / "apply.cfg")), 3,
                   f"0.ckt:{good.count(chr(10)) + 1}", "already changed at line 1")
    assert read_all(SqliteDatabase(str(run / "target.db")), T) == before and ckt.exists()


def test_a_bad_line_after_chunks_were_applied_rolls_the_whole_file_back(run, monkeypatch, capsys):
    """Files are decoded and applied a chunk at a time inside their one transaction."""
    from targetsync_core.cli import main
    from targetsync_core.load import loader
    monkeypatch.setattr(loader, "CHUNK_RECORDS", 1)
    assert main(["emit", "--config", str(run / "emit.cfg")]) == 0
    ckt = run / "emit" / "0.ckt"
    good = ckt.read_text()
    assert good.count("\n") == 3
    ckt.write_text(good + "I\tmain.items\t5\tZQ==\tnot-a-number\t\n", newline="")
    (run / "emit" / "0.ckt.hw").unlink()   # a file edited by hand: no sidecar to check it against
    before = read_all(SqliteDatabase(str(run / "target.db")), T)
    assert main(["apply", "--config", str(run / "apply.cfg")]) == 3
    assert "0.ckt:4" in capsys.readouterr().err
    assert read_all(SqliteDatabase(str(run / "target.db")), T) == before and ckt.exists()
    ckt.write_text(good, newline="")
    assert main(["apply", "--config", str(run / "apply.cfg")]) == 0
    assert read_all(SqliteDatabase(str(run / "target.db")), T) == read_all(SqliteDatabase(str(run / "source.db")), T)
