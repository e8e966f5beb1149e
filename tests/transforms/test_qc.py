"""Variant and sample QC against the tools geneticists trust: plink 1.9 --hardy for the Hardy-Weinberg exact test,
bcftools stats -s - for the per-sample counts; discordance on hand-made VCFs."""

import math
import shutil
import subprocess
from fractions import Fraction
from math import factorial
from pathlib import Path

import pytest

from genolake_assets.transforms import qc, vcf
from genolake_assets.transforms.tables import SAMPLE_QC, VARIANT_QC
from tests.conftest import VCF_100

PLINK = shutil.which("plink1.9")
BCFTOOLS = shutil.which("bcftools")


def _frames(spark, root: Path, tables=("sites", "calls", "samples")):
    """The ingested tables as Spark DataFrames, read from the data files as the qc assets read them."""
    return {t: spark.read.parquet(*sorted(str(p) for p in (root / t / "data").rglob("*.parquet"))) for t in tables}


def _ingest(spark, path, root, key):
    vcf.ingest_vcf(spark, str(path), str(root), key, source_path=Path(path).name)


@pytest.fixture(scope="module")
def cohort(spark, tmp_path_factory):
    """The 100-sample 1000 Genomes slice (1251 records, 1269 site alleles), ingested once."""
    root = tmp_path_factory.mktemp("qc-wh")
    _ingest(spark, VCF_100, root, "slice-100")
    return _frames(spark, root)


# --- Hardy-Weinberg exact test -------------------------------------------------------------------------------------

def _exact_oracle(het, hom1, hom2, midp=False):
    """Independent oracle: every heterozygote count's probability in exact rational arithmetic (Levene 1949)."""
    n = het + hom1 + hom2
    rare = min(2 * hom1 + het, 2 * hom2 + het)
    common = 2 * n - rare

    def prob(h):
        r, c = (rare - h) // 2, (common - h) // 2
        return Fraction(factorial(n) * 2 ** h * factorial(rare) * factorial(common),
                        factorial(r) * factorial(h) * factorial(c) * factorial(2 * n))

    probs = {h: prob(h) for h in range(rare % 2, rare + 1, 2)}
    assert sum(probs.values()) == 1
    observed = probs[het]
    p = sum(v for v in probs.values() if v <= observed)
    if midp:
        p -= Fraction(1, 2) * sum(v for v in probs.values() if v == observed)
    return p


def test_hwe_exact_hand_computed_values():
    # 2 samples, one of each homozygote: P(h=0) = 1/3, P(h=2) = 2/3 (Levene's formula, by hand).
    assert qc.hwe_exact(0, 1, 1) == pytest.approx(1 / 3, rel=1e-12)
    assert qc.hwe_exact(0, 1, 1, midp=True) == pytest.approx(1 / 6, rel=1e-12)
    assert qc.hwe_exact(2, 0, 0) == pytest.approx(1.0, rel=1e-12)
    assert qc.hwe_exact(2, 0, 0, midp=True) == pytest.approx(2 / 3, rel=1e-12)
    # Monomorphic and empty: plink prints 1 (0.5 with midp).
    assert qc.hwe_exact(0, 100, 0) == 1.0 and qc.hwe_exact(0, 0, 100, midp=True) == 0.5
    assert qc.hwe_exact(0, 0, 0) == 1.0 and qc.hwe_exact(0, 0, 0, midp=True) == 0.5
    # hom1/hom2 order does not matter
    assert qc.hwe_exact(7, 80, 13) == qc.hwe_exact(7, 13, 80)
    with pytest.raises(ValueError):
        qc.hwe_exact(-1, 3, 4)


def test_hwe_exact_values_printed_by_plink():
    """Rows of `plink1.9 --hardy` / `--hardy midp` on the 100-sample slice (GENO = hom-alt/het/hom-ref, P)."""
    for geno, p, p_midp in [("52/10/38", "4.931e-17", "2.492e-17"), ("49/23/28", "2.152e-07", "1.402e-07"),
                            ("1/10/89", "0.2956", "0.165"), ("1/15/84", "0.5239", "0.3312")]:
        hom_alt, het, hom_ref = map(int, geno.split("/"))
        assert abs(qc.hwe_exact(het, hom_ref, hom_alt) - float(p)) <= _printed_unit(p), geno
        assert abs(qc.hwe_exact(het, hom_ref, hom_alt, midp=True) - float(p_midp)) <= _printed_unit(p_midp), geno


