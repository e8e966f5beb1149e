"""The Great Expectations suites of every table (quality/gx_suites.py): they pass on good data built from the real
sample files and fail with the exact count and the offending rows on corrupted copies.

sites/calls/samples come from the VCF transform itself (write_region/write_samples, the code each Spark task
runs), called directly here so no Spark session is needed; the other tables are built per contract from them
(DuckDB) or by hand.
"""

import os

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from genolake_assets.transforms import vcf
from genolake_assets.transforms.clinvar import read_variant_summary
from genolake_assets.transforms.tables import TABLES
from quality import gx_suites
from quality.reconcile import sites_vs_calls
from tests.conftest import CLINVAR, SAMPLE, VCF_100

_TYPES = {"bigint": pa.int64(), "int": pa.int32(), "smallint": pa.int16(), "tinyint": pa.int8(),
          "double": pa.float64(), "float": pa.float32(), "boolean": pa.bool_(), "string": pa.string(),
          "date": pa.date32(), "map<string,bigint>": pa.map_(pa.string(), pa.int64())}


def contract(name: str, table: pa.Table) -> pa.Table:
    """``table`` with exactly the contract's columns, order and types."""
    schema = pa.schema([pa.field(c.name, _TYPES[c.type]) for c in TABLES[name].all_columns])
    return table.select(schema.names).cast(schema)


def ingest(path, out, source_file="f1"):
    """Run the VCF transform on ``path`` into ``out`` (one region, no Spark); -> (sites, calls, samples)."""
    name = os.path.basename(str(path))
    header = vcf.check_header(str(path), name)
    for i, region in enumerate(vcf.plan_regions(str(path), 1)):
        result = vcf.write_region(str(path), region, str(out), source_file, f"{i:05d}", header, name)
        assert result["rejected"] is None
    vcf.write_samples(header.samples, str(out), source_file, name, "run")

    def read(table):
        return ds.dataset(os.path.join(str(out), table, "data"), format="parquet").to_table()

    return read("sites"), read("calls"), read("samples")


@pytest.fixture(scope="module")
def vcf100(tmp_path_factory):
    return ingest(VCF_100, tmp_path_factory.mktemp("wh"))


@pytest.fixture(scope="module")
def clinvar():
    table = read_variant_summary(str(CLINVAR))
    return table.append_column("release", pa.array(["cv-1"] * table.num_rows))


def keys(table, columns=("start", "ref", "alt")):
    return sorted(tuple(r[c] for c in columns) for r in table.select(list(columns)).to_pylist())


def set_where(table, column, mask, value):
    i = table.schema.get_field_index(column)
    return table.set_column(i, column, pc.if_else(mask, pa.scalar(value, table.schema.field(i).type), table[column]))


def row_mask(table, rows):
    mask = [False] * table.num_rows
    for r in rows:
        mask[r] = True
    return pa.array(mask)


# --- sites, calls, samples -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SAMPLE.glob("*.vcf.gz")), ids=lambda p: p.name)
def test_vcf_suites_pass_on_every_sample_file(path, tmp_path):
    sites, calls, samples = ingest(path, tmp_path)
    n = samples.num_rows
    for table, data, inputs in (("sites", sites, {"calls": calls, "n_samples": n}),
                                ("calls", calls, {"sites": sites, "samples": samples}),
                                ("samples", samples, {"n_samples": n})):
        outcome = gx_suites.validate(table, data, **inputs)
        assert outcome.passed, (path.name, table, outcome.message)
        assert outcome.engine == "great_expectations" and outcome.failing_rows == 0 and outcome.sample is None
    rec = sites_vs_calls(sites, calls, n)
    assert rec.num_rows == sites.num_rows  # no repeated records, no calls outside sites
    assert pc.sum(rec["call_rows"]).as_py() == calls.num_rows


def test_recomputed_counts_match_the_stored_ones_exactly(vcf100):
    sites, calls, samples = vcf100
    rec = sites_vs_calls(sites, calls, samples.num_rows)
    assert rec.num_rows == 1269 and pc.all(rec["in_sites"]).as_py()
    assert rec["ac"].to_pylist() == rec["ac_from_calls"].to_pylist()
    assert rec["an"].to_pylist() == rec["an_from_calls"].to_pylist()
    assert pc.max(rec["af_diff"]).as_py() <= 1e-12
    assert pc.sum(rec["non_ref_expected"]).as_py() == calls.num_rows == 22032


