"""The quality rules reject bad data (and accept good data): each gate can fail."""

import pandas as pd
from pyspark.sql import functions as F

from genolake_assets.transforms import vcf
from quality import gx_suites, schemas
from tests.conftest import CLINVAR, VCF_100


def test_pandera_on_spark_accepts_real_sites_and_rejects_broken_ones(spark, tmp_path):
    vcf.ingest_vcf(spark, str(VCF_100), str(tmp_path), "f-1")
    sites = spark.read.option("basePath", str(tmp_path / "sites")).parquet(str(tmp_path / "sites"))
    assert schemas.validate_spark(sites, "sites").passed
    broken = sites.withColumn("af", F.lit(1.5)).withColumn(
        "start", F.when(F.col("alt_index") == 2, F.lit(None).cast("long")).otherwise(F.col("start")))
    outcome = schemas.validate_spark(broken, "sites")
    assert not outcome.passed
    text = outcome.summary()
    assert "af" in text and "start" in text
    calls = spark.read.option("basePath", str(tmp_path / "calls")).parquet(str(tmp_path / "calls"))
    keys = ["chromosome", "start", "ref", "alt", "sample_id"]
    assert schemas.duplicate_keys(calls, keys) == 0
    assert schemas.duplicate_keys(calls.unionByName(calls.limit(3)), keys) == 3


def test_report_schema_flags_frequencies_above_the_cohort():
    good = pd.DataFrame({
        "rank": [1, 2], "genotype": ["0|0", "0|1"], "frequency": [0.75, 0.25], "sample_count": [3, 1],
        "cohort_size": [4, 4], "chromosome": ["22", "22"], "position": [10, 10], "ref": ["A", "A"], "alt": ["G", "G"]})
    assert schemas.validate_report(good).passed
    doubled = good.assign(frequency=[1.0, 0.5])
    outcome = schemas.validate_report(doubled)
    assert not outcome.passed and "frequencies_of_a_variant_sum_to_at_most_1" in outcome.summary()


def test_gx_clinvar_suite_passes_real_data_and_fails_on_bad_alleles():
    from genolake_assets.transforms.clinvar import read_variant_summary

    frame = read_variant_summary(str(CLINVAR)).to_pandas()
    assert gx_suites.validate_pandas(frame)["success"]
    bad = frame.copy()
    bad.loc[bad.index[:2], "reference_allele_vcf"] = "na"
    outcome = gx_suites.validate_pandas(bad)
    assert not outcome["success"]
    assert any("reference_allele_vcf" in f and "2 unexpected" in f for f in outcome["failed"])