@pytest.mark.parametrize("het,hom1,hom2", [(0, 1, 1), (3, 5, 2), (10, 85, 5), (16, 72, 12), (0, 97, 3),
                                           (50, 25, 25), (57, 40, 3), (1, 0, 199), (31, 0, 2), (120, 400, 9)])
def test_hwe_exact_equals_the_rational_oracle(het, hom1, hom2):
    for midp in (False, True):
        expected = float(_exact_oracle(het, hom1, hom2, midp))
        assert qc.hwe_exact(het, hom1, hom2, midp) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_hwe_pvalues_vectorised_computes_each_triple_once(monkeypatch):
    calls = []
    real = qc.hwe_exact
    monkeypatch.setattr(qc, "hwe_exact", lambda *a: calls.append(a) or real(*a))
    p = qc.hwe_pvalues([0, 16, 16, 2, 0], [1, 72, 12, 0, 0], [1, 12, 72, 0, 0], midp=False)
    assert sorted(calls) == [(0, 0, 0, False), (0, 1, 1, False), (2, 0, 0, False), (16, 12, 72, False)]
    assert p.tolist() == [real(0, 1, 1), real(16, 72, 12), real(16, 72, 12), 1.0, 1.0]


def _printed_unit(text: str) -> float:
    """Half a unit of the 4th significant digit of a value plink printed (its precision)."""
    value = float(text)
    return 0.5 * 10 ** (math.floor(math.log10(value)) - 3) if value else 0.5e-300