def test_sites_af_mismatch_fails_with_the_sites(vcf100):
    sites, calls, samples = vcf100
    rows = [5, 700]
    bad = set_where(sites, "af", row_mask(sites, rows), 0.5)
    outcome = gx_suites.validate("sites", bad, calls=calls, n_samples=100)
    assert not outcome.passed
    assert outcome.failing_rows == 2
    assert "af: 2 sites where |af - AF recomputed from calls| > 1e-09" in outcome.message
    assert keys(outcome.sample) == keys(sites.take(rows))
    assert outcome.sample["af"].to_pylist() == [0.5, 0.5]
    expected = sorted(sites.take(rows)["af"].to_pylist())
    assert sorted(outcome.sample["af_from_calls"].to_pylist()) == pytest.approx(expected)


def test_sites_ac_an_mismatch_and_a_site_count_off(vcf100):
    sites, calls, samples = vcf100
    bad = set_where(sites, "ac", row_mask(sites, [10]), 9999)
    outcome = gx_suites.validate("sites", bad, calls=calls, n_samples=100)
    assert not outcome.passed and outcome.failing_rows == 1
    assert outcome.message == "sites: ac: 1 sites where AC differs from AC recomputed from calls"
    assert keys(outcome.sample) == keys(sites.take([10]))
    # a wrong sample count moves every AN recomputed from implied hom-ref samples
    # (all but the sites where every sample has a call row)
    implied = pc.sum(pc.less(sites_vs_calls(sites, calls, 100)["call_rows"], 100)).as_py()
    assert implied == 1266
    outcome = gx_suites.validate("sites", sites, calls=calls, n_samples=99)
    assert not outcome.passed
    assert "an: 1266 sites where AN differs from AN recomputed from calls" in outcome.message
    assert outcome.failing_rows == 1266 and outcome.sample.num_rows == 10


def test_calls_with_missing_and_extra_rows_fail_per_site(vcf100):
    sites, calls, samples = vcf100
    dropped = [0, 5000, 20000]  # rows at three different sites
    assert len(set(keys(calls.take(dropped)))) == 3
    keep = pc.invert(row_mask(calls, dropped))
    missing = calls.filter(keep)
    outcome = gx_suites.validate("calls", missing, sites=sites, samples=samples)
    assert not outcome.passed and outcome.failing_rows == 3
    assert outcome.message == ("calls: rows: 3 sites whose non-reference call rows differ from "
                               "n_het + n_hom_alt + n_missing")
    assert keys(outcome.sample) == keys(calls.take(dropped))
    assert outcome.sample["non_ref_rows"].to_pylist() == [
        e - 1 for e in outcome.sample["non_ref_expected"].to_pylist()]
    # the same loss shows in sites: AC/AN recomputed from the calls no longer match at those sites
    outcome = gx_suites.validate("sites", sites, calls=missing, n_samples=100)
    assert not outcome.passed and keys(outcome.sample) == keys(calls.take(dropped))
    assert outcome.failing_rows == 3

    extra = pa.concat_tables([calls, calls.take([42])])  # one call row written twice
    outcome = gx_suites.validate("calls", extra, sites=sites, samples=samples)
    assert not outcome.passed and outcome.failing_rows == 1
    assert keys(outcome.sample) == keys(calls.take([42]))
    assert outcome.details["non_reference_rows"] == 22033 and outcome.details["non_reference_rows_expected"] == 22032


def test_calls_of_samples_the_file_does_not_have(vcf100):
    sites, calls, samples = vcf100
    rows = [1, 2, 3, 500]
    bad = set_where(calls, "sample_id", row_mask(calls, rows), "NOBODY")
    outcome = gx_suites.validate("calls", bad, sites=sites, samples=samples)
    assert not outcome.passed and outcome.failing_rows == 4
    assert outcome.message == "calls: sample_id: 4 rows whose sample is not in the file's samples"
    assert outcome.sample.column_names == calls.column_names  # the rows of calls themselves
    assert outcome.sample.to_pylist() == bad.take(rows).to_pylist()


def test_calls_phased_non_null_ratio(vcf100):
    sites, calls, samples = vcf100
    schema = calls.schema.set(calls.schema.get_field_index("phased"), pa.field("phased", pa.bool_(), True))
    bad = set_where(calls.cast(schema), "phased", row_mask(calls, [7, 8]), None)
    outcome = gx_suites.validate("calls", bad, sites=sites, samples=samples)
    assert not outcome.passed and outcome.failing_rows == 2
    assert outcome.message == "calls: phased: 2 rows with null phased (non-null ratio must be 1.0)"
    assert outcome.sample.to_pylist() == bad.take([7, 8]).to_pylist()


