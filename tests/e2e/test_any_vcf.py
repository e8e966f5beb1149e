"""Any valid VCF lands and `genolake ingest` exits 0 with no stack trace, also on data the demo does not use.

The issue's acceptance: a check may block only on data that is wrong, never on data that is merely different from
the demo's (one sample, no ClinVar match, no samples, chrX with haploid male calls). Each case is one `genolake
ingest` subprocess (exactly what a user sees) into its own fresh home; the tables are then queried through
`genolake query` and compared with counts computed independently from the input with cyvcf2 (sites) and from the
ClinVar file with the standard library (the sites a ClinVar GRCh37 row matches by chromosome, PositionVCF and
VCF-style alleles).
"""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CLINVAR, ROOT, cli_env

pytestmark = pytest.mark.slow

SINGLE_SAMPLE = ROOT / "data" / "single_sample" / "NA12878_21_10002403.vcf"
CHR20 = ROOT / "data" / "onekg" / "1000G.phase3.broad.withGenotypes.chr20.10100000.vcf.gz"
TIMEOUT = 1200  # seconds per CLI call: a loaded 2-core machine runs an ingest in 40-120 s

# ---------------------------------------------------------------------------------------------------------------
# Inputs the project does not ship, written by the tests

HEADER = """##fileformat=VCFv4.2
##FILTER=<ID=PASS,Description="All filters passed">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
"""

# chrX only: 3 'male' samples with haploid calls and 3 'female' samples with diploid calls, as a caller writes
# chrX outside the pseudo-autosomal regions. Sites where every sample is hom-ref, het calls, missing calls (haploid
# `.`, diploid `./.` and half-missing `0|.`), a multi-allelic record, indels, an all-hom-alt site, and a site where
# every female is het (no diploid hom-ref sample at all: common on a small cohort).
CHRX_SAMPLES = ["M1", "M2", "M3", "F1", "F2", "F3"]
CHRX_RECORDS = [
    # POS  ID     REF   ALT    M1   M2   M3   F1     F2     F3
    (100, ".", "A", "G", "0", "0", "0", "0|0", "0|0", "0|0"),  # all hom-ref
    (200, "rs1", "C", "T", "1", "0", "0", "0|1", "0|0", "1|1"),  # het + hom-alt, both ploidies
    (300, ".", "G", "A", ".", "0", "1", "0|1", "./.", "0|0"),  # missing calls
    (400, ".", "T", "C", "0", "0", "0", "0/0", "0/0", "0/0"),  # all hom-ref, unphased
    (500, ".", "A", "C,T", "2", "0", "1", "1|2", "0|0", "0|1"),  # multi-allelic
    (600, ".", "G", "T", "0", "0", "0", "0|1", "1|0", "0|1"),  # every female het, every male hom-ref
    (700, ".", "C", "G", "1", "1", "1", "1|1", "1|1", "1|1"),  # all hom-alt
    (800, ".", "AT", "A", "0", "1", "0", "0|0", "0|1", "0|0"),  # deletion
    (900, ".", "G", "GA", "0", "0", "0", "0|0", "0|0", "0|1"),  # insertion, one het
    (1000, ".", "C", "A", ".", ".", "0", "0|.", "0|0", "0|0"),  # half-missing diploid call
]