def _plink_hardy(tmp_path, midp):
    out = tmp_path / ("hardy-midp" if midp else "hardy")
    cmd = [PLINK, "--vcf", str(VCF_100), "--double-id", "--allow-extra-chr", "--set-missing-var-ids", "@:#:$1:$2",
           "--keep-allele-order", "--biallelic-only", "strict", "--hardy", *(["midp"] if midp else []),
           "--make-just-bim", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    bim = [line.split() for line in Path(f"{out}.bim").read_text().splitlines()]
    hwe = [line.split() for line in Path(f"{out}.hwe").read_text().splitlines()[1:]]
    assert len(bim) == len(hwe)
    # bim: chrom, id, cM, pos, A1 (= ALT with --keep-allele-order), A2 (= REF); hwe: GENO = A1A1/A1A2/A2A2, P
    return {(int(b[3]), b[5], b[4]): (h[5], h[8]) for b, h in zip(bim, hwe)}


@pytest.mark.skipif(PLINK is None, reason="plink1.9 is missing: `make plink` (or apt-get install plink1.9) installs "
                    "Debian's plink 1.9, the reference for the HWE exact test")
@pytest.mark.parametrize("midp", [False, True])
def test_hwe_equals_plink_hardy_on_every_biallelic_site(spark, cohort, tmp_path, midp, capsys):
    expected = _plink_hardy(tmp_path, midp)
    assert len(expected) == 1233  # 1251 records, 18 multi-allelic skipped by --biallelic-only strict
    rows = (qc.variant_qc(cohort["sites"], cohort["samples"], qc.QcThresholds(hwe_midp=midp))
            .filter("alt_index = 1").toArrow().to_pylist())
    got = {(r["start"] + 1, r["ref"], r["alt"]): r for r in rows}
    compared, worst = 0, 0.0
    for key, (geno, p_text) in expected.items():
        r = got[key]
        assert geno == f"{r['n_hom_alt']}/{r['n_het']}/{r['n_hom_ref']}", key
        assert r["hwe_midp"] is midp
        deviation = abs(r["hwe_p"] - float(p_text))
        assert deviation <= _printed_unit(p_text), (key, r["hwe_p"], p_text)
        worst = max(worst, deviation / (2 * _printed_unit(p_text)))
        compared += 1
    assert compared == 1233
    with capsys.disabled():
        print(f"\nplink --hardy{' midp' if midp else ''}: {compared} sites equal to the printed precision "
              f"(largest deviation {worst:.3f} of a unit of the 4th significant digit)")


# --- variant_qc ----------------------------------------------------------------------------------------------------

# The slice at MAF < 0.05 and HWE p < 1e-4 (counted independently in the test, pinned so a change shows)
LOW_MAF, HWE_FAILED = 903, 18

def test_variant_qc_one_row_per_site_with_the_contract_columns_and_flags(spark, cohort):
    thresholds = qc.QcThresholds(min_call_rate=0.95, min_maf=0.05, min_hwe_p=1e-4, hwe_midp=False)
    df = qc.variant_qc(cohort["sites"], cohort["samples"], thresholds)
    assert df.columns == VARIANT_QC.column_names
    types = dict(df.dtypes)
    assert [types[c.name] for c in VARIANT_QC.all_columns] == [
        {"bigint": "bigint", "int": "int", "smallint": "smallint", "double": "double", "boolean": "boolean",
         "string": "string"}[c.type] for c in VARIANT_QC.all_columns]
    rows = df.toArrow().to_pylist()
    sites = cohort["sites"].toArrow().to_pylist()
    assert len(rows) == len(sites) == 1269
    assert sorted((r["start"], r["alt"]) for r in rows) == sorted((s["start"], s["alt"]) for s in sites)
    low_maf = hwe_failed = 0
    for r in rows:
        assert r["n_samples"] == 100 and r["n_called"] == 100 and r["call_rate"] == 1.0
        assert r["maf"] == pytest.approx(min(r["af"], 1 - r["af"]))
        assert r["het_observed"] == pytest.approx(r["n_het"] / 100)
        assert r["het_expected"] == pytest.approx(2 * r["af"] * (1 - r["af"]))
        assert r["hwe_p"] == pytest.approx(qc.hwe_exact(r["n_het"], r["n_hom_ref"], r["n_hom_alt"]), rel=1e-12)
        assert r["low_call_rate"] is False
        assert r["low_maf"] is (r["maf"] < 0.05)
        assert r["hwe_failed"] is (r["hwe_p"] < 1e-4)
        assert r["qc_pass"] is not (r["low_maf"] or r["hwe_failed"])
        assert r["is_snv"] is (len(r["ref"]) == 1 and len(r["alt"]) == 1)
        low_maf += r["low_maf"]
        hwe_failed += r["hwe_failed"]
    # counted independently from the sites rows
    expected_low_maf = sum(min(s["af"], 1 - s["af"]) < 0.05 for s in sites)
    triples = {(s["n_het"], s["n_hom_ref"], s["n_hom_alt"]) for s in sites}
    failing = {t for t in triples if _exact_oracle(*t) < Fraction(1, 10_000)}
    expected_hwe = sum((s["n_het"], s["n_hom_ref"], s["n_hom_alt"]) in failing for s in sites)
    assert (low_maf, hwe_failed) == (expected_low_maf, expected_hwe)
    assert (low_maf, hwe_failed) == (LOW_MAF, HWE_FAILED)


HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=1>\n##contig=<ID=X>\n##FORMAT=<ID=GT,Number=1,Type=String,"
          "Description=\"Genotype\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{}\n")


def _vcf(tmp_path, name, samples, body):
    path = tmp_path / name
    path.write_text(HEADER.format("\t".join(samples)) + body)
    return path


