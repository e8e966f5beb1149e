"""The VCF transform on the real 100-sample 1000 Genomes slice, checked against an independent text parse."""

import gzip

import pyarrow.dataset as ds
import pytest

from genolake_assets.transforms import vcf
from genolake_assets.transforms.naming import file_kind, normalize_chromosome, partition_key
from tests.conftest import VCF_100


def _text_genotypes(path):
    """Oracle written for the test: split the VCF text, one entry per (pos, ref, alt) split allele."""
    expected, samples = {}, None
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith("##"):
                continue
            fields = line.rstrip("\n").split("\t")
            if line.startswith("#CHROM"):
                samples = fields[9:]
                continue
            pos, ref, alts = int(fields[1]), fields[3], fields[4].split(",")
            gts = [f.split(":")[0] for f in fields[9:]]
            for alt in alts:
                expected[(pos, ref, alt)] = dict(zip(samples, gts))
    return samples, expected


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    out = tmp_path_factory.mktemp("wh")
    stats = vcf.ingest_vcf(spark, str(VCF_100), str(out), "slice-1", source_path="landing/slice.vcf.gz")
    return out, stats


def _read(out, table):
    return ds.dataset(str(out / table), format="parquet").to_table()


def test_row_counts_match_the_file(ingested):
    out, stats = ingested
    # 1251 records, split multi-allelics -> 1269 allele rows (126,900 genotypes / 100 samples); 100 samples
    assert stats.rows("sites") == 1269
    assert stats.rows("samples") == 100
    assert _read(out, "sites").num_rows == 1269
    assert stats.chromosomes("sites") == ["22"]


def test_every_genotype_is_recoverable_from_calls_samples_sites(ingested):
    out, _ = ingested
    samples_expected, expected = _text_genotypes(VCF_100)
    samples = _read(out, "samples")
    assert samples["sample_id"].to_pylist() == samples_expected
    sites = {(r["start"] + 1, r["ref"], r["alt"]): r for r in _read(out, "sites").to_pylist()}
    assert set(sites) == set(expected)
    calls = {}
    for r in _read(out, "calls").to_pylist():
        calls[(r["start"] + 1, r["ref"], r["alt"], r["sample_id"])] = r

    def spell(a1, a2, phased):
        text = "." if a1 < 0 else str(a1)
        if a2 is None:
            return text
        return text + ("|" if phased else "/") + ("." if a2 < 0 else str(a2))

    compared = 0
    for key, by_sample in expected.items():
        site = sites[key]
        for sample, gt in by_sample.items():
            call = calls.get(key + (sample,))
            if call is None:
                got = spell(0, 0 if site["hom_ref_ploidy"] > 1 else None, site["hom_ref_phased"])
                # absent = reference for this allele: the VCF genotype carries neither this ALT nor '.'
                alt_index = site["alt_index"]
                assert str(alt_index) not in gt.replace("|", "/").split("/"), (key, sample, gt)
                assert got == "0|0"
            else:
                got = spell(call["allele1"], call["allele2"], call["phased"])
                assert got == gt, (key, sample, gt, got)
            compared += 1
    assert compared == 126_900


def test_site_counts_and_allele_frequencies(ingested):
    out, _ = ingested
    for row in _read(out, "sites").to_pylist():
        assert row["n_hom_ref"] + row["n_het"] + row["n_hom_alt"] + row["n_missing"] == 100
        assert row["an"] == 200  # diploid, no missing calls in this file
        assert row["ac"] == row["n_het"] + 2 * row["n_hom_alt"]
        assert row["af"] == pytest.approx(row["ac"] / row["an"])
        assert row["end"] - row["start"] == len(row["ref"])


