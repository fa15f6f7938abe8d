"""The test command starts PostgreSQL and MariaDB when they are installed but stopped,
and under CI=true an unreachable server fails the run instead of skipping (issue 3,
done-when 4)."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.helpers import ROOT


def pg_up() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], capture_output=True).returncode == 0


def maria_up() -> bool:
    return subprocess.run(["mariadb-admin", "-h", "127.0.0.1", "-u", "root", "ping"],
                          capture_output=True).returncode == 0


def wait(check, want: bool) -> bool:
    for _ in range(60):
        if check() == want:
            return True
        time.sleep(0.5)
    return False


def test_services_script_starts_stopped_servers():
    if not (shutil.which("pg_ctlcluster") and shutil.which("mariadb-admin")):
        pytest.fail("PostgreSQL and MariaDB must be installed on this machine")
    versions = os.listdir("/etc/postgresql")
    subprocess.run(["mariadb-admin", "-h", "127.0.0.1", "-u", "root", "shutdown"], check=True)
    for v in versions:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", v, "main", "stop"], check=True)
    assert wait(pg_up, False) and wait(maria_up, False), "servers did not stop"
    r = subprocess.run(["bash", str(ROOT / "scripts" / "services.sh")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "starting PostgreSQL" in r.stdout and "starting MariaDB" in r.stdout
    assert pg_up() and maria_up()


def test_unreachable_server_fails_under_ci_and_skips_elsewhere():
    target = str(ROOT / "tests" / "e2e" / "test_servers_reachable.py") + "::test_postgres_database_fixture"
    env = {**os.environ, "TARGETSYNC_TEST_PG": "postgresql://root@127.0.0.1:1/test", "PYTHONPATH": str(ROOT)}
    ci = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
                        env={**env, "CI": "true"}, capture_output=True, text=True, cwd=ROOT)
    assert ci.returncode == 1 and "under CI a missing server is a failure" in ci.stdout
    local = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", target],
                           env={**env, "CI": ""}, capture_output=True, text=True, cwd=ROOT)
    assert local.returncode == 0 and "1 skipped" in local.stdout