def test_samples_count_and_index(vcf100):
    _, _, samples = vcf100
    outcome = gx_suites.validate("samples", samples, n_samples=101)
    assert not outcome.passed and outcome.failing_rows == 1 and outcome.sample is None
    assert outcome.message == "samples: 100 rows, the VCF header has 101"
    bad = set_where(samples, "sample_index", row_mask(samples, [3]), 4)  # two samples at index 4
    bad = set_where(bad, "sample_index", row_mask(samples, [9]), 100)  # outside [0, 99]
    outcome = gx_suites.validate("samples", bad, n_samples=100)
    assert not outcome.passed and outcome.failing_rows == 3
    assert ("sample_index: 2 rows whose sample_index is repeated in the file" in outcome.message
            and "sample_index: 1 rows outside [0, n_samples - 1]" in outcome.message)
    assert outcome.sample["sample_id"].to_pylist() == samples.take([3, 4, 9])["sample_id"].to_pylist()


def test_missing_inputs_are_an_error(vcf100):
    sites, _, _ = vcf100
    with pytest.raises(TypeError, match="needs the inputs calls"):
        gx_suites.validate("sites", sites, n_samples=100)
    with pytest.raises(KeyError):
        gx_suites.validate("nope", sites)


# --- clinvar, annotated_variants -----------------------------------------------------------------------------


def test_clinvar_suite(clinvar):
    outcome = gx_suites.validate("clinvar", clinvar)
    assert outcome.passed, outcome.message
    bad = set_where(clinvar, "reference_allele_vcf", row_mask(clinvar, [0, 1]), "na")
    outcome = gx_suites.validate("clinvar", bad)
    assert not outcome.passed and outcome.failing_rows == 2
    assert outcome.message == "clinvar: reference_allele_vcf: 2 rows not A/C/G/T/N bases"
    assert outcome.sample.to_pylist() == bad.take([0, 1]).to_pylist()


def annotate(sites, clinvar):
    """annotated_variants per contract: the sites joined to ClinVar (GRCh37) as the annotate transform does."""
    con = duckdb.connect()
    con.register("sites", sites)
    con.register("clinvar", clinvar)
    joined = con.sql("""
        SELECT s.source_file, s.start, s."end", s.ref, s.alt, s.alt_index, s.rsid AS vcf_rsid, s.ac, s.an, s.af,
               s.hom_ref_ploidy, s.hom_ref_phased, c.assembly, c.release AS clinvar_release, c.allele_id,
               c.variation_id, c.rsid, c.gene_symbol, c.type, c.name, c.clinical_significance, c.review_status,
               c.phenotype_list, s.chromosome
        FROM sites s JOIN clinvar c ON s.chromosome = c.chromosome AND s.start = c.vcf_start
         AND s.ref = c.reference_allele_vcf AND s.alt = c.alternate_allele_vcf AND c.assembly = 'GRCh37'
        ORDER BY s.start, s.ref, s.alt, c.allele_id""").to_arrow_table()
    return contract("annotated_variants", joined)


@pytest.fixture(scope="module")
def annotated(vcf100, clinvar):
    return annotate(vcf100[0], clinvar)


def test_annotated_passes_on_the_demo_join(annotated, vcf100):
    sites = vcf100[0]
    outcome = gx_suites.validate("annotated_variants", annotated, sites_rows=sites.num_rows, previous_fraction=None)
    assert outcome.passed, outcome.message
    joined = outcome.details["joined_sites"]
    assert 0 < joined <= annotated.num_rows
    assert outcome.details["joined_fraction"] == joined / 1269
    ratio = 1 - annotated["clinical_significance"].null_count / annotated.num_rows
    assert ratio >= 0.9  # the demo's ClinVar rows carry a clinical significance


def test_annotated_join_fraction_drop(annotated):
    fraction = gx_suites.validate("annotated_variants", annotated, sites_rows=1269).details["joined_fraction"]
    # a drop of 5% relative to the previous release is allowed (max_drop 10%), one of 15% is not
    assert gx_suites.validate("annotated_variants", annotated, sites_rows=1269,
                              previous_fraction=fraction / 0.95, max_drop=0.1).passed
    previous = fraction / 0.85
    outcome = gx_suites.validate("annotated_variants", annotated, sites_rows=1269, previous_fraction=previous,
                                 max_drop=0.1)
    assert not outcome.passed and outcome.failing_rows == 1
    assert outcome.message.startswith("annotated_variants: joined_fraction: ")
    assert f"below {previous * 0.9:.4f} (previous release {previous:.4f} minus 10%)" in outcome.message
    row = outcome.sample.to_pylist()[0]
    assert row["joined_fraction"] == fraction and row["previous_fraction"] == previous
    assert row["min_fraction"] == pytest.approx(previous * 0.9) and row["sites_rows"] == 1269
    # the same data against more sites: a lower fraction
    outcome = gx_suites.validate("annotated_variants", annotated, sites_rows=1269 * 2,
                                 previous_fraction=fraction, max_drop=0.1)
    assert not outcome.passed and outcome.sample["joined_fraction"].to_pylist() == [fraction / 2]