def test_missing_haploid_multiallelic_and_no_gt_records(spark, tmp_path):
    """Per site allele semantics on a hand-made file: missing, haploid, a 1/2 genotype, a record without GT."""
    body = ("1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\t./.\t1/1\t0/0\n"
            "1\t200\t.\tC\tT,CA\t.\t.\t.\tGT\t1/2\t2/2\t0/.\t0/0\n"
            "1\t300\t.\tG\tT\t.\t.\t.\t.\t.\t.\t.\t.\n"
            "X\t400\t.\tT\tC\t.\t.\t.\tGT\t1\t0\t.\t0\n")
    path = _vcf(tmp_path, "small.vcf", ["S1", "S2", "S3", "S4"], body)
    root = tmp_path / "wh"
    _ingest(spark, path, root, "small")
    f = _frames(spark, root)
    t = qc.QcThresholds(min_call_rate=0.8, min_maf=0.2, min_hwe_p=0.5)
    v = {(r["start"] + 1, r["alt"]): r for r in qc.variant_qc(f["sites"], f["samples"], t).toArrow().to_pylist()}
    pick = ("n_samples", "n_called", "call_rate", "n_hom_ref", "n_het", "n_hom_alt", "hwe_p", "low_call_rate",
            "low_maf", "hwe_failed", "qc_pass")
    got = {k: tuple(r[c] for c in pick) for k, r in v.items()}
    assert got == {
        (100, "G"): (4, 3, 0.75, 1, 1, 1, qc.hwe_exact(1, 1, 1), True, False, False, False),
        (200, "T"): (4, 3, 0.75, 2, 1, 0, qc.hwe_exact(1, 2, 0), True, True, False, False),
        (200, "CA"): (4, 3, 0.75, 1, 1, 1, qc.hwe_exact(1, 1, 1), True, False, False, False),
        (300, "T"): (4, 0, 0.0, 0, 0, 0, None, True, False, False, False),
        (400, "C"): (4, 3, 0.75, 2, 0, 1, None, True, False, False, False),
    }
    assert v[(300, "T")]["maf"] is None and v[(400, "C")]["het_expected"] is None
    s = {r["sample_id"]: r for r in qc.sample_qc(f["calls"], f["sites"], f["samples"], t).toArrow().to_pylist()}
    pick = ("n_sites", "n_called", "n_hom_ref", "n_het", "n_hom_alt", "n_missing", "n_non_ref", "n_transitions",
            "n_transversions", "n_indels", "ti_tv", "low_call_rate", "qc_pass")
    assert {k: tuple(r[c] for c in pick) for k, r in s.items()} == {
        # S1: 0/1 (Ti), 1/2 (het at T: Ti; het at CA: indel), no GT (missing), 1 (hom-alt haploid: Ti)
        "S1": (5, 4, 0, 3, 1, 1, 4, 3, 0, 1, None, True, False),
        # S2: ./., 2/2 (hom-ref at T, hom-alt at CA: indel), no GT, 0
        "S2": (5, 3, 2, 0, 1, 2, 1, 0, 0, 1, None, True, False),
        # S3: 1/1 (Ti), 0/. missing at both alleles, no GT, . (haploid missing)
        "S3": (5, 1, 0, 0, 1, 4, 1, 1, 0, 0, None, True, False),
        # S4: hom-ref everywhere it is called
        "S4": (5, 4, 4, 0, 0, 1, 0, 0, 0, 0, None, True, False),
    }
    assert s["S1"]["call_rate"] == 0.8 and s["S1"]["het_rate"] == 0.75


# --- sample_qc against bcftools stats -s - -------------------------------------------------------------------------

def _bcftools_per_sample(path: Path) -> dict:
    out = subprocess.run([BCFTOOLS, "stats", "-s", "-", str(path)], capture_output=True, text=True, check=True).stdout
    psc, psi = {}, {}
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "PSC":
            # nRefHom nNonRefHom nHets nTransitions nTransversions nIndels ... nMissing. In bcftools 1.16 nNonRefHom
            # and nHets count SNPs only; the indels' non-reference genotypes are in PSI (and nIndels).
            psc[f[2]] = dict(zip(("ref_hom", "non_ref_hom", "hets", "ts", "tv", "indels"), map(int, f[3:9])))
            psc[f[2]]["missing"] = int(f[13])
        elif f[0] == "PSI":
            psi[f[2]] = dict(zip(("ins_hets", "del_hets", "ins_hom", "del_hom"), map(int, f[7:11])))
    assert set(psc) == set(psi)
    return {s: {**psc[s], **psi[s]} for s in psc}


