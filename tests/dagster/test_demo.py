"""``make demo``'s output is quiet (issue 19): no Dagster DEBUG event stream, our summary
with the target's row count labelled as before the sync."""
import os
import shutil
import subprocess
import sys

from tests.helpers import ROOT


def test_the_demo_prints_no_debug_lines_and_a_labelled_summary(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    r = subprocess.run([sys.executable, "-m", "targetsync_dagster.demo", "--dir", str(tmp_path / "run"),
                        "--rows", "300"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)})
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "DEBUG" not in out and "Traceback" not in out, out[:3000]
    assert "target rows (before)" in out and "validate afterwards: 0 difference(s)" in out
    assert len(out.splitlines()) < 15, out
