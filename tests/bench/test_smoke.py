"""The benchmark harness keeps working: its smoke mode (10k rows, PostgreSQL → PostgreSQL,
1% drift, reladiff included) runs and reports every measurement. No timing is asserted."""
import subprocess
import sys

from tests.helpers import ROOT


def test_bench_smoke_mode_reports_every_measurement(tmp_path):
    out = tmp_path / "RESULTS.md"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--work", str(tmp_path / "work"),
                        "--out", str(out)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    text = out.read_text()
    for op in ("validate", "emit", "apply", "sync", "read floor", "reladiff"):
        assert f"| pg-pg | 10k | 1% | {op} |" in text, op
    assert "Machine:" in text and "cores" in text
