"""Governance on the demo data, through the CLI: ingesting applies the policy (the governance asset runs after the
catalogued tables change), `governance plan` then prints `No changes.`, and `genolake query --role` returns
exactly each example role's declared columns and rows; `--policy` enforces another file the same way."""

import json

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from typer.testing import CliRunner

from genolake_assets.cli import app
from genolake_assets.transforms.tables import TABLES
from resources.governance import DEFAULT_POLICY
from resources.query import DuckDBQueryEngine
from tests.conftest import CLINVAR, VCF_100

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("demo_cohort")]
runner = CliRunner()


def _run(*args, code=0):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def _json(*args):
    return json.loads(_run("query", "--format", "json", *args).stdout)


def test_demo_roles_see_exactly_what_the_policy_declares(spark, home, tmp_path):
    _run("ingest", VCF_100, CLINVAR)
    assert _run("governance", "plan").stdout.strip() == "No changes."  # the ingest's publish run applied it
    instance = DagsterInstance.get()
    event = instance.get_latest_materialization_event(AssetKey(["governance", "permissions"]))
    metadata = event.asset_materialization.metadata
    assert metadata["grants"].value == 14 and metadata["roles"].value == 3
    assert "researcher" in metadata["what each role sees"].value
    key = AssetCheckKey(AssetKey(["governance", "permissions"]), "matches_policy")
    (record,) = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    assert record.status == AssetCheckExecutionRecordStatus.SUCCEEDED
    assert record.event.dagster_event.event_specific_data.passed  # the check ran and found no drift
    from genolake_assets.layers.governance import POLICY_KEY, policy_version

    (observed,) = instance.fetch_observations(POLICY_KEY, limit=1).records  # the CLI observed what it applied
    assert observed.asset_observation.data_version == policy_version(DEFAULT_POLICY)

    engine = DuckDBQueryEngine(home=str(home))
    everyone = engine.query("SELECT sample_id FROM genolake.samples").column("sample_id").to_pylist()
    cohort = sorted(s for s in everyone if s.startswith("NA12"))
    assert len(everyone) == 100 and len(cohort) == 65

    # researcher: calls and samples of the consented cohort, no source paths, nothing else
    rows = _json("--role", "researcher", "SELECT * FROM genolake.samples ORDER BY sample_id")
    assert [r["sample_id"] for r in rows] == cohort
    assert set(rows[0]) == set(TABLES["samples"].column_names) - {"source_path"}
    calls = _json("--role", "researcher", "SELECT count(*) AS n, count(DISTINCT sample_id) AS s FROM genolake.calls")
    expected = engine.query("SELECT count(*) AS n FROM genolake.calls WHERE sample_id IN "
                            f"({', '.join(repr(s) for s in cohort)})").column("n")[0].as_py()
    assert calls == [{"n": expected, "s": 65}] and expected > 0
    denied = _run("query", "--role", "researcher", "SELECT source_path FROM genolake.samples", code=1)
    assert "role 'researcher' may not see column 'source_path' of genolake.samples" in denied.output
    denied = _run("query", "--role", "researcher", "SELECT * FROM genolake.sites", code=1)
    assert "role 'researcher' has no SELECT grant on genolake.sites" in denied.output

    # clinical analyst: annotated variants, the report and ClinVar, never an identifier column
    report = _json("--role", "clinical_analyst", "SELECT * FROM genolake.drug_response_report")
    assert len(report) == 19
    annotated = _json("--role", "clinical_analyst", "SELECT * FROM genolake.annotated_variants LIMIT 1")
    assert set(annotated[0]) == set(TABLES["annotated_variants"].column_names) - {"source_file"}
    assert "no SELECT grant on genolake.calls" in _run(
        "query", "--role", "clinical_analyst", "SELECT * FROM genolake.calls", code=1).output

    # engineer: everything
    assert _json("--role", "engineer", "SELECT count(*) AS n FROM genolake.samples") == [{"n": 100}]
    # an unknown role is an error, never full access
    assert "unknown role 'auditor'" in _run("query", "--role", "auditor", "SELECT 1", code=1).output

    # another policy file, enforced the same way without applying it
    other = tmp_path / "other.yaml"
    other.write_text(DEFAULT_POLICY.read_text().replace("sample_id LIKE 'NA12%'", "sample_id IN ('HG00096')"))
    assert _json("--role", "researcher", "--policy", other, "SELECT sample_id FROM genolake.samples") == [
        {"sample_id": "HG00096"}]
    planned = _run("governance", "plan", "--policy", other).stdout
    assert "~ change researcher on genolake.samples" in planned and "3 to change" in planned  # calls, samples, sample_qc
    _run("governance", "apply", "--policy", other)
    assert _json("--role", "researcher", "SELECT sample_id FROM genolake.samples") == [{"sample_id": "HG00096"}]
    assert "3 to change" in _run("governance", "plan").stdout  # the shipped file differs from what is applied now


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_aws_target_without_the_aws_environment_is_one_clear_error(home, monkeypatch, command):
    import os

    for name in list(os.environ):
        if name.startswith(("AWS_", "GENOLAKE_")) and name != "GENOLAKE_HOME":
            monkeypatch.delenv(name)
    result = runner.invoke(app, ["governance", command, "--target", "aws"])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output  # a clean exit, no crash
    assert "Traceback" not in result.output
    assert "GENOLAKE_WAREHOUSE_URI" in result.output and "AWS_REGION" in result.output