def test_annotated_null_allele_id_and_clinical_significance(annotated):
    n = annotated.num_rows
    bad = set_where(annotated.cast(annotated.schema.set(annotated.schema.get_field_index("allele_id"),
                                                        pa.field("allele_id", pa.int64(), True))),
                    "allele_id", row_mask(annotated, [0]), None)
    outcome = gx_suites.validate("annotated_variants", bad, sites_rows=1269)
    assert not outcome.passed and outcome.failing_rows == 1
    assert outcome.message == "annotated_variants: allele_id: 1 null rows"
    assert outcome.sample.to_pylist() == bad.take([0]).to_pylist()
    k = n // 5  # 20% without clinical significance: below the 0.9 ratio
    nulls = list(range(k))
    bad = set_where(annotated, "clinical_significance", row_mask(annotated, nulls), None)
    outcome = gx_suites.validate("annotated_variants", bad, sites_rows=1269)
    assert not outcome.passed and outcome.failing_rows == k
    assert outcome.message == f"annotated_variants: clinical_significance: {k} null rows (non-null ratio below 0.9)"


# --- variant_qc, sample_qc -----------------------------------------------------------------------------------


def variant_qc_of(sites, n_samples):
    """variant_qc per contract from the real sites counts (hwe_p a placeholder: it is Helper A's to compute)."""
    con = duckdb.connect()
    con.register("sites", sites)
    table = con.sql(f"""
        SELECT start, ref, alt, alt_index, rsid, length(ref) = 1 AND length(alt) = 1 AS is_snv,
               {n_samples} AS n_samples, n_hom_ref + n_het + n_hom_alt AS n_called,
               (n_hom_ref + n_het + n_hom_alt) / {n_samples} AS call_rate, n_hom_ref, n_het, n_hom_alt, af,
               least(af, 1 - af) AS maf, n_het / nullif(n_hom_ref + n_het + n_hom_alt, 0) AS het_observed,
               2 * af * (1 - af) AS het_expected,
               CASE WHEN n_hom_ref + n_het + n_hom_alt > 0 AND coalesce(hom_ref_ploidy, 2) <> 1 THEN 0.5 END AS hwe_p,
               false AS hwe_midp, false AS low_call_rate, false AS low_maf, false AS hwe_failed, true AS qc_pass,
               source_file, chromosome
        FROM sites ORDER BY start, ref, alt""").to_arrow_table()
    return contract("variant_qc", table)


def test_variant_qc_suite(vcf100):
    sites, _, samples = vcf100
    qc = variant_qc_of(sites, samples.num_rows)
    assert gx_suites.validate("variant_qc", qc, sites_rows=sites.num_rows).passed
    outcome = gx_suites.validate("variant_qc", qc.slice(1), sites_rows=sites.num_rows)
    assert not outcome.passed and outcome.failing_rows == 1 and outcome.sample is None
    assert outcome.message == "variant_qc: 1268 rows, sites has 1269"
    bad = set_where(qc, "call_rate", row_mask(qc, [3, 4]), 1.2)
    bad = set_where(bad, "hwe_p", row_mask(qc, [6]), None)
    outcome = gx_suites.validate("variant_qc", bad, sites_rows=sites.num_rows)
    assert not outcome.passed and outcome.failing_rows == 3
    assert outcome.message == ("variant_qc: call_rate: 2 rows outside [0, 1]; hwe_p: 1 null rows where HWE applies "
                               "(diploid sites with a called sample: het_expected set)")
    assert outcome.sample.to_pylist() == bad.take([3, 4, 6]).to_pylist()