def test_multiallelic_sites_are_split_with_their_alt_index(ingested):
    out, _ = ingested
    sites = _read(out, "sites").to_pylist()
    multi = [s for s in sites if s["n_alleles"] > 2]
    assert multi, "the slice has multi-allelic records"
    assert {s["alt_index"] for s in multi} >= {1, 2}
    calls = _read(out, "calls").to_pylist()
    # a call row on the split allele k carries allele k (or '.') as written
    for c in calls:
        assert c["alt_index"] in (c["allele1"], c["allele2"]) or -1 in (c["allele1"], c["allele2"])


def test_regions_from_a_tabix_index_and_whole_file_otherwise(tmp_path):
    assert vcf.plan_regions(str(VCF_100)) == [vcf.Region("22")]
    plain = tmp_path / "x.vcf.gz"
    plain.write_bytes(VCF_100.read_bytes())  # no index beside it
    assert vcf.plan_regions(str(plain), 8) == [vcf.Region()]
    assert vcf.detect_compression(str(VCF_100)) == "bgzf"


def test_regions_cut_by_compressed_bytes_own_every_record_once():
    """The 1000 Genomes slice has two genes 20 Mb apart: regions are cut by data, not by base pairs, and each
    record lands in exactly one region (a tabix query returns overlapping records; ownership is by POS)."""
    windows, end = vcf.tabix_layout(str(VCF_100) + ".tbi")["22"]
    assert (windows[1:] >= windows[:-1]).all() and windows[-1] <= end <= VCF_100.stat().st_size
    regions = vcf.plan_regions(str(VCF_100), 3)
    assert len(regions) == 3 and all(r.contig == "22" for r in regions)
    assert regions[0].start == 1 and regions[-1].end >= 51_304_566
    assert all(a.end + 1 == b.start for a, b in zip(regions, regions[1:]))  # contiguous, no gap or overlap
    whole = [(s.num_rows, c.num_rows) for _, s, c in vcf.iter_region(str(VCF_100), vcf.Region())]
    parts = [[(s.num_rows, c.num_rows) for _, s, c in vcf.iter_region(str(VCF_100), r)] for r in regions]
    rows = [sum(n for n, _ in p) for p in parts]
    assert sum(rows) == sum(n for n, _ in whole) == 1269
    assert sum(c for p in parts for _, c in p) == sum(c for _, c in whole)
    assert min(rows) > 1269 / 6  # balanced by bytes: no near-empty region


def test_chromosome_names_and_partition_keys():
    assert [normalize_chromosome(c) for c in ("chr22", "22", "chrX", "x", "chrM", "MT", "chr1_KI270706v1_random")] == [
        "22", "22", "X", "X", "MT", "MT", "1_KI270706v1_random"]
    key = partition_key("incoming/run 7/Sample,1|a[b].vcf.gz")
    assert key.startswith("Sample_1_a_b-") and not set(key) & set("/|,[] ")
    assert partition_key("a/x.vcf.gz") != partition_key("b/x.vcf.gz")
    assert partition_key("a/x.vcf.gz") == partition_key("a/x.vcf.gz")
    assert [file_kind(n) for n in ("a.vcf.gz", "a.vcf.bgz", "a.vcf", "a.vcf.gz.tbi", "variant_summary.txt.gz", "notes.txt")] == [
        "vcf", "vcf", "vcf", "index", "clinvar", None]


def test_a_small_file_parsed_in_this_process_equals_the_spark_parse(ingested, tmp_path):
    """The same task function run in the driver (no Spark job: what a small file gets) writes the same rows."""
    out, stats = ingested
    started = []

    def session():  # a small file never asks for the session
        started.append(True)
        raise AssertionError("Spark started for a small file")

    here = vcf.ingest_vcf(session, str(VCF_100), str(tmp_path), "slice-1", source_path="landing/slice.vcf.gz")
    assert not started and here.regions == 1 < stats.regions
    for table in ("sites", "calls", "samples"):
        ours, theirs = (sorted(map(repr, _read(root, table).to_pylist())) for root in (tmp_path, out))
        assert ours == theirs and len(ours) == stats.rows(table), table
