"""The core imports no driver and no Dagster (done-when 6); the README's two commands
work on a fresh clone (done-when 7)."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def test_core_imports_no_driver_or_dagster():
    code = ("import targetsync_core, targetsync_core.cli, targetsync_core.commands, sys; "
            "assert not any(m.startswith(('dagster','psycopg','pymysql')) for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    subprocess.run([sys.executable, "-c", "import targetsync_core, sys; assert not any(m.startswith(('dagster','psycopg','pymysql')) for m in sys.modules)"], check=True, cwd=ROOT)


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- setup -->\s*```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert block, "README must hold the set-up block marked <!-- setup -->"
    return [ln.strip() for ln in block.group(1).splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_readme_names_the_ci_test_command():
    cmds = readme_commands()
    assert len(cmds) == 2
    assert cmds[1] in (ROOT / ".ci" / "run").read_text()


def test_readme_demo_command_works_on_a_fresh_clone(tmp_path):
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.fail("the fresh-clone test needs the git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    demo = readme_commands()[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    r = subprocess.run(demo, shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "validate afterwards: 0 difference(s)" in r.stdout
    assert re.search(r"main\.customers\s+[\d,]+\s+[\d,]+\s+[\d,]+", r.stdout)
