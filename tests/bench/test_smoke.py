"""The benchmark harness keeps working: its smoke mode (10k rows, PostgreSQL → PostgreSQL,
1% drift, reladiff included) runs and reports every measurement. No timing is asserted.
It uses databases of its own (a unique prefix) and drops them, so a benchmark running on
the same servers is left alone."""
import subprocess
import sys
import uuid

from tests.helpers import ROOT


def test_bench_smoke_mode_reports_every_measurement(tmp_path):
    out = tmp_path / "RESULTS.md"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--work", str(tmp_path / "work"),
                        "--out", str(out), "--db-prefix", f"tssmoke_{uuid.uuid4().hex[:8]}", "--drop"],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    text = out.read_text()
    for op in ("validate", "emit", "apply", "sync", "read floor", "reladiff"):
        assert f"| pg-pg | 10k | 1% | {op} |" in text, op
    assert "Machine:" in text and "cores" in text


def test_bench_help_prints():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--help"], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0 and "--reladiff-repeat" in r.stdout, r.stderr[-2000:]


def test_an_unknown_scenario_is_refused_in_one_line():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--scenarios", "pg-pg,pg-mariadb"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.splitlines()[-1].endswith("--scenarios: unknown pg-mariadb (known: pg-pg, pg-maria, maria-pg, "
                                               "sqlite-sqlite)"), r.stderr


def test_apply_ab_times_each_checkout_in_turn(tmp_path):
    """bench/apply_ab.py on 10k rows of PostgreSQL → MariaDB, this checkout twice: every
    apply runs (each from the drifted target) and medians are printed. No timing asserted."""
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "apply_ab.py"), "--checkouts", str(ROOT), str(ROOT),
                        "--scenario", "pg-maria", "--size", "10k", "--drift", "10", "--rounds", "1",
                        "--work", str(tmp_path / "work"), "--db-prefix", f"tsab_{uuid.uuid4().hex[:8]}"],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert len([ln for ln in lines if ln.startswith(f"{ROOT}: ")]) == 2, r.stdout
    assert len([ln for ln in lines if ln.startswith(f"median {ROOT}: ")]) == 1, r.stdout


def test_dagster_full_sync_bench_runs_both_ways():
    """bench/dagster_full.py on 3 tiny SQLite tables: both the command line and the Dagster
    job run and converge (they exit non-zero otherwise) and the line is printed."""
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "dagster_full.py"), "--tables", "3", "--rows", "10",
                        "--repeat", "1", "--pairs", "sqlite"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "Dagster / command line" in r.stdout
