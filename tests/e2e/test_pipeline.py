"""End to end through the CLI, in-process: land files, materialize every layer, query the catalog."""

import json

import cyvcf2
import pytest
from dagster import AssetKey, DagsterInstance
from typer.testing import CliRunner

from genolake_assets.cli import app
from resources.lakehouse import Lakehouse
from resources.query import DuckDBQueryEngine
from tests.conftest import CLINVAR, VCF_100, VCF_CYP2D6

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("demo_cohort")]
runner = CliRunner()


def _cli(*args):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout  # messages (e.g. "as of ...") go to stderr


def _sql(home, sql):
    return DuckDBQueryEngine(home=str(home)).query(sql).to_pylist()


def test_demo_flow_builds_the_19_row_drug_response_report(spark, home):
    _cli("ingest", VCF_100, CLINVAR)

    report = _sql(home, "SELECT * FROM genolake.drug_response_report ORDER BY rank")
    assert len(report) == 19
    first, last = report[0], report[-1]
    assert (first["rsid"], first["genotype"], first["frequency"]) == ("rs6267", "0|0", 1.0)
    assert (last["rsid"], last["genotype"]) == ("rs28371725", "1|1")
    assert last["frequency"] == pytest.approx(1 / 65) and last["cohort_size"] == 65
    assert {r["rsid"] for r in report} == {"rs6267", "rs5030655", "rs28371725", "rs3892097", "rs1065852", "rs4680"}

    printed = _cli("report", "--format", "json")
    assert [(r["rsid"], r["genotype"]) for r in json.loads(printed)] == [(r["rsid"], r["genotype"]) for r in report]
    table = _cli("report")
    assert table.index("rs6267") < table.index("rs28371725") and "(19 rows)" in table

    assert "100" in _cli("query", "SELECT count(*) AS n FROM genolake.samples")
    csv = _cli("query", "SELECT chromosome, count(*) AS n FROM genolake.sites GROUP BY 1", "--format", "csv")
    assert csv.splitlines() == ['"chromosome","n"', '"22",1269']

    # The catalog carries explicit types and comments; partitions are registered.
    described = _sql(home, "SELECT column_name, data_type, comment FROM duckdb_columns() "
                           "WHERE schema_name = 'genolake' AND table_name = 'calls'")
    types = {r["column_name"]: r["data_type"] for r in described}
    assert types["start"] == "BIGINT" and types["allele1"] == "SMALLINT" and types["chromosome"] == "VARCHAR"
    assert all(r["comment"] for r in described)
    parts = _sql(home, "SELECT table_name, partition_values FROM _catalog.partitions WHERE table_name = 'calls'")
    assert [p["partition_values"].split("/")[1] for p in parts] == ["chromosome=22"]

    # Materializations carry row counts and column schemas for the UI.
    instance = DagsterInstance.get()
    event = instance.get_latest_materialization_event(AssetKey(["processed", "calls"]))
    metadata = event.asset_materialization.metadata
    calls_rows = _sql(home, "SELECT count(*) AS n FROM genolake.calls")[0]["n"]
    assert metadata["dagster/row_count"].value == calls_rows
    assert "sample_id" in [c.name for c in metadata["dagster/column_schema"].value.columns]

    # The report keeps the snapshot ids of what it read; its materialization records them too.
    lakehouse = Lakehouse.local(str(home))
    first_set = lakehouse.current_set()
    report_snapshot = first_set.snapshot("drug_response_report")
    stored = _sql(home, "SELECT input_snapshots FROM genolake.drug_response_report LIMIT 1")[0]["input_snapshots"]
    assert dict(stored) == {t: first_set.snapshot(t) for t in ("annotated_variants", "calls", "samples")}
    event = instance.get_latest_materialization_event(AssetKey(["reports", "drug_response_report"]))
    assert event.asset_materialization.metadata["input_snapshots"].value["calls"] == first_set.snapshot("calls")
    event = instance.get_latest_materialization_event(AssetKey(["catalog", "calls"]))
    shown = event.asset_materialization.metadata
    assert shown["iceberg_table"].value == "genolake.calls"
    assert shown["snapshot_id"].value == str(first_set.snapshot("calls"))
    assert shown["table_rows"].value == calls_rows and shown["table_data_files"].value >= 1
    assert shown["table_bytes"].value > 0

    # Re-ingesting the same file replaces its rows: no duplicates, no leftovers.
    _cli("ingest", VCF_100)
    assert _sql(home, "SELECT count(*) AS n FROM genolake.calls")[0]["n"] == calls_rows
    assert len(_sql(home, "SELECT * FROM genolake.drug_response_report")) == 19

    # The same samples in a second file (the full CYP2D6 slice) are kept apart by source file and
    # counted once per variant in the report.
    _cli("ingest", VCF_CYP2D6)
    by_file = _sql(home, "SELECT source_file, count(*) AS n FROM genolake.samples GROUP BY 1 ORDER BY 2")
    assert [r["n"] for r in by_file] == [100, 2504]
    again = _sql(home, "SELECT rsid, genotype, frequency FROM genolake.drug_response_report ORDER BY rank")
    assert again == [{k: r[k] for k in ("rsid", "genotype", "frequency")} for r in report]

    # History and time travel: calls has one snapshot per ingest; reading as of the first one answers from
    # before the CYP2D6 file landed.
    history = json.loads(_cli("history", "calls", "--format", "json"))
    assert [h["rows_added"] for h in history if h["rows_added"]] == [calls_rows, calls_rows, 288_061]
    assert history[-1]["status"] == "current" and all(h["run_id"] for h in history)
    first = str(history[0]["snapshot_id"])
    assert json.loads(_cli("query", "--as-of", first, "SELECT count(*) AS n FROM genolake.samples", "-f", "json")) \
        == [{"n": 100}]
    assert json.loads(_cli("query", "SELECT count(*) AS n FROM genolake.samples", "-f", "json")) == [{"n": 2604}]
    when = first_set.committed_at.isoformat()
    assert json.loads(_cli("query", "--as-of", when, "SELECT count(*) AS n FROM genolake.samples", "-f", "json")) \
        == [{"n": 100}]
    # the first report, recomputed from exactly the data it used
    recomputed = json.loads(_cli("report", "--as-of", str(report_snapshot), "--format", "json"))
    assert [(r["rsid"], r["genotype"], r["frequency"]) for r in recomputed] == \
        [(r["rsid"], r["genotype"], r["frequency"]) for r in report]
    assert recomputed[0]["input_snapshots"] == dict(stored)
    bad = runner.invoke(app, ["query", "--as-of", "12345", "SELECT 1"])
    assert bad.exit_code == 1 and "no recorded snapshot set contains snapshot 12345" in bad.output


