"""End to end through the real Dagster webserver: read the asset graph over its GraphQL API."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

from tests.test_definitions import EXPECTED as EXPECTED_GROUPS  # noqa: E402  (one snapshot of keys and groups)
from tests.test_definitions import TABLE_ASSETS  # noqa: E402

EXPECTED_EDGES = {
    ("raw/vcf_files", "processed/sites"),
    ("raw/vcf_files", "processed/calls"),
    ("raw/vcf_files", "processed/samples"),
    ("raw/clinvar_releases", "processed/clinvar"),
    *{(f"processed/{t}", f"catalog/{t}") for t in ("sites", "calls", "samples", "clinvar")},
    ("catalog/sites", "annotated/annotated_variants"),
    ("catalog/clinvar", "annotated/annotated_variants"),
    ("annotated/annotated_variants", "reports/drug_response_report"),
    ("catalog/calls", "reports/drug_response_report"),
    ("catalog/samples", "reports/drug_response_report"),
    ("governance/policy_file", "governance/permissions"),
    ("reports/drug_response_report", "governance/permissions"),
}

ASSETS_QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    description
    kinds
    dependencyKeys { path }
    dependedByKeys { path }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name } }
    }
  }
}
"""

SENSORS_QUERY = """
{
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } sensors { name } } }
  }
}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _restore_sigint():
    # A server started from a non-interactive shell inherits SIGINT as ignored; undo that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    pgid = os.getpgid(proc.pid)
    os.killpg(pgid, signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=10)
    # The code server runs in the same process group; make sure nothing is left behind.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    """Start `dagster-webserver -w workspace.yaml` on a free loopback port and yield its base URL."""
    dagster_home = tmp_path_factory.mktemp("dagster_home")
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    log_path = tmp_path_factory.mktemp("webserver") / "webserver.log"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "GENOLAKE_HOME": str(tmp_path_factory.mktemp("genolake_home")),
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=_restore_sigint, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"webserver exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if requests.get(f"{base}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"webserver not ready after 120 s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield base
    finally:
        _stop(proc)


def _graphql(base: str, query: str) -> dict:
    response = requests.post(f"{base}/graphql", json={"query": query}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


@pytest.fixture(scope="module")
def asset_nodes(webserver):
    nodes = _graphql(webserver, ASSETS_QUERY)["assetNodes"]
    return {"/".join(node["assetKey"]["path"]): node for node in nodes}


def test_asset_keys_and_groups(asset_nodes):
    assert {key: node["groupName"] for key, node in asset_nodes.items()} == EXPECTED_GROUPS
    assert {node["groupName"] for node in asset_nodes.values()} == {"raw", "processed", "catalog", "annotated", "qc",
                                                                   "reports", "governance"}


def test_asset_dependencies(asset_nodes):
    upstream_edges = {("/".join(dep["path"]), key) for key, node in asset_nodes.items() for dep in node["dependencyKeys"]}
    downstream_edges = {(key, "/".join(dep["path"])) for key, node in asset_nodes.items() for dep in node["dependedByKeys"]}
    assert EXPECTED_EDGES <= upstream_edges
    assert upstream_edges == downstream_edges


def test_every_asset_has_a_description_and_a_kind(asset_nodes):
    for key, node in asset_nodes.items():
        assert (node["description"] or "").strip(), f"{key} has no description"
        assert node["kinds"], f"{key} has no kinds"


def test_landing_sensor_is_registered(webserver):
    result = _graphql(webserver, SENSORS_QUERY)["repositoriesOrError"]
    assert result["__typename"] == "RepositoryConnection", result
    sensors = {sensor["name"] for repo in result["nodes"] for sensor in repo["sensors"]}
    assert "landing_sensor" in sensors


def test_asset_checks(asset_nodes):
    for key in (*TABLE_ASSETS, "governance/permissions"):
        result = asset_nodes[key]["assetChecksOrError"]
        assert result["__typename"] == "AssetChecks", f"{key}: {result}"
        assert result["checks"], f"{key} has no asset checks"
        if key != "governance/permissions":  # every table: a pandera schema and a Great Expectations suite
            assert {"schema", "gx_suite"} <= {c["name"] for c in result["checks"]}, key