@pytest.mark.skipif(BCFTOOLS is None, reason="bcftools is missing: `make bcftools` installs Debian's bcftools")
def test_sample_counts_and_ti_tv_equal_bcftools_stats(spark, tmp_path, capsys):
    biallelic = tmp_path / "biallelic.vcf.gz"
    subprocess.run([BCFTOOLS, "view", "-m2", "-M2", "-Oz", "-o", str(biallelic), str(VCF_100)], check=True)
    subprocess.run([BCFTOOLS, "index", "-t", str(biallelic)], check=True)
    expected = _bcftools_per_sample(biallelic)
    assert len(expected) == 100
    root = tmp_path / "wh"
    _ingest(spark, biallelic, root, "biallelic")
    f = _frames(spark, root)
    df = qc.sample_qc(f["calls"], f["sites"], f["samples"], qc.QcThresholds())
    assert df.columns == SAMPLE_QC.column_names
    rows = {r["sample_id"]: r for r in df.toArrow().to_pylist()}
    assert set(rows) == set(expected)
    for sample, e in expected.items():
        r = rows[sample]
        assert r["n_sites"] == 1233
        assert r["n_hom_ref"] == e["ref_hom"], sample
        assert r["n_het"] == e["hets"] + e["ins_hets"] + e["del_hets"], sample
        assert r["n_hom_alt"] == e["non_ref_hom"] + e["ins_hom"] + e["del_hom"], sample
        assert (r["n_transitions"], r["n_transversions"], r["n_indels"]) == (e["ts"], e["tv"], e["indels"]), sample
        assert r["n_missing"] == e["missing"] == 0, sample
        assert r["ti_tv"] == pytest.approx(e["ts"] / e["tv"], rel=1e-12), sample
        assert r["n_non_ref"] == e["hets"] + e["non_ref_hom"] + e["indels"]
        assert r["call_rate"] == 1.0 and r["qc_pass"] is True
    with capsys.disabled():
        print(f"\nbcftools stats -s -: {len(expected)} samples x 1233 records, counts and Ti/Tv equal")


def test_sample_qc_totals_equal_the_site_counts_on_the_multiallelic_file(spark, cohort):
    """Per site allele: summed over samples, sample_qc's counts are the sites' counts (split records included)."""
    rows = qc.sample_qc(cohort["calls"], cohort["sites"], cohort["samples"]).toArrow().to_pylist()
    sites = cohort["sites"].toArrow().to_pylist()
    assert len(rows) == 100 and {r["n_sites"] for r in rows} == {1269}
    for name in ("n_hom_ref", "n_het", "n_hom_alt", "n_missing"):
        assert sum(r[name] for r in rows) == sum(s[name] for s in sites), name


# --- discordance ---------------------------------------------------------------------------------------------------

def test_discordant_genotypes_between_two_files(spark, tmp_path):
    """S1 and S3 are typed in both files; S2 only in file a. In b: S1 has a phase swap at 100 (not discordant), a
    het where a implies hom-ref (200, discordant) and a missing call at 300 (ignored); S3 is hom-alt at 300 where a
    implies 0|0 (discordant); 400 exists only in b; 500 is multi-allelic in a, the ALT's index differs in b."""
    a = _vcf(tmp_path, "a.vcf", ["S1", "S2", "S3"],
             "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0|1\t1|1\t0|0\n"
             "1\t200\t.\tC\tT\t.\t.\t.\tGT\t0|0\t0|1\t0|1\n"
             "1\t300\t.\tG\tA\t.\t.\t.\tGT\t1|1\t0|1\t0|0\n"
             "1\t500\t.\tT\tC,G\t.\t.\t.\tGT\t0|2\t0|0\t1|2\n")
    b = _vcf(tmp_path, "b.vcf", ["S3", "S1"],
             "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0|0\t1|0\n"
             "1\t200\t.\tC\tT\t.\t.\t.\tGT\t0|1\t0|1\n"
             "1\t300\t.\tG\tA\t.\t.\t.\tGT\t1|1\t.|.\n"
             "1\t400\t.\tC\tA\t.\t.\t.\tGT\t1|1\t1|1\n"
             "1\t500\t.\tT\tG\t.\t.\t.\tGT\t1|0\t0|1\n")
    root = tmp_path / "wh"
    _ingest(spark, a, root, "file-a")
    _ingest(spark, b, root, "file-b")
    f = _frames(spark, root)
    df = qc.discordant_genotypes(f["calls"], f["sites"], f["samples"])
    assert df.columns == qc.DISCORDANT_COLUMNS
    rows = sorted(tuple(r.values()) for r in df.toArrow().to_pylist())
    assert rows == [
        ("S1", "1", 199, "C", "T", "file-a", "0|0", "file-b", "0|1"),
        ("S3", "1", 299, "G", "A", "file-a", "0|0", "file-b", "1|1"),
        # T>G is ALT 2 in a, ALT 1 in b: S1's 0|2 and 0|1 agree; S3 carries C and G in a, REF and G in b
        ("S3", "1", 499, "T", "G", "file-a", "1|2", "file-b", "1|0"),
    ]
