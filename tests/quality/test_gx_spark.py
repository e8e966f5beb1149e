"""The Great Expectations suites on Spark (GX's Spark datasource): the same verdicts, messages, counts and failing
rows as on Arrow/pandas (tests/quality/test_gx.py), computed where the data is. Large files take this path
(genolake_assets/checks.py: above SMALL_ROWS rows), so it must agree with the in-process one.

Each test of test_gx.py listed below runs again with every Arrow input turned into a Spark DataFrame on its way into
gx_suites.validate. Where several expectations of one frame fail, Spark counts the largest of them (only a sample of
row ids comes back, not every failing row): those tests are restated below with that count.
"""

import pyarrow as pa
import pytest

from quality import gx_suites
from tests.quality import test_gx as arrow_tests
from tests.quality.test_gx import annotated, clinvar, row_mask, set_where, variant_qc_of, vcf100  # noqa: F401 (fixtures)
from tests.quality.test_schemas import decoded

pytestmark = pytest.mark.slow


@pytest.fixture(params=["dataframe", "parquet"])
def on_spark(request, spark, monkeypatch, tmp_path):
    """gx_suites.validate with Spark DataFrames for every Arrow input; records that Spark did the work. "dataframe":
    DataFrames made in memory (everything on Spark); "parquet": scans of Parquet files, as genolake's checks get a
    run's new data files (the sites/calls reconciliation then runs in DuckDB over the files, GX on Spark)."""
    real = gx_suites.validate
    seen = []

    def spark_frame(value):
        if not isinstance(value, pa.Table):
            return value
        if request.param == "dataframe":
            return spark.createDataFrame(decoded(value))
        import pyarrow.parquet as pq

        path = tmp_path / f"t{len(list(tmp_path.iterdir()))}.parquet"
        pq.write_table(decoded(value), path)
        return spark.read.parquet(str(path))

    def validate(table_name, data, **inputs):
        outcome = real(table_name, spark_frame(data), **{k: spark_frame(v) for k, v in inputs.items()})
        seen.append(table_name)
        return outcome

    monkeypatch.setattr(gx_suites, "validate", validate)
    return seen


SAME_ON_SPARK = [
    "test_sites_af_mismatch_fails_with_the_sites",
    "test_sites_ac_an_mismatch_and_a_site_count_off",
    "test_calls_with_missing_and_extra_rows_fail_per_site",
    "test_calls_of_samples_the_file_does_not_have",
    "test_calls_phased_non_null_ratio",
    "test_sample_qc_suite",
]


@pytest.mark.parametrize("name", SAME_ON_SPARK)
def test_vcf_and_qc_suites_agree_on_spark(name, on_spark, vcf100):  # noqa: F811
    getattr(arrow_tests, name)(vcf100)
    assert on_spark  # the suites ran on Spark DataFrames


@pytest.mark.parametrize("name", ["test_annotated_passes_on_the_demo_join", "test_annotated_null_allele_id_and_clinical_significance"])
def test_annotated_suite_agrees_on_spark(name, on_spark, annotated, vcf100):  # noqa: F811
    test = getattr(arrow_tests, name)
    test(annotated, vcf100) if name.endswith("demo_join") else test(annotated)
    assert on_spark


def test_clinvar_and_report_suites_agree_on_spark(on_spark, clinvar):  # noqa: F811
    arrow_tests.test_clinvar_suite(clinvar)
    arrow_tests.test_report_suite_and_an_empty_cohort_passes()
    assert set(on_spark) == {"clinvar", "drug_response_report"}


def test_good_vcf_tables_pass_on_spark(on_spark, vcf100):  # noqa: F811
    sites, calls, samples = vcf100
    n = samples.num_rows
    for table, data, inputs in (("sites", sites, {"calls": calls, "n_samples": n}),
                                ("calls", calls, {"sites": sites, "samples": samples}),
                                ("samples", samples, {"n_samples": n})):
        outcome = gx_suites.validate(table, data, **inputs)
        assert outcome.passed and outcome.failing_rows == 0 and outcome.sample is None, (table, outcome.message)
    assert outcome.details["rows"] == n


