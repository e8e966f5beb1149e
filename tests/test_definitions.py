"""The code location loads, and every asset carries its layer group, kinds, description and owner."""

import ast
from pathlib import Path

from dagster import AssetKey

from genolake_assets.definitions import defs

ROOT = Path(__file__).resolve().parents[1]

EXPECTED = {
    "raw/vcf_files": "raw",
    "raw/quarantine": "raw",
    "raw/clinvar_releases": "raw",
    "processed/sites": "processed",
    "processed/calls": "processed",
    "processed/samples": "processed",
    "processed/clinvar": "processed",
    "catalog/sites": "catalog",
    "catalog/calls": "catalog",
    "catalog/samples": "catalog",
    "catalog/clinvar": "catalog",
    "annotated/annotated_variants": "annotated",
    "qc/variant_qc": "qc",
    "qc/sample_qc": "qc",
    "reports/drug_response_report": "reports",
    "governance/policy_file": "governance",
    "governance/permissions": "governance",
}


def test_asset_keys_and_groups_snapshot():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert keys == EXPECTED  # a rename must be deliberate: it changes table names and lineage


def test_every_asset_has_kinds_description_and_owner():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description and len(node.description) > 20, key
        assert node.kinds, key
        assert node.owners, key


def test_table_names_equal_catalog_names():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        if key.path[0] in ("processed", "catalog", "annotated", "qc", "reports"):
            assert graph.get(key).metadata["table"] == f"genolake.{key.path[-1]}"


def test_lineage_raw_processed_catalog_annotated_report():
    graph = defs.resolve_asset_graph()

    def parents(path):
        return {k.to_user_string() for k in graph.get(AssetKey(path.split("/"))).parent_keys}

    assert parents("processed/calls") == {"raw/vcf_files"}
    assert parents("catalog/sites") == {"processed/sites"}
    assert parents("annotated/annotated_variants") == {"catalog/sites", "catalog/clinvar"}
    assert parents("reports/drug_response_report") == {
        "annotated/annotated_variants", "catalog/calls", "catalog/samples"}
    assert parents("qc/variant_qc") == {"catalog/sites", "catalog/samples"}
    assert parents("qc/sample_qc") == {"catalog/sites", "catalog/calls", "catalog/samples"}
    assert parents("governance/permissions") == {  # applied after every governed table changes, and the policy
        "governance/policy_file", "catalog/sites", "catalog/calls", "catalog/samples", "catalog/clinvar",
        "annotated/annotated_variants", "qc/variant_qc", "qc/sample_qc", "reports/drug_response_report"}


TABLE_ASSETS = ("processed/sites", "processed/calls", "processed/samples", "processed/clinvar",
                "annotated/annotated_variants", "qc/variant_qc", "qc/sample_qc", "reports/drug_response_report")


def test_every_table_has_a_pandera_and_a_great_expectations_check():
    checks = {}
    graph = defs.resolve_asset_graph()
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        checks.setdefault(key.asset_key.to_user_string(), []).append(spec)
    for asset in TABLE_ASSETS:
        descriptions = [(spec.description or "") for spec in checks.get(asset, [])]
        assert any(d.startswith("pandera") for d in descriptions), asset
        assert any(d.startswith("Great Expectations") for d in descriptions), asset
        # everything but the concordance warning blocks what comes after
        assert {spec.name for spec in checks[asset] if not spec.blocking} <= {"concordance", "cohort_has_samples"}, asset
    assert "governance/permissions" in checks


def test_sensors_and_jobs():
    assert defs.resolve_sensor_def("landing_sensor")
    for job in ("ingest_vcf", "ingest_clinvar", "publish"):
        assert defs.resolve_job_def(job)


def test_transforms_quality_and_governance_never_import_dagster():
    offenders = []
    for folder in ("genolake_assets/transforms", "quality", "governance"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                offenders += [f"{path}: {n}" for n in names if n.split(".")[0].startswith("dagster")]
    assert not offenders


def test_dg_check_defs_validates_the_project():
    """[tool.dg] in pyproject.toml makes `dg check defs` load and validate the code location."""
    import os
    import subprocess
    import sys

    dg = Path(sys.executable).with_name("dg")
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    done = subprocess.run([str(dg), "check", "defs"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr
