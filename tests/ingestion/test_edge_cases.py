"""Every edge-case file through `genolake ingest`: accepted ones are ingested (with warnings), rejected ones are
quarantined with a reason naming the file (and line), nothing is lost, and the others keep flowing."""

import json

import pytest
from dagster import AssetKey, DagsterInstance
from typer.testing import CliRunner

from genolake_assets.cli import app
from genolake_assets.transforms.naming import partition_key
from resources.query import DuckDBQueryEngine
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
EDGE = ROOT / "data" / "edge_cases"

# file -> what the reason must say (the policy table of the README, checked)
REJECTED = {
    "empty.vcf": "empty.vcf: empty file (0 bytes)",
    "failed_empty_sample.vcf": "failed_empty_sample.vcf: empty file (0 bytes)",
    "failed_empty.vcf": "failed_empty.vcf: line 1: not a VCF header; expected '##fileformat=VCFv4.x', found an empty line",
    "failed_fileformat_000.vcf": "line 1: not a VCF header; expected '##fileformat=VCFv4.x', found '##fileformat='",
    "failed_fileformat_001.vcf": "found '##fileformat=VCF v4.3'",
    "failed_header_000.vcf": "line 2: column 2 of the #CHROM line; expected 'POS', found 'POSITION'",
    "failed_header_001.vcf": "line 2: FORMAT column without sample columns",
    "test-invalid-header.vcf": "line 2: empty sample name in column 11",
    "failed_body_alt_000.vcf": "line 4: bad ALT at 1:123; expected bases, '*', a <SYMBOLIC> allele or a breakend, found 'R'",
    "failed_body_alt_001.vcf": "line 4: bad ALT at 1:123",
    "failed_body_alt_002.vcf": "line 4: empty ALT allele in a list at 1:123",
    "failed_body_alt_003.vcf": "found '<INS>BLAH>'",
    "failed_body_chrom_000.vcf": "line 4: htslib cannot read the first record",
    "failed_body_pos_000.vcf": "line 4: htslib cannot read the first record, found "
                               "[E::vcf_parse] Could not parse the position '.'",
    "failed_body_pos_001.vcf": "Could not parse the position '123abc'",
    "failed_body_pos_002.vcf": "Could not parse the position '-1'",
    "failed_body_ref_000.vcf": "line 4: bad REF at 1:123; expected bases A, C, G, T or N, found 'C,A'",
    "failed_body_sample_000.vcf": "line 4: htslib cannot read the first record",
    "failed_body_sample_001.vcf": "line 4: genotype allele index out of range at 1:55388 (sample HG00096); "
                                  "expected indices 0..2 (REF + 2 ALT), found 3",
    "failed_body_sample_002.vcf": "line 4: htslib cannot read the first record",
    "failed_body_sample_003.vcf": "Incorrect number of FORMAT fields",
    "failed_body_samples_ploidy_000.vcf": "line 4: FORMAT/PL (Number=G) of sample HG00096 at 1:61462; expected 3 values, found 2",
    "failed_body_samples_ploidy_001.vcf": "expected 6 values, found 3",
    "failed_body_unsorted_000.vcf": "failed_body_unsorted_000.vcf: line ",
    "test-format-string.vcf": "line 11: FORMAT/ADP_ALL (Number=R) of sample Tumor at 7:55086958; expected 2 values, found 4",
    "test.warnings.vcf.gz": "genotype allele index out of range at chr1:1447756 (sample SAMPLE2)",
    "HG00097.truncated_at_12000_bytes.vcf.bgz": "line 411: htslib cannot read the record after 22:16060389",
    "clinvar_variant_summary.2021-01.truncated_download.txt.gz": "line 86,364: the compressed stream ends early after "
                                                                 "86,363 complete lines (a truncated download?)",
}
WARNED = {  # accepted, with this warning in the metadata
    "failed_body_no_newline_000.vcf": "no newline at the end of the file",
    "failed_body_no_newline_001.vcf": "no newline at the end of the file",
    "HG00096.no_bgzf_eof_marker.vcf.bgz": "no BGZF EOF marker",
    "1row_not_bgz.vcf.gz": "plain gzip, not BGZF",
    "1kg_sample.vcf": "header has no ##contig lines",
    "passed_body_alt.vcf": "INFO 'AN' is not defined in the header",
    "test_withNanGenotype.vcf": "FORMAT/GP (Number=G) has a single value",
}


def test_every_edge_case_is_ingested_or_quarantined_with_its_reason(spark, home):
    landed = sorted(p for p in EDGE.rglob("*") if p.is_file() and not p.name.endswith((".tbi", ".md")))
    result = CliRunner().invoke(app, ["ingest", *map(str, landed)], catch_exceptions=False)
    assert result.exit_code == 1  # some files were rejected; the run went on

    reasons = {}
    for path in (home / "quarantine").rglob("*.reason.json"):
        record = json.loads(path.read_text())
        reasons[record["file"]] = record["message"]
        assert path.with_name(record["file"]).exists(), "the rejected file itself is kept beside its reason"
    assert set(reasons) == set(REJECTED)
    for name, expected in REJECTED.items():
        assert expected in reasons[name], (name, reasons[name])
        assert name in reasons[name]  # the reason names the file

    instance = DagsterInstance.get()
    ingested = set()
    for asset in (["processed", "sites"], ["processed", "clinvar"]):
        ingested |= instance.get_materialized_partitions(AssetKey(asset))
    assert len(ingested) + len(reasons) == len(landed)  # nothing lost
    assert not any((home / "landing" / name).exists() for name in REJECTED)

    records = instance.fetch_materializations(AssetKey(["processed", "sites"]), limit=200).records
    warnings = {r.asset_materialization.partition: r.asset_materialization.metadata["warnings"].value for r in records}
    for name, warning in WARNED.items():
        assert warning in warnings[partition_key(name)], (name, warnings[partition_key(name)])
    quarantine_events = instance.fetch_materializations(AssetKey(["raw", "quarantine"]), limit=100).records
    assert {r.asset_materialization.metadata["file"].value for r in quarantine_events} == set(REJECTED)

    # what was accepted is queryable, chr-prefixed contigs spelled as ClinVar does
    engine = DuckDBQueryEngine(home=str(home))
    chroms = {r["chromosome"] for r in engine.query("SELECT DISTINCT chromosome FROM genolake.sites").to_pylist()}
    assert "22" in chroms and not any(c.lower().startswith("chr") for c in chroms)
