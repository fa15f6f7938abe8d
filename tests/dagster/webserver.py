"""A real ``dagster dev`` on 127.0.0.1 for the tests: started in its own session, talked
to over GraphQL exactly as the UI talks to it, stopped by PID."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.helpers import ROOT

BIN = Path(sys.executable).parent

#: the mutation the UI sends when a backfill is launched (copied from its bundle)
LAUNCH_BACKFILL = """mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
  }
}"""

BACKFILL_STATUS = """query SingleBackfillQuery($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    ... on PartitionBackfill { id status numPartitions }
    ... on PythonError { message }
  }
}"""

PARTITION_STATS = """query AssetStats($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode { partitionStats { numMaterialized numPartitions numFailed } }
  }
}"""

LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DagsterDev:
    """``dagster dev`` (webserver and daemon) over ``workspace`` (the project's by default),
    its instance ``dagster_yaml`` (the project's local one by default) in ``home``."""

    def __init__(self, home: Path, env: dict, log: Path, dagster_yaml: Path | None = None,
                 workspace: Path | None = None):
        self.home, self.port, self.log = home, free_port(), log
        self.workspace = workspace or ROOT / "workspace.yaml"
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(dagster_yaml or ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        self.env = {**os.environ, **env, "DAGSTER_HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}"}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> "DagsterDev":
        out = open(self.log, "w")
        self.proc = subprocess.Popen([str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(self.port),
                                      "-w", str(self.workspace)], cwd=self.workspace.parent, env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited: {self.log.read_text()[-3000:]}")
            try:
                entries = self.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
                if entries and all(e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
                                   for e in entries):
                    return self
            except OSError:
                pass
            time.sleep(1)
        raise RuntimeError(f"dagster dev did not load the code location: {self.log.read_text()[-3000:]}")

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            doc = json.loads(resp.read())
        if doc.get("errors"):
            raise AssertionError(doc["errors"])
        return doc["data"]

    def stop(self) -> None:
        """Stop the whole process group by the PID we started, gently then firmly."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
