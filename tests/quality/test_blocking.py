"""Bad data on purpose: each corruption fails the intended check with the failing rows in its metadata, nothing of it is
committed, and nothing downstream of it runs in that run. The pipeline is the real one (CLI and Dagster runs over
the real definitions); only a transform's output is corrupted on its way to the checks."""

import re
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterInstance, materialize
from pyspark.sql import functions as F
from typer.testing import CliRunner

from genolake_assets import mode
from genolake_assets.cli import app
from genolake_assets.definitions import defs
from resources import resources_for_mode
from resources import lakehouse as lakehouse_module
from resources.lakehouse import Lakehouse
from tests.conftest import CLINVAR, VCF_100

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def lake(tmp_path_factory, spark):
    """A home with the 100-sample slice and ClinVar ingested and published (good data)."""
    home = tmp_path_factory.mktemp("blocking") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENOLAKE_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        patch.delenv("GENOLAKE_MODE", raising=False)
        done = runner.invoke(app, ["ingest", str(VCF_100), str(CLINVAR)], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        yield home


def _copy(tmp_path, name):
    target = tmp_path / name
    shutil.copyfile(VCF_100, target)
    return target


def _rewrite(paths, change):
    """Rewrite a run's Parquet data files in place with ``change(table) -> table``."""
    for path in paths:
        pq.write_table(change(pq.read_table(path)), path)


def _evaluation(check: str, run_id: str | None = None):
    key = AssetKey.from_user_string(check.split(":")[0])
    from dagster import AssetCheckKey

    history = DagsterInstance.get().event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(key, check.split(":")[1]), limit=5)
    for record in history:
        if run_id is None or record.run_id == run_id:
            return record.event.asset_check_evaluation
    raise AssertionError(f"no evaluation of {check}")


def _ingest_corrupted(monkeypatch, tmp_path, name, corrupt):
    """``genolake ingest`` of a copy of the slice under a new name (a new file to genolake) whose new data files
    ``corrupt(files)`` changes on their way to the checks."""
    from genolake_assets.layers import processed

    real = processed.ingest_vcf

    def corrupted(*args, **kwargs):
        stats = real(*args, **kwargs)
        corrupt({t: [f["path"] for f in stats.files if f["table"] == t] for t in ("sites", "calls", "samples")})
        return stats

    monkeypatch.setattr(processed, "ingest_vcf", corrupted)
    return runner.invoke(app, ["ingest", str(_copy(tmp_path, name))], catch_exceptions=False)


def _committed_files(home) -> set[str]:
    lakehouse = Lakehouse.local(str(home))
    snapshot = lakehouse.current_set().snapshot("sites")
    return {f.partition.get("source_file") for f in lakehouse.files("sites", snapshot)}


def test_an_af_mismatch_between_sites_and_calls_blocks_the_file(lake, monkeypatch, tmp_path):
    changed = {}

    def corrupt(files):
        def one_less(table):
            ac, an, af = (table[c].to_pylist() for c in ("ac", "an", "af"))
            rows = [i for i, count in enumerate(ac) if count and count > 1][:3]
            changed["starts"] = [table["start"][i].as_py() for i in rows]
            for i in rows:  # the site stays self-consistent (af = ac / an): only its calls can tell
                ac[i] -= 1
                af[i] = ac[i] / an[i]
            table = table.set_column(table.schema.get_field_index("ac"), "ac", pa.array(ac, pa.int32()))
            return table.set_column(table.schema.get_field_index("af"), "af", pa.array(af, pa.float64()))
        _rewrite(files["sites"][:1], one_less)

    before = _committed_files(lake)
    done = _ingest_corrupted(monkeypatch, tmp_path, "af_mismatch.vcf.gz", corrupt)
    assert done.exit_code == 1
    assert "x check failed" in done.output and "processed/sites:gx_suite" in done.output
    assert "(3 failing rows)" in done.output
    evaluation = _evaluation("processed/sites:gx_suite")
    assert not evaluation.passed and evaluation.metadata["failing_rows"].value == 3
    sample = evaluation.metadata["failing_rows_sample"].value
    assert all(str(start) in sample for start in changed["starts"])
    assert _evaluation("processed/sites:schema").passed  # in range: pandera alone cannot see it
    assert _committed_files(lake) == before  # not published: the table is as it was


def test_a_duplicated_sample_and_a_wrongly_typed_column_fail_their_schemas(lake, monkeypatch, tmp_path):
    def corrupt(files):
        _rewrite(files["samples"][:1], lambda t: pa.concat_tables([t, t.slice(0, 1)]))
        _rewrite(files["calls"][:1], lambda t: t.set_column(t.schema.get_field_index("dp"), "dp",
                                                             pc.cast(t["dp"], pa.string())))

    before = _committed_files(lake)
    done = _ingest_corrupted(monkeypatch, tmp_path, "dup_and_type.vcf.gz", corrupt)
    assert done.exit_code == 1
    samples = _evaluation("processed/samples:schema")
    assert not samples.passed and samples.metadata["failing_rows"].value == 2  # both rows of the duplicated ID
    calls = _evaluation("processed/calls:schema")
    assert not calls.passed and "dp" in calls.metadata["message"].value
    assert "processed/samples:schema" in done.output and "processed/calls:schema" in done.output
    assert _committed_files(lake) == before


