"""`make bench-files`: the parts that can go wrong without running genolake: reading what `genolake ingest` prints,
the start / end windows and their ratio, and the split into single-sample VCFs."""

import shutil
import subprocess

import pytest

from benchmarks.many_files import SOURCE, parse_ingest, sample_plan, split_samples, windows

# As genolake_assets/cli.py prints them (rich colours as ANSI codes when forced; the file lines are soft-wrapped).
OUTPUT = """\
\x1b[1mgenolake\x1b[0m home /tmp/h (mode local)
\x1b[32mok\x1b[0m [1/4] HG00096.vcf.gz -> partition HG00096-5c1f0a2e: 1,251 sites, 288 calls, 1 samples (12 checks passed; 13.0s)
ok [2/4] HG00097.vcf.gz -> partition HG00097-0b9e77d1: 1,251 sites, 241 calls, 1 samples (batch of 2: 8 checks passed; 2.4s)
x [3/4] HG00099.vcf.gz: raw -> processed failed: calls: duplicate rows
ok [4/4] variant_summary.2021-01.chr22_or_response.subset.txt.gz -> partition variant_summary.2021-01.chr22_or_response.subset-1f2e3d4c: 1,508 clinvar (3 checks passed; 1.1s)
ok checks: 14 passed
ok processed/annotated_variants: 33 rows
published in 34.6s; total 52.4s
1 file(s) failed; see the messages above and /tmp/h/quarantine
"""


def test_the_per_file_lines_and_the_publish_line_are_read():
    parsed = parse_ingest(OUTPUT)
    assert [(f["number"], f["location"], f["checks"], f["seconds"]) for f in parsed["files"]] == [
        (1, "HG00096.vcf.gz", 12, 13.0), (2, "HG00097.vcf.gz", 8, 2.4),
        (4, "variant_summary.2021-01.chr22_or_response.subset.txt.gz", 3, 1.1)]
    assert parsed["files"][0]["partition"] == "HG00096-5c1f0a2e"
    assert [f["batch"] for f in parsed["files"]] == [1, 2, 1]  # a batch's file: the batch's seconds over its files
    assert parsed["files"][1]["rows"] == "1,251 sites, 241 calls, 1 samples"
    assert parsed["publish_seconds"] == 34.6 and parsed["reported_total_seconds"] == 52.4
    assert parsed["publish_checks"] == 14
    assert parsed["failed_files"] == [{"number": 3, "location": "HG00099.vcf.gz",
                                       "message": "raw -> processed failed: calls: duplicate rows"}]


def test_a_process_that_printed_nothing_has_no_figures():
    parsed = parse_ingest("Traceback (most recent call last):\n  ...\nRuntimeError: boom\n")
    assert parsed["files"] == [] and parsed["failed_files"] == []
    assert parsed["publish_seconds"] is None and parsed["reported_total_seconds"] is None


def test_first_and_last_twenty_files_and_their_ratio():
    values = [10.0] * 20 + [99.0] * 159 + [12.0] * 19 + [None]  # files 2..200; the last one failed
    w = windows(values, first_number=2)
    assert (w["window"], w["quarter"]) == (20, False)
    assert (w["first_files"], w["last_files"]) == ("files 2-21", "files 181-200")
    assert w["first_median"] == 10.0 and w["last_median"] == 12.0  # the failed file is left out of its window
    assert w["ratio"] == pytest.approx(1.2)
    assert windows([1.0] * 40, first_number=2)["quarter"] is False  # N = 41: 20 and 20


def test_fewer_than_41_files_compare_the_first_and_last_quarter():
    w = windows([4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0], first_number=2)  # files 2..9
    assert (w["window"], w["quarter"]) == (2, True)
    assert (w["first_files"], w["last_files"]) == ("files 2-3", "files 8-9")
    assert w["first_median"] == 4.5 and w["last_median"] == 11.0 and w["ratio"] == pytest.approx(11.0 / 4.5)
    assert "quarter" in w["label"]
    one = windows([3.0, 6.0], first_number=2)  # N = 3: one file each
    assert (one["first_files"], one["last_files"], one["ratio"]) == ("file 2", "file 3", 2.0)
    assert windows([], first_number=2)["ratio"] is None
    assert windows([None, 6.0], first_number=2)["ratio"] is None  # no figure at the start: no ratio


def test_files_past_the_source_samples_are_renamed():
    plan = sample_plan(["A", "B"], 5)
    assert plan == [("A", "A"), ("B", "B"), ("A", "A_r2"), ("B", "B_r2"), ("A", "A_r3")]
    assert len({sample_id for _, sample_id in sample_plan([f"S{i}" for i in range(100)], 200)}) == 200


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="needs bcftools")
def test_the_split_gives_distinct_single_sample_files(tmp_path):
    def samples(path):
        return subprocess.run(["bcftools", "query", "-l", str(path)], check=True, capture_output=True,
                              text=True).stdout.split()

    files = split_samples(SOURCE, tmp_path, 3)
    assert len(files) == 3 and all(f.exists() and f.with_name(f.name + ".tbi").exists() for f in files)
    found = [samples(f) for f in files]
    assert all(len(s) == 1 for s in found) and len({s[0] for s in found}) == 3
    assert found[0] == [samples(SOURCE)[0]] and files[0].name == f"{found[0][0]}.vcf.gz"
    written = files[0].stat().st_mtime_ns
    assert split_samples(SOURCE, tmp_path, 3) == files and files[0].stat().st_mtime_ns == written  # cached
    # past the source's samples: the same genotypes under a new sample ID
    renamed = split_samples(SOURCE, tmp_path / "renamed", 2, samples=[found[0][0]])
    assert [samples(f) for f in renamed] == [found[0], [f"{found[0][0]}_r2"]]
    records = [subprocess.run(["bcftools", "query", "-f", "%POS[\\t%GT]\\n", str(f)], check=True,
                              capture_output=True, text=True).stdout for f in renamed]
    assert records[0] == records[1] and records[0].count("\n") > 1000
    assert not list(tmp_path.rglob(".*"))  # no partial file left behind