def test_samples_count_and_index_on_spark(on_spark, vcf100):  # noqa: F811
    _, _, samples = vcf100
    outcome = gx_suites.validate("samples", samples, n_samples=101)
    assert not outcome.passed and outcome.failing_rows == 1 and outcome.sample is None
    assert outcome.message == "samples: 100 rows, the VCF header has 101"
    bad = set_where(samples, "sample_index", row_mask(samples, [3]), 4)
    bad = set_where(bad, "sample_index", row_mask(samples, [9]), 100)
    outcome = gx_suites.validate("samples", bad, n_samples=100)
    # two expectations fail (2 repeated rows, 1 outside): Spark counts the larger
    assert not outcome.passed and outcome.failing_rows == 2
    assert ("sample_index: 2 rows whose sample_index is repeated in the file" in outcome.message
            and "sample_index: 1 rows outside [0, n_samples - 1]" in outcome.message)
    assert sorted(outcome.sample["sample_id"].to_pylist()) == sorted(samples.take([3, 4, 9])["sample_id"].to_pylist())


def test_variant_qc_suite_on_spark(on_spark, vcf100):  # noqa: F811
    sites, _, samples = vcf100
    qc = variant_qc_of(sites, samples.num_rows)
    assert gx_suites.validate("variant_qc", qc, sites_rows=sites.num_rows).passed
    bad = set_where(qc, "call_rate", row_mask(qc, [3, 4]), 1.2)
    bad = set_where(bad, "hwe_p", row_mask(qc, [6]), None)
    outcome = gx_suites.validate("variant_qc", bad, sites_rows=sites.num_rows)
    assert not outcome.passed and outcome.failing_rows == 2  # the larger of 2 (call_rate) and 1 (hwe_p)
    assert outcome.message == ("variant_qc: call_rate: 2 rows outside [0, 1]; hwe_p: 1 null rows where HWE applies "
                               "(diploid sites with a called sample: het_expected set)")
    assert sorted(outcome.sample["start"].to_pylist()) == sorted(bad.take([3, 4, 6])["start"].to_pylist())
    arrow_tests.test_variant_qc_hwe_may_be_null_where_the_site_is_not_diploid()  # the Spark row condition


@pytest.mark.parametrize("keys_per_pass", [None, 1000])
def test_scans_of_parquet_files_are_read_by_duckdb(spark, tmp_path, vcf100, keys_per_pass, monkeypatch):  # noqa: F811
    """The SQL checks and the reconciliation read a plain Parquet scan's files with DuckDB; anything else stays on
    Spark. Same verdicts and rows either way (a call row written twice), also when DuckDB checks the file in passes
    over position ranges (as on a cohort file: 22,033 call rows in passes of ~1,000)."""
    import pyarrow.parquet as pq

    from quality import consistency
    from quality.duck import parquet_files

    sites, calls, _ = vcf100
    twice = pa.concat_tables([calls, calls.take([42])])
    pq.write_table(decoded(twice), tmp_path / "calls.parquet")
    pq.write_table(decoded(sites), tmp_path / "sites.parquet")
    scans = spark.read.parquet(str(tmp_path / "calls.parquet")), spark.read.parquet(str(tmp_path / "sites.parquet"))
    assert parquet_files(scans[0]) == [str(tmp_path / "calls.parquet")]
    assert parquet_files(scans[0].where("allele1 >= 0")) is None  # not a plain scan: Spark reads it
    in_memory = spark.createDataFrame(decoded(twice)), spark.createDataFrame(decoded(sites))
    assert parquet_files(in_memory[0]) is None
    if keys_per_pass:
        monkeypatch.setattr(consistency, "KEYS_PER_PASS", keys_per_pass)
        import duckdb

        with duckdb.connect() as con:
            con.register("sites", decoded(sites))
            assert len(consistency._position_ranges(con, '"n_het" + "n_hom_alt" + "n_missing" + 1')) >= 20
    on_files = consistency.one_call_per_sample_and_site(*scans)
    on_spark = consistency.one_call_per_sample_and_site(*in_memory)
    on_arrow = consistency.one_call_per_sample_and_site(twice, sites)
    assert on_files.details["backend"] == "duckdb" and on_spark.details["backend"] == "spark"
    for outcome in (on_files, on_spark, on_arrow):
        assert not outcome.passed and outcome.failing_rows == 1, outcome.message
        assert outcome.sample.select(["start", "sample_id"]).to_pylist() == \
            on_arrow.sample.select(["start", "sample_id"]).to_pylist()
