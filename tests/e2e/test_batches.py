"""Many files at once are batched: one ingest run over their partition range and one commit for the batch, still one
partition, one quarantine decision and one set of check results per file. A batch with bad files quarantines exactly
those (each in a run of its own, with its reason) and publishes the others."""

import json

import cyvcf2
import pytest
from dagster import AssetCheckKey, AssetKey, AssetRecordsFilter, DagsterInstance, DagsterRunStatus, RunsFilter
from typer.testing import CliRunner

from genolake_assets.cli import app
from genolake_assets.jobs import BATCH_TAG, RANGE_END, RANGE_START
from genolake_assets.transforms.naming import partition_key
from resources.catalog import local_lakehouse
from resources.query import DuckDBQueryEngine
from tests.conftest import CLINVAR, ROOT, copy_with_index

pytestmark = pytest.mark.slow
ONEKG = ROOT / "data" / "onekg"
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=22>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"


def test_a_batch_commits_its_good_files_once_and_quarantines_exactly_the_bad_ones(spark, home, tmp_path):
    good = [copy_with_index(ONEKG / "HG00096.vcf.bgz", tmp_path), copy_with_index(ONEKG / "HG00097.vcf.bgz", tmp_path),
            ROOT / "data" / "single_sample" / "NA12878_21_10002403.vcf", ONEKG / "1000genomes-phase3-1row.vcf"]
    bad_record = tmp_path / "bad_record.vcf"  # a header that passes, a record that does not (line 5)
    bad_record.write_text(HEADER + "22\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\n22\tabc\t.\tA\tG\t.\t.\t.\tGT\t0/1\n")
    bad_header = tmp_path / "bad_header.vcf"
    bad_header.write_text("this is not a VCF\n")
    files = [good[0], bad_record, good[1], bad_header, good[2], good[3], CLINVAR]
    result = CliRunner().invoke(app, ["ingest", *map(str, files)], catch_exceptions=False)
    output = result.output
    assert result.exit_code == 1, output

    # one line per file: the good ones from the batch, the bad ones from their own runs, naming file and line
    for number, path in ((1, good[0]), (3, good[1]), (5, good[2]), (6, good[3])):
        assert f"ok [{number}/7] {path.name} -> partition" in output and "(batch of 6:" in output
    assert "x [2/7] bad_record.vcf: rejected: bad_record.vcf: line 5:" in output
    assert "x [4/7] bad_header.vcf: rejected: bad_header.vcf: line 1: not a VCF header" in output
    assert "2 file(s) failed" in output

    # exactly the bad files are quarantined, each with its reason; the good ones are all in the tables
    quarantined = sorted(p.name for p in (home / "quarantine").rglob("*.vcf"))
    assert quarantined == ["bad_header.vcf", "bad_record.vcf"]
    reason = json.loads(next((home / "quarantine").rglob("bad_record.vcf.reason.json")).read_text())
    assert reason["line"] == 5
    engine = DuckDBQueryEngine(home=str(home))
    keys = {partition_key(p.name) for p in good}
    in_sites = {r["source_file"] for r in engine.query("SELECT DISTINCT source_file FROM genolake.sites").to_pylist()}
    assert in_sites == keys
    samples = engine.query("SELECT count(*) AS n FROM genolake.samples").to_pylist()[0]["n"]
    assert samples == sum(len(cyvcf2.VCF(str(p)).samples) for p in good)

    # one recorded set (one Iceberg snapshot per table) for the batch's four files
    lakehouse = local_lakehouse(str(home))
    ingests = [s for s in lakehouse.sets() if s.operation == "ingest" and s.source_file and "," in s.source_file]
    assert len(ingests) == 1 and set(ingests[0].source_file.split(",")) == keys

    instance = DagsterInstance.get()
    (batch,) = [r for r in instance.get_runs(RunsFilter(job_name="ingest_vcf")) if BATCH_TAG in r.tags]
    assert batch.status == DagsterRunStatus.SUCCESS and batch.tags[BATCH_TAG] == "6"
    assert batch.tags[RANGE_START] == partition_key(good[0].name) and batch.tags[RANGE_END] == partition_key(good[3].name)
    # per partition: a materialization with the file's own rows, and the bad ones' own failed runs
    for path in good:
        key = partition_key(path.name)
        (record,) = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(["processed", "sites"]), asset_partitions=[key]), limit=1).records
        meta = record.asset_materialization.metadata
        rows = engine.query(f"SELECT count(*) AS n FROM genolake.sites WHERE source_file = '{key}'").to_pylist()[0]["n"]
        assert meta["status"].value == "committed" and meta["dagster/row_count"].value == rows
    materialized = instance.get_materialized_partitions(AssetKey(["processed", "sites"]))
    assert materialized == keys  # the batch materialized exactly the files it committed
    for path in (bad_record, bad_header):
        key = partition_key(path.name)
        (own,) = [r for r in instance.get_runs(RunsFilter(job_name="ingest_vcf", tags={"dagster/partition": key}))]
        assert own.status == DagsterRunStatus.FAILURE
    # the batch's check results: one per check, each passed on each of its four committed files
    checks = instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey(["processed", "sites"]), "schema"), limit=10)
    from_batch = [c for c in checks if c.run_id == batch.run_id]
    assert len(from_batch) == 1
    meta = from_batch[0].event.dagster_event.event_specific_data.metadata
    assert meta["files"].value == 4 and meta["files_failed"].value == 0
