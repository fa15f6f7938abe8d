"""Stand-ins for cloud services the tests cannot reach (fakesnow for Snowflake,
bqemulator for BigQuery, moto for S3, Google's Spanner emulator), started by the test
command itself on free ports and stopped by PID when the session ends.

A stand-in whose Python requirements clash with the project's (bqemulator and fakesnow
pin different sqlglot releases; moto's server pulls Flask) runs from a virtual
environment of its own, made once by :func:`tool_venv` under
``~/.cache/targetsync-tests/venvs`` from the package registry and reused while its
requirements are unchanged. Under ``CI=true`` a stand-in that cannot be made or
started fails the test; elsewhere the test is skipped with the reason.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import unreachable

CACHE = Path(os.environ.get("TARGETSYNC_TEST_CACHE", Path.home() / ".cache" / "targetsync-tests"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool_venv(name: str, requirements: list[str]) -> Path:
    """The ``bin`` directory of a virtual environment holding ``requirements`` (pip
    specifiers), made on first use and kept, keyed by the requirements' text; concurrent
    test processes wait for one another on a lock file."""
    digest = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()[:12]
    root = CACHE / "venvs" / f"{name}-{digest}"
    done = root / ".complete"
    if done.exists():
        return root / "bin"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{name}-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return root / "bin"
        shutil.rmtree(root, ignore_errors=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, capture_output=True, text=True)
            subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", *requirements],
                           check=True, capture_output=True, text=True, timeout=900)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            shutil.rmtree(root, ignore_errors=True)
            detail = (getattr(exc, "stderr", "") or "").strip().splitlines()[-1:] or [str(exc)]
            unreachable(f"{name} (pip install {' '.join(requirements)})", RuntimeError(detail[0]))
        done.touch()
    return root / "bin"


@dataclass
class Service:
    """A stand-in running as a child process: its port, and how to stop it."""

    name: str
    port: int
    proc: subprocess.Popen
    workdir: Path
    env: dict = field(default_factory=dict)

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


_running: dict[str, Service] = {}


def start_service(name: str, argv_of, env: dict | None = None, timeout: float = 60, ready=None) -> Service:
    """``argv_of(port, workdir)`` started once per test session on a free port (in a
    working directory of its own), ready when the port accepts a connection and
    ``ready(service)`` (if given) returns true; stopped by PID at exit. A stand-in that
    exits or is not ready within ``timeout`` seconds fails (CI) or skips the test, with
    the last lines it wrote."""
    running = _running.get(name)
    if running is not None and running.proc.poll() is None:
        return running
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"ts-{name}-"))
    log = open(workdir / "service.log", "w")
    proc = subprocess.Popen(argv_of(port, workdir), cwd=workdir, env={**os.environ, **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    service = Service(name, port, proc, workdir, env or {})
    atexit.register(service.stop)

    def tail() -> str:
        with contextlib.suppress(OSError):
            return " | ".join((workdir / "service.log").read_text(errors="replace").strip().splitlines()[-3:])
        return ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            reason = tail()
            service.stop()
            unreachable(name, RuntimeError(f"exited {proc.returncode}: {reason}"))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            if ready is None or ready(service):
                _running[name] = service
                return service
        except OSError:
            pass
        time.sleep(0.2)
    reason = tail()
    service.stop()
    unreachable(name, TimeoutError(f"not ready on port {port} after {timeout:.0f} s: {reason}"))
