"""Genotype-by-genotype parity with bcftools on every shipped VCF that genolake ingests, read back from the Iceberg
tables it commits."""

import pytest

from genolake_assets.transforms.vcf_validate import VcfRejected
from tests.ingestion.conftest import DATA, VCFS
from tests.ingestion.oracle import compare, genolake_genotypes, ingest_to_iceberg, oracle_genotypes, oracle_rows

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", VCFS, ids=[str(p.relative_to(DATA)) for p in VCFS])
def test_genotypes_match_bcftools(path, spark, tmp_path, parity_log):
    try:
        read = ingest_to_iceberg(spark, path, tmp_path / "home", source_path=path.name)
    except VcfRejected as exc:
        pytest.skip(f"rejected by genolake (see test_edge_cases): {exc}")
    expected = oracle_genotypes(path, tmp_path)
    no_alt = {k: n for k, n in expected.items() if k[4] == "."}  # ALT '.': no variant allele, nothing stored
    for key in no_alt:
        del expected[key]
    compared, mismatching, examples = compare(expected, genolake_genotypes(read))
    parity_log.append((str(path.relative_to(DATA)), compared, mismatching, sum(no_alt.values())))
    assert mismatching == 0, examples


@pytest.mark.parametrize("name", ["single_sample/CEUTrio.HiSeq.WGS.b37.NA12878.20.21.vcf.gz",
                                  "onekg/1000G.phase3.broad.withGenotypes.chr20.10100000.vcf.gz"])
def test_format_dp_gq_ad_match_bcftools(name, spark, tmp_path):
    """calls.dp, calls.gq and calls.ad ([REF, this ALT], as bcftools norm splits AD) for every stored call."""
    path = DATA / name
    read = ingest_to_iceberg(spark, path, tmp_path / "home")
    expected = {}
    for sample, chrom, pos, ref, alt, dp, gq, ad in oracle_rows(
            path, tmp_path, "[%SAMPLE\t%CHROM\t%POS\t%REF\t%ALT\t%DP\t%GQ\t%AD\n]"):
        value = lambda v: None if v == "." else int(v)  # noqa: E731
        expected[(sample, chrom, int(pos), ref, alt)] = (
            value(dp), value(gq), None if "." in ad.split(",") else [int(x) for x in ad.split(",")])
    calls = read("calls")
    assert calls
    with_depth = 0
    for row in calls:
        key = (row["sample_id"], str(row["chromosome"]), row["start"] + 1, row["ref"], row["alt"])
        assert (row["dp"], row["gq"], row["ad"]) == expected[key], key
        with_depth += row["dp"] is not None
    assert with_depth > len(calls) / 2
