"""Connections killed by the server mid-run (issue 6): ``pg_terminate_backend`` on
PostgreSQL and ``KILL`` on MariaDB, on the source and on the target, while the emitter
reads windows and while the loader applies files. The run ends in one clear line naming
the lost server (exit 3; the Dagster layer retries it) and a resumed run finishes with
every change applied exactly once, counted by a trigger on the target."""
from __future__ import annotations

import time

import pytest

from targetsync_core.dsn import parse_dsn
from tests.conformance.test_cross_crash import drifted
from tests.conformance.test_server_crash import count
from tests.e2e.test_crash import start
from tests.e2e.test_random_sync import records_by_key
from tests.helpers import ckt_records
from tests.servers import _maria_admin, _pg_admin


def kill_connections(side) -> int:
    """Kill every connection the tool holds to ``side``'s database; how many."""
    name = parse_dsn(side.url).database
    if side.kind == "postgres":
        admin = _pg_admin()
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                             "AND pid <> pg_backend_pid()", (name,)).fetchall()
        admin.close()
        return len(rows)
    admin = _maria_admin()
    with admin.cursor() as cur:
        cur.execute("SELECT id FROM information_schema.PROCESSLIST WHERE db = %s AND id <> CONNECTION_ID()", (name,))
        ids = [r[0] for r in cur.fetchall()]
        for i in ids:
            try:
                cur.execute(f"KILL {int(i)}")
            except Exception:  # noqa: BLE001 - it ended on its own meanwhile
                pass
    admin.close()
    return len(ids)


def run_with_fault(cmd: str, cfg, point: str, side, flag) -> str:
    """Run ``cmd`` paused for a moment at the fault point ``point`` (``name:n``), killing
    its connections to ``side`` from the moment the pause begins (``flag`` appears) until
    the run ends: those held idle and those it opens afterwards. Returns the error line the
    run ends with."""
    p = start(cmd, cfg, pause_at=f"{point}:0.5", pause_flag=flag)
    while p.poll() is None and not flag.exists():
        time.sleep(0.005)
    assert flag.exists(), f"{cmd} never reached {point}: {p.communicate()[1]}"
    while p.poll() is None:
        kill_connections(side)
        time.sleep(0.005)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 3, f"{cmd} was not hit by the fault (exit {p.returncode}): {err}"
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("targetsync:")]
    return line


CASES = [("postgres", "mariadb", "source", "emit"), ("postgres", "mariadb", "target", "emit"),
         ("postgres", "mariadb", "target", "apply"), ("mariadb", "postgres", "source", "emit"),
         ("mariadb", "postgres", "target", "apply")]


@pytest.mark.parametrize("source_kind,target_kind,killed,stage", CASES,
                         ids=[f"{s}-to-{t}-kill-{k}-in-{st}" for s, t, k, st in CASES])
def test_a_killed_connection_is_one_line_and_a_resumed_run_finishes(tmp_path, source_kind, target_kind, killed,
                                                                    stage, monkeypatch):
    with drifted(tmp_path, source_kind, target_kind, 71, monkeypatch, rows=30000) as (rng, src, tgt, t, tt, expected):
        side = src if killed == "source" else tgt
        flag = tmp_path / "paused"
        if stage == "emit":
            # PostgreSQL reads hold their connection between windows; a MariaDB read opens
            # one per window, so the pause sits between its connect and its query
            point = "emit.after_publish:3" if side.kind == "postgres" else "mysql.before_query:6"
            line = run_with_fault("emit", tmp_path / "emit.cfg", point, side, flag)
        else:
            assert start("emit", tmp_path / "emit.cfg").wait(300) == 0
            line = run_with_fault("apply", tmp_path / "apply.cfg", "load.before_commit:3", side, flag)
        assert "connection" in line and side.kind in line, line
        pr = start("emit", tmp_path / "emit.cfg")
        o, e = pr.communicate(timeout=300)
        assert pr.returncode == 0, e[-6000:]  # resume=true: continues
        seen = records_by_key([tt], ckt_records(tmp_path / "emit"))
        assert not {k: v for k, v in seen.items() if len(v) > 1}, "a difference was emitted twice"
        assert start("apply", tmp_path / "apply.cfg").wait(300) == 0
        assert count(tgt) == len(expected), "a change was applied twice, or not at all"
        assert tgt.read(tt) == src.read(t)