def _publish(run_config=None):
    from genolake_assets.jobs import PUBLISH

    return materialize([*defs.assets, *defs.asset_checks], selection=PUBLISH, instance=DagsterInstance.get(),
                       resources=resources_for_mode(mode.current()), run_config=run_config, raise_on_error=False)


def _materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_out_of_range_qc_values_block_the_table_and_what_depends_on_it(lake, monkeypatch):
    from genolake_assets.transforms import qc

    lakehouse = Lakehouse.local(str(lake))
    sites = lakehouse.read("sites", lakehouse.current_set().snapshot("sites"))
    starts = sorted(set(sites["start"].to_pylist()))[:2]
    real = qc.variant_qc
    monkeypatch.setattr(qc, "variant_qc", lambda *a, **k: real(*a, **k).withColumn(
        "call_rate", F.when(F.col("start").isin(starts), F.lit(1.5)).otherwise(F.col("call_rate"))))
    expected = sum(1 for s in sites["start"].to_pylist() if s in starts)
    before = lakehouse.current_set().snapshot("variant_qc")
    # the lake is unchanged, so an increment would compute nothing: force a full recomputation (no derived file's
    # fingerprint is recognised)
    monkeypatch.setattr(lakehouse_module, "_FINGERPRINT", re.compile(r"(?!x)x"))

    result = _publish()
    assert not result.success
    evaluation = _evaluation("qc/variant_qc:schema", result.run_id)
    assert not evaluation.passed and evaluation.metadata["failing_rows"].value == expected
    assert "call_rate" in evaluation.metadata["message"].value
    done = _materialized(result)
    assert "qc/variant_qc" not in done and "governance/permissions" not in done  # downstream did not run
    assert "reports/drug_response_report" in done  # not downstream of variant_qc: it still runs
    assert Lakehouse.local(str(lake)).current_set().snapshot("variant_qc") == before


def test_a_corrupt_annotation_stops_the_report(lake, monkeypatch):
    from genolake_assets.layers import annotated

    real = annotated.annotate
    good = Lakehouse.local(str(lake))
    rows = good.read("annotated_variants", good.current_set().snapshot("annotated_variants"))
    target = sorted(set(rows["allele_id"].to_pylist()))[:2]
    expected = sum(1 for a in rows["allele_id"].to_pylist() if a in target)
    monkeypatch.setattr(annotated, "annotate", lambda *a, **k: real(*a, **k).withColumn(
        "allele_id", F.when(F.col("allele_id").isin(target), F.lit(-1).cast("long")).otherwise(F.col("allele_id"))))
    real_arrow = annotated.annotate_arrow  # what a few files' sites take: the same corruption

    def corrupt(*a, **k):
        table = real_arrow(*a, **k)
        column = table["allele_id"]
        bad = pc.if_else(pc.is_in(column, pa.array(target, column.type)), pa.scalar(-1, column.type), column)
        return table.set_column(table.schema.get_field_index("allele_id"), "allele_id", bad)

    monkeypatch.setattr(annotated, "annotate_arrow", corrupt)
    report_before = good.current_set().snapshot("drug_response_report")
    # the lake is unchanged, so an increment would compute nothing: force a full recomputation (no derived file's
    # fingerprint is recognised)
    monkeypatch.setattr(lakehouse_module, "_FINGERPRINT", re.compile(r"(?!x)x"))

    result = _publish()
    assert not result.success
    evaluation = _evaluation("annotated/annotated_variants:schema", result.run_id)
    assert not evaluation.passed and evaluation.metadata["failing_rows"].value == expected
    assert "allele_id" in evaluation.metadata["message"].value
    done = _materialized(result)
    assert "annotated/annotated_variants" not in done and "reports/drug_response_report" not in done
    assert Lakehouse.local(str(lake)).current_set().snapshot("drug_response_report") == report_before


def test_an_empty_cohort_warns_and_publishes_an_empty_report(lake):
    """No sample matching the cohort is not wrong data: the report is published empty, with a warning (a WARN
    check and the materialization's metadata), and the run succeeds."""
    result = _publish({"ops": {"reports__drug_response_report": {"config": {"cohort": "NOBODY%"}}}})
    assert result.success
    warning = _evaluation("reports/drug_response_report:cohort_has_samples", result.run_id)
    assert not warning.passed and warning.severity.value == "WARN"
    assert "NOBODY%" in warning.metadata["message"].value and "empty" in warning.metadata["message"].value
    assert _evaluation("reports/drug_response_report:gx_suite", result.run_id).passed
    assert "reports/drug_response_report" in _materialized(result)
    event = next(e for e in result.get_asset_materialization_events()
                 if e.asset_key == AssetKey(["reports", "drug_response_report"]))
    assert "NOBODY%" in event.materialization.metadata["warning"].value
    assert event.materialization.metadata["cohort_size"].value == 0
    lakehouse = Lakehouse.local(str(lake))
    assert lakehouse.read("drug_response_report", lakehouse.current_set().snapshot("drug_response_report")).num_rows == 0