def test_variant_qc_hwe_may_be_null_where_the_site_is_not_diploid():
    """HWE applies where the QC says the site is diploid (het_expected set), on any chromosome: haploid (chrY, male
    chrX), polyploid and mixed-ploidy sites, autosomes included, have no HWE p-value and that is not wrong data."""
    row = {c.name: None for c in TABLES["variant_qc"].all_columns}
    rows = []
    for chromosome, n_het, het_expected, hwe_p in (("X", 0, None, None), ("MT", 0, None, None), ("22", 0, 0.18, 0.3),
                                                   ("1", 3, None, None), ("X", 2, 0.18, None)):
        rows.append({**row, "start": 1, "ref": "A", "alt": "G", "alt_index": 1, "is_snv": True, "n_samples": 10,
                     "n_called": 10, "call_rate": 1.0, "n_hom_ref": 10 - n_het, "n_het": n_het, "n_hom_alt": 0,
                     "af": 0.1, "het_expected": het_expected, "hwe_p": hwe_p, "hwe_midp": False,
                     "low_call_rate": False, "low_maf": False, "hwe_failed": False, "qc_pass": True,
                     "source_file": "f", "chromosome": chromosome})
    qc = contract("variant_qc", pa.Table.from_pylist(rows))
    assert gx_suites.validate("variant_qc", qc.slice(0, 4), sites_rows=4).passed  # a polyploid site on chr1 too
    outcome = gx_suites.validate("variant_qc", qc, sites_rows=5)  # a diploid site (het_expected) without HWE fails
    assert not outcome.passed and outcome.failing_rows == 1 and outcome.sample["chromosome"].to_pylist() == ["X"]


def test_sample_qc_suite(vcf100):
    _, _, samples = vcf100
    n = samples.num_rows
    qc = contract("sample_qc", pa.table({
        "sample_id": samples["sample_id"], "n_sites": pa.array([1269] * n), "n_called": pa.array([1269] * n),
        "call_rate": pa.array([1.0] * n), "n_hom_ref": pa.array([1000] * n), "n_het": pa.array([200] * n),
        "n_hom_alt": pa.array([69] * n), "n_missing": pa.array([0] * n), "n_non_ref": pa.array([269] * n),
        "het_rate": pa.array([200 / 1269] * n), "n_transitions": pa.array([150] * n),
        "n_transversions": pa.array([60] * n), "n_indels": pa.array([59] * n), "ti_tv": pa.array([2.5] * n),
        "low_call_rate": pa.array([False] * n), "qc_pass": pa.array([True] * n), "source_file": samples["source_file"]}))
    assert gx_suites.validate("sample_qc", qc, samples_rows=n).passed
    outcome = gx_suites.validate("sample_qc", pa.concat_tables([qc, qc.slice(0, 2)]), samples_rows=n)
    assert not outcome.passed and outcome.failing_rows == 2
    assert outcome.message == "sample_qc: 102 rows, samples has 100"
    bad = set_where(qc, "call_rate", row_mask(qc, [50]), -0.1)
    outcome = gx_suites.validate("sample_qc", bad, samples_rows=n)
    assert not outcome.passed and outcome.failing_rows == 1
    assert outcome.sample.to_pylist() == bad.take([50]).to_pylist()


# --- drug_response_report ------------------------------------------------------------------------------------


def report(rows):
    base = {"rsid": "rs4680", "gene_symbol": "COMT", "chromosome": "22", "position": 19951271, "ref": "G",
            "alt": "A", "clinical_significance": "drug response", "phenotype_list": "x", "cohort": "%",
            "input_snapshots": [("sites", 1)]}
    return contract("drug_response_report", pa.Table.from_pylist(
        [{**base, "rank": i + 1, "genotype": g, "genotype0": int(g[0]), "genotype1": int(g[2]), "frequency": f,
          "sample_count": c, "cohort_size": 4} for i, (g, f, c) in enumerate(rows)],
        schema=pa.schema([pa.field(c.name, _TYPES[c.type]) for c in TABLES["drug_response_report"].all_columns])))


def test_report_suite_and_an_empty_cohort_passes():
    good = report([("0|0", 0.75, 3), ("0|1", 0.25, 1)])
    outcome = gx_suites.validate("drug_response_report", good, cohort_size=4)
    assert outcome.passed, outcome.message
    # an empty cohort is not wrong data: the suite passes on the empty report (the layer warns in its own check)
    empty = good.slice(0, 0)
    outcome = gx_suites.validate("drug_response_report", empty, cohort_size=0)
    assert outcome.passed and outcome.details["cohort_size"] == 0
    bad = report([("0|0", 0.0, 0), ("0|1", 1.5, 6), ("1|1", 0.5, 2)])
    outcome = gx_suites.validate("drug_response_report", bad, cohort_size=4)
    assert not outcome.passed and outcome.failing_rows == 2
    assert outcome.message == "drug_response_report: frequency: 2 rows outside (0, 1]"
    assert outcome.sample.to_pylist() == bad.take([0, 1]).to_pylist()
