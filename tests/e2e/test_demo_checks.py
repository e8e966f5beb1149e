"""`make demo` leaves every asset check passed: each check of every table, on every partition it ran on."""

from pathlib import Path

import pytest
from dagster import AssetCheckKey, DagsterInstance

from genolake_assets.definitions import defs

pytestmark = pytest.mark.slow


def check_failures(dagster_home: Path) -> tuple[list[str], list[str], dict[str, int]]:
    """(checks that failed at least once, checks that never ran, evaluations per check) in a Dagster home."""
    failed, missing, runs = [], [], {}
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        for key in sorted(defs.resolve_asset_graph().asset_check_keys, key=str):
            name = f"{key.asset_key.to_user_string()}:{key.name}"
            history = instance.event_log_storage.get_asset_check_execution_history(key, limit=100)
            runs[name] = len(history)
            if not history:
                missing.append(name)
            for record in history:
                evaluation = record.event.asset_check_evaluation if record.event else None
                if evaluation is None or not evaluation.passed:
                    failed.append(f"{name} ({record.status})")
    return failed, missing, runs


def test_make_demo_passes_every_asset_check(demo_home):
    home, output = demo_home
    assert "check failed" not in output and "check warning" not in output, output[-5000:]
    assert "ok qc/variant_qc: 1,269 rows" in output and "ok qc/sample_qc: 5,008 rows" in output, output[-3000:]
    # the CLI says what passed: 8 checks per VCF, 2 for ClinVar, 11 in the publish run
    # the two VCFs in one batch run: each file's line says so, with the batch's checks (each passed on each file)
    assert output.count("(batch of 2: 8 checks passed;") == 2 and "(2 checks passed;" in output, output[-3000:]
    assert "ok checks: 11 passed" in output, output[-3000:]
    failed, missing, runs = check_failures(home / "dagster")
    assert len(runs) >= 19  # 8 tables x (pandera + GX) + the hand-computed ones + concordance + governance
    assert not missing, f"checks that never ran on the demo: {missing}"
    assert not failed, f"checks that failed on the demo data: {failed}"
    # the processed checks ran once per ingest run: the 2 VCFs in one batch (each checked on its own data files,
    # both named in the result), 1 ClinVar release
    assert runs["processed/sites:schema"] == 1 and runs["processed/clinvar:gx_suite"] == 1
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        (record,) = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey.from_user_string("processed/sites:schema"), limit=1)
        metadata = record.event.asset_check_evaluation.metadata
        assert metadata["files"].value == 2 and metadata["files_failed"].value == 0
        assert metadata["per_file"].value.count("| True |") == 2
    assert AssetCheckKey.from_user_string("qc/sample_qc:concordance") in defs.resolve_asset_graph().asset_check_keys