def chrx_vcf(path: Path) -> Path:
    lines = [HEADER + "##contig=<ID=X,length=155270560>\n",
             "#" + "\t".join(["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                              *CHRX_SAMPLES]) + "\n"]
    for pos, rsid, ref, alt, *gts in CHRX_RECORDS:
        lines.append("\t".join(["X", str(pos), rsid, ref, alt, "50", "PASS", "DP=60", "GT", *gts]) + "\n")
    path.write_text("".join(lines))
    return path


def no_samples_vcf(path: Path) -> Path:
    """A sites-only VCF: no FORMAT column, no sample columns; a multi-allelic record and an ALT '.' record."""
    body = [
        ("7", "117199644", "rs113993960", "ATCT", "A"),
        ("7", "117199645", ".", "T", "C,G"),
        ("7", "117200000", ".", "G", "."),  # no variant allele: no sites row
        ("22", "42526694", "rs1065852", "G", "A"),
    ]
    lines = [HEADER + "##contig=<ID=7>\n##contig=<ID=22>\n",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"]
    lines += ["\t".join([c, p, i, r, a, "50", "PASS", "DP=10"]) + "\n" for c, p, i, r, a in body]
    path.write_text("".join(lines))
    return path


# ---------------------------------------------------------------------------------------------------------------
# Expected values, computed from the inputs without genolake


def _chromosome(name: str) -> str:
    """ClinVar's spelling of a contig (chr22 -> 22, chrM/M -> MT), as genolake writes it."""
    name = name[3:] if name.lower().startswith("chr") else name
    return "MT" if name.upper() in ("M", "MT") else name


def vcf_alleles(path: Path) -> set[tuple[str, int, str, str]]:
    """(chromosome, POS, REF, ALT) of every variant allele, multi-allelic records split (cyvcf2)."""
    import cyvcf2

    found = set()
    for v in cyvcf2.VCF(str(path)):
        for alt in v.ALT:
            found.add((_chromosome(v.CHROM), v.POS, v.REF, alt))
    return found


def expected_counts(path: Path) -> dict:
    import cyvcf2

    vcf = cyvcf2.VCF(str(path))
    samples = len(vcf.samples)
    return {"sites": sum(len(v.ALT) for v in vcf), "samples": samples}  # ALT '.' is [] in cyvcf2: no sites row


def clinvar_matches(vcf: Path, clinvar: Path = CLINVAR, assembly: str = "GRCh37") -> int:
    """Sites of ``vcf`` matching a ClinVar row of ``assembly`` by chromosome, PositionVCF and VCF-style alleles."""
    keys = set()
    with gzip.open(clinvar, "rt", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["Assembly"] == assembly and row["PositionVCF"] not in ("", "-1", "na"):
                keys.add((row["Chromosome"], int(row["PositionVCF"]), row["ReferenceAlleleVCF"],
                          row["AlternateAlleleVCF"]))
    return len(vcf_alleles(vcf) & keys)


# ---------------------------------------------------------------------------------------------------------------
# The CLI, as a user runs it


def genolake(home: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genolake_assets.cli", *map(str, args)], cwd=ROOT,
                          env=cli_env(home), capture_output=True, text=True, timeout=TIMEOUT)


def query(home: Path, sql: str) -> list[dict]:
    done = genolake(home, "query", sql, "--format", "json")
    assert done.returncode == 0, f"genolake query exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


TABLES = ["samples", "calls", "variant_qc", "sample_qc", "clinvar", "annotated_variants", "drug_response_report"]


def counts(home: Path) -> dict:
    """Rows of every table, read back through `genolake query` (each table must exist and be queryable)."""
    sites = query(home, "SELECT count(*) AS n FROM genolake.sites")[0]["n"]
    others = ", ".join(f"(SELECT count(*) FROM genolake.{t}) AS {t}" for t in TABLES)
    return {"sites": sites, **query(home, f"SELECT {others}")[0]}


def marked_lines(output: str, mark: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(mark)]


class Run:
    """One `genolake ingest` into a fresh home: its home, exit code and everything it printed."""

    def __init__(self, home: Path, done: subprocess.CompletedProcess):
        self.home, self.returncode, self.output = home, done.returncode, done.stdout + done.stderr

    def assert_accepted(self) -> None:
        """What every valid input must give: exit 0, no stack trace, no failed check or file."""
        failed = marked_lines(self.output, "x ")
        assert self.returncode == 0, (f"exit {self.returncode}; failure lines:\n" + "\n".join(failed) + "\n"
                                      + self.output[-4000:])
        assert "Traceback" not in self.output and "Stack Trace" not in self.output, self.output[-6000:]
        assert not failed, "\n".join(failed)

    def warnings(self, about: str) -> list[str]:
        return [line for line in marked_lines(self.output, "! ") if about in line]


def ingest(tmp_path_factory, name: str, *paths, cohort: str | None = None) -> Run:
    home = tmp_path_factory.mktemp(name) / "home"
    args = ["ingest", *(["--cohort", cohort] if cohort else []), *paths]
    return Run(home, genolake(home, *args))


def assert_tables(run: Run, vcf: Path, annotated: int = 0) -> dict:
    expected = expected_counts(vcf)
    found = counts(run.home)
    assert (found["sites"], found["samples"]) == (expected["sites"], expected["samples"]), found
    assert (found["variant_qc"], found["sample_qc"]) == (expected["sites"], expected["samples"]), found
    assert found["annotated_variants"] == annotated, found
    assert found["drug_response_report"] >= 0  # the report table exists (possibly empty)
    return found


# ---------------------------------------------------------------------------------------------------------------
# The cases: each one `genolake ingest` in a fresh home (module-scoped: one run per case, shared by its tests)


@pytest.fixture(scope="module")
def single_sample_run(tmp_path_factory):
    return ingest(tmp_path_factory, "single_sample", SINGLE_SAMPLE, CLINVAR)


@pytest.fixture(scope="module")
def chr20_run(tmp_path_factory):
    return ingest(tmp_path_factory, "chr20", CHR20, CLINVAR)


@pytest.fixture(scope="module")
def no_samples_input(tmp_path_factory):
    return no_samples_vcf(tmp_path_factory.mktemp("inputs") / "no_samples.vcf")


@pytest.fixture(scope="module")
def no_samples_run(tmp_path_factory, no_samples_input):
    return ingest(tmp_path_factory, "no_samples", no_samples_input)


@pytest.fixture(scope="module")
def chrx_input(tmp_path_factory):
    return chrx_vcf(tmp_path_factory.mktemp("inputs") / "chrX_only.vcf")


@pytest.fixture(scope="module")
def chrx_run(tmp_path_factory, chrx_input):
    # The cohort matches none of the 6 samples: the empty-cohort warning. This file comes without a ClinVar release,
    # so its report is empty whatever the cohort; the default cohort on files with samples is the single-sample and
    # chr20 cases'.
    return ingest(tmp_path_factory, "chrx", chrx_input, cohort="NOBODY%")


def test_single_sample_vcf_with_clinvar(single_sample_run):
    single_sample_run.assert_accepted()
    found = assert_tables(single_sample_run, SINGLE_SAMPLE, annotated=clinvar_matches(SINGLE_SAMPLE))
    assert found["clinvar"] > 0
    # the default cohort is every sample: this file's one sample, so no empty-cohort warning
    assert not single_sample_run.warnings("cohort"), single_sample_run.output[-3000:]


def test_vcf_without_clinvar_match(chr20_run):
    assert clinvar_matches(CHR20) == 0  # the point of this case: ClinVar loaded, nothing of the VCF in it
    chr20_run.assert_accepted()
    found = assert_tables(chr20_run, CHR20, annotated=0)
    assert found["clinvar"] > 0 and found["drug_response_report"] == 0
    assert not chr20_run.warnings("cohort"), chr20_run.output[-3000:]


def test_vcf_without_samples(no_samples_run, no_samples_input):
    assert expected_counts(no_samples_input) == {"sites": 4, "samples": 0}
    no_samples_run.assert_accepted()
    found = assert_tables(no_samples_run, no_samples_input)
    assert found["calls"] == 0 and found["drug_response_report"] == 0
    # no sample at all: the report's cohort (every sample, '%') is empty, which warns and does not block
    warned = no_samples_run.warnings("cohort")
    assert warned and "'%'" in warned[0], no_samples_run.output[-3000:]


def test_chrx_only_vcf_with_haploid_and_diploid_calls(chrx_run, chrx_input):
    chrx_run.assert_accepted()
    found = assert_tables(chrx_run, chrx_input)
    assert found["drug_response_report"] == 0
    assert query(chrx_run.home, "SELECT DISTINCT chromosome FROM genolake.sites") == [{"chromosome": "X"}]
    # a cohort matching nobody: one warning line naming it, exit 0
    warned = chrx_run.warnings("NOBODY%")
    assert len(warned) == 1 and "cohort" in warned[0] and "empty" in warned[0], chrx_run.output[-3000:]
    # the variant_qc check's invariant: hwe_p exactly where het_expected (a site QC treats as diploid)
    odd = query(chrx_run.home, "SELECT start + 1 AS pos, alt FROM genolake.variant_qc "
                               "WHERE (hwe_p IS NULL) <> (het_expected IS NULL)")
    assert odd == []


@pytest.mark.xfail(strict=True, reason=(
    "QC semantics, not an exit-code problem: transforms/qc.py decides 'diploid' from the site's commonest hom-ref "
    "spelling (hom_ref_ploidy), so on chrX with haploid males a mixed-ploidy site gets an HWE p-value only when "
    "hom-ref females outnumber hom-ref males (here X:1000 only). README says mixed-ploidy sites have none; "
    "qc.variant_qc's docstring says they are tested 'on the diploid spelling's counts'. Either rule would pass."))
def test_chrx_mixed_ploidy_sites_get_hwe_the_same_way(chrx_run):
    assert chrx_run.returncode == 0
    rows = query(chrx_run.home, "SELECT start + 1 AS pos, alt, hwe_p IS NOT NULL AS tested FROM genolake.variant_qc "
                                "WHERE n_called > 0 ORDER BY pos, alt")
    # every site of this file with a called sample has both haploid (M1-M3) and diploid (F1-F3) calls
    assert len({r["tested"] for r in rows}) == 1, rows