def test_another_vcf_in_a_fresh_home_is_queryable_genotype_by_genotype(spark, home):
    _cli("ingest", VCF_CYP2D6)  # no ClinVar yet: annotations and report are empty, not an error

    assert _sql(home, "SELECT count(*) AS n FROM genolake.samples")[0]["n"] == 2504
    assert _sql(home, "SELECT count(*) AS n FROM genolake.drug_response_report")[0]["n"] == 0
    rows = _sql(home, """
        SELECT s.start + 1 AS pos, s.ref, s.alt,
               coalesce(c.allele1, 0) AS a1, coalesce(c.allele2, 0) AS a2, coalesce(c.phased, s.hom_ref_phased) AS phased
        FROM genolake.sites s
        LEFT JOIN genolake.calls c
          ON c.source_file = s.source_file AND c.chromosome = s.chromosome AND c.start = s.start
         AND c.ref = s.ref AND c.alt = s.alt AND c.sample_id = 'NA12878'
        ORDER BY s.start, s.alt_index""")
    expected = []
    reader = cyvcf2.VCF(str(VCF_CYP2D6))
    column = reader.samples.index("NA12878")
    for record in reader:
        a1, a2, phased = record.genotype.array()[column].tolist()
        for index, alt in enumerate(record.ALT, start=1):
            carries = index in (a1, a2)
            expected.append((record.POS, record.REF, alt, a1 if carries else 0, a2 if carries else 0, bool(phased)))
    assert [(r["pos"], r["ref"], r["alt"], r["a1"], r["a2"], r["phased"]) for r in rows] == expected
    assert len(expected) == 653


def test_a_bad_file_is_quarantined_with_its_reason_and_the_others_keep_flowing(spark, home, tmp_path):
    bad = tmp_path / "truncated_upload.vcf"
    bad.write_text("this is not a VCF\n")
    result = runner.invoke(app, ["ingest", str(bad), str(VCF_100)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "truncated_upload.vcf: line 1: not a VCF header; expected '##fileformat=VCFv4.x', found 'this is not a VCF'" \
        in result.output

    # the good file went all the way through
    assert _sql(home, "SELECT count(*) AS n FROM genolake.samples")[0]["n"] == 100
    # the bad one: copied to quarantine with a reason naming it, removed from landing, never deleted
    quarantined = list((home / "quarantine").rglob("truncated_upload.vcf"))
    assert len(quarantined) == 1 and quarantined[0].read_text() == "this is not a VCF\n"
    reason = json.loads(quarantined[0].with_name("truncated_upload.vcf.reason.json").read_text())
    assert (reason["file"], reason["line"], reason["expected"]) == ("truncated_upload.vcf", 1, "'##fileformat=VCFv4.x'")
    assert reason["found"] == "'this is not a VCF'"
    assert not (home / "landing" / "truncated_upload.vcf").exists()
    landed = sorted(p.name for p in (home / "landing").iterdir() if not p.name.endswith(".tbi"))
    assert landed == [VCF_100.name]

    # the fixed file landed again under the same name is processed normally; the quarantined copy stays
    bad.write_bytes(VCF_100.read_bytes())
    (tmp_path / "truncated_upload.vcf.tbi").unlink(missing_ok=True)
    result = runner.invoke(app, ["ingest", str(bad)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert _sql(home, "SELECT count(*) AS n FROM genolake.samples")[0]["n"] == 200
    assert quarantined[0].exists()
