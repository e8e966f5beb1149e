"""`make bench` end to end on a tiny file: the table and latest.json with the keys the issue asks for; the whole
path (`genolake ingest` in its own process, alternating with bcftools) and how it reports a failing run."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["size", "genolake_genotypes_per_s", "bcftools_view_genotypes_per_s", "bcftools_query_genotypes_per_s",
        "hail_genotypes_per_s", "peak_rss_bytes", "output_bytes", "vcf_gz_bytes", "report_seconds",
        "genolake_commit_seconds", "second_file_commit_seconds"]


def test_bench_prints_the_table_and_writes_latest_json(tmp_path):
    """The kernel figures and, beside them, one whole-path run of the real `genolake ingest` (one invocation, as
    `make bench` runs: the whole path is the slow half of this test)."""
    env = {**os.environ, "HAIL_PYTHON": str(tmp_path / "no-hail" / "python")}
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--records", "400", "--check-runs", "1",
                           "--path-runs", "1", "--out", str(tmp_path / "out"), "--data", str(tmp_path / "data")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "hail: skipped" in done.stdout
    result = json.loads((tmp_path / "out" / "latest.json").read_text())
    assert set(KEYS) <= set(result)
    assert result["size"] == "S400" and result["genotypes"] == 400 * 2504
    assert result["hail_genotypes_per_s"] is None
    for key in ("genolake_genotypes_per_s", "bcftools_view_genotypes_per_s", "bcftools_query_genotypes_per_s",
                "report_seconds", "vcf_gz_bytes", "genolake_commit_seconds", "second_file_commit_seconds"):
        assert result[key] > 0, key
    # genotypes/s is taken over the whole ingest, of which the Iceberg commit is a part
    assert result["genolake_commit_seconds"] < result["genolake_ingest_seconds"]
    assert result["second_file_commit_seconds"] < result["second_file_seconds"]
    # The process tree includes the JVM: far more than a Python process alone, bounded all the same.
    assert 200 * 2**20 < result["peak_rss_bytes"] < 4 * 2**30
    # ~5% of genotypes are not hom-ref: the sparse tables are a few x 10^4 rows, output near the .vcf.gz size.
    assert 0.2 < result["output_bytes"] / result["vcf_gz_bytes"] < 5
    assert 0.03 * result["genotypes"] < result["genolake_calls_rows"] < 0.08 * result["genotypes"]
    assert result["first_file_untouched"] is True and result["second_file_bytes_written"] > 0
    assert result["report_rows"] > 0 and result["lookup_rows"] > 0
    # the per-file check figure: every check of one single-sample file, in-process vs on Spark
    checks = result["checks"]
    assert checks["checks"] >= 8 and checks["samples"] == 1 and checks["runs"] == 1
    assert checks["in_process_seconds"] > 0 and checks["spark_seconds"] > 0
    for row in ("per-file checks (", "| bcftools view -Ou |", "| genolake ingest", "| Hail import_vcf",
                "commit (Iceberg, 3 tables + views)"):
        assert row in done.stdout
    assert "\n".join(result["table"]) in done.stdout
    # the whole path: genolake ingest of the same file + the ClinVar subset, every step, against bcftools view -Ou
    path = result["whole_path"]
    assert path["runs"] == 1 and path["failures"] == 0 and result["failed"] == []
    assert path["genolake_seconds"] > path["reported_total_seconds"] > path["vcf_seconds"] > 0
    assert path["clinvar_seconds"] > 0 and path["publish_seconds"] > 0 and path["startup_and_exit_seconds"] > 0
    assert path["vcf_checks"] >= 8 and path["clinvar_checks"] >= 1 and path["publish_checks"] >= 1
    assert path["ratio"] == path["bcftools_view_seconds"] / path["genolake_seconds"]
    assert path["seconds_per_million_genotypes"] == path["genolake_seconds"] / (result["genotypes"] / 1e6)
    # the JVM and the Spark workers are in the tree, and they are named in the breakdown at the peak
    run = path["genolake_runs"][0]
    assert 200 * 2**20 < run["peak_rss_bytes"] == path["genolake_peak_rss_bytes_max"]
    assert {"main process", "JVM"} <= set(run["peak_rss_by_process"])
    assert sum(p["rss_bytes"] for p in run["peak_rss_by_process"].values()) == run["peak_rss_bytes"]
    assert [f["number"] for f in run["files"]] == [1, 2]
    assert run["files"][0]["location"].startswith("synthetic_chr22_S400")
    targets = {t["target"]: t for t in result["targets"]}
    assert targets["whole path without failure (size S400)"]["met"] is True
    assert len(targets) == 5 and all(t["met"] in (True, False, None) for t in targets.values())
    for row in ("| whole path, size S400 |", "| bcftools view -Ou (alternated) |", "| genolake ingest (whole path) |",
                "genolake whole path, medians: VCF file", "| target | measured | |",
                "| peak RSS of the process tree <= 2.5 GB (whole path) |"):
        assert row in done.stdout, row
    assert "FAILURE" not in done.stdout


FAKE_GENOLAKE = r"""
import pathlib, sys
marker = pathlib.Path("../ran-once")  # the runs' homes are siblings: the first run passes, the next ones fail
if not marker.exists():
    marker.write_text("")
    print("genolake home . (mode local)", file=sys.stderr)
    print("ok [1/2] a.vcf.gz -> partition a-1: 10 sites, 20 calls, 3 samples (8 checks passed; 2.5s)", file=sys.stderr)
    print("ok [2/2] b.txt.gz -> partition b-1: 5 clinvar (2 checks passed; 1.5s)", file=sys.stderr)
    print("ok checks: 11 passed", file=sys.stderr)
    print("published in 3.0s; total 7.0s", file=sys.stderr)
    sys.exit(0)
print("java.lang.OutOfMemoryError: Java heap space", file=sys.stderr)
print("py4j.protocol.Py4JNetworkError: Connection refused", file=sys.stderr)
sys.exit(3)
"""


def test_a_failing_whole_path_run_is_reported_and_the_bench_goes_on(tmp_path, monkeypatch, capsys):
    """A genolake run that exits non-zero is a FAILURE in the table with the last lines of its output; the other
    runs are still measured, everything is printed and written, and the bench exits non-zero at the end."""
    from benchmarks import run

    monkeypatch.setattr(run, "GENOLAKE_COMMAND", [sys.executable, "-c", FAKE_GENOLAKE])
    monkeypatch.setattr(sys, "argv", ["run", "--only", "path", "--records", "300", "--path-runs", "2",
                                      "--out", str(tmp_path / "out"), "--data", str(tmp_path / "data")])
    try:
        run.main()
        raise AssertionError("the bench exited 0 after a failing run")
    except SystemExit as exit_:
        assert exit_.code == 1
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "out" / "latest.json").read_text())
    path = result["whole_path"]
    assert result["failed"] == ["whole path"] and path["failures"] == 1 and path["runs"] == 2
    assert [r["returncode"] for r in path["genolake_runs"]] == [0, 3] and len(path["bcftools_view_runs"]) == 2
    # the figures are those of the run that passed, its phases parsed from what genolake printed
    assert path["vcf_seconds"] == 2.5 and path["clinvar_seconds"] == 1.5 and path["publish_seconds"] == 3.0
    assert path["vcf_checks"] == 8 and path["publish_checks"] == 11
    assert path["genolake_seconds"] == path["genolake_runs"][0]["seconds"]
    assert path["genolake_runs"][1]["output_tail"][-1] == "py4j.protocol.Py4JNetworkError: Connection refused"
    assert "**FAILURE** in 1 of 2 runs" in printed and "FAILURE: genolake ingest, run 2 of 2, exit 3" in printed
    assert "    java.lang.OutOfMemoryError: Java heap space" in printed
    kept = Path(path["genolake_runs"][1]["kept"])  # the whole output, beside the generated files (gitignored)
    assert kept.parent.parent == tmp_path / "data" / "failed-runs" and kept.name == "run2"
    assert "Connection refused" in (kept / "stderr.txt").read_text() and "kept" not in path["genolake_runs"][0]
    assert f"its whole output and its home's log files: {kept}" in printed
    assert "runs in order: bcftools" in printed and "genolake FAILURE (exit 3" in printed
    targets = {t["target"]: t for t in result["targets"]}
    assert targets["whole path without failure (size S300)"]["met"] is False
    assert targets["whole path >= 0.25x bcftools view -Ou"]["met"] is False  # fast, but only over the passing run
    assert targets["kernel no slower than before (genotypes/s vs bcftools view -Ou)"]["met"] is None  # --only path
    assert "genolake_genotypes_per_s" not in result  # no kernel run


def test_every_run_failing_and_a_hung_run_killed(tmp_path, monkeypatch):
    from benchmarks import run

    # a run past the timeout is killed with its whole tree (here a child that would sleep on) and is a failure
    seconds, _, done = run.run_measured(["bash", "-c", "sleep 60 & sleep 60"], check=False, timeout=1)
    assert seconds < 30 and done.returncode != 0 and "timeout" in done.stderr
    monkeypatch.setattr(run, "GENOLAKE_COMMAND", [sys.executable, "-c", "import sys; sys.exit('boom')"])
    vcf = run.generate("T", 1, tmp_path / "data", records=200)
    path = run.whole_path(vcf, 200 * 2504, 1, tmp_path / "work")
    assert path["failures"] == 1 and path["genolake_seconds"] is None and path["ratio"] is None
    lines = run.whole_path_lines("T", path)
    assert any("**FAILURE** in 1 of 1 runs" in line for line in lines) and "    boom" in lines


def test_targets_linearity_across_sizes_and_the_kernel_reference(tmp_path):
    """Seconds per M genotypes of each size, from this run and the earlier runs' <size>.json; linear when L's is at
    most LINEAR_TOLERANCE x M's. The kernel is compared, as a ratio to bcftools view -Ou, with the README's figure."""
    from benchmarks import run

    out = tmp_path / "out"
    out.mkdir()
    for size, genotypes, per_m in (("S", 50_080_000, 0.9), ("M", 250_400_000, 0.40)):
        (out / f"{size}.json").write_text(json.dumps({"size": size, "date": "2026-12-01", "genotypes": genotypes,
                                                      "whole_path": {"seconds_per_million_genotypes": per_m,
                                                                     "failures": 0}}))
    path = {"runs": 3, "failures": 0, "genotypes": 2_504_000_000, "genolake_peak_rss_bytes_max": 2_400_000_000,
            "ratio": 0.3, "seconds_per_million_genotypes": 0.44}
    result = {"size": "L", "date": "2026-12-02", "whole_path": path,
              "genolake_genotypes_per_s": 12e6, "bcftools_view_genotypes_per_s": 24e6}
    rows = {r["target"].split(" (")[0]: r for r in run.targets(result, out, None)}
    assert rows["whole path time linear in size"]["met"] is True  # 0.44 / 0.40 = 1.10
    assert "S 0.900 (2026-12-01), M 0.400 (2026-12-01), L 0.440" in rows["whole path time linear in size"]["measured"]
    assert "different days" in rows["whole path time linear in size"]["measured"]
    assert rows["peak RSS of the process tree <= 2.5 GB"]["met"] is True
    assert rows["whole path >= 0.25x bcftools view -Ou"]["met"] is True
    assert rows["kernel no slower than before"]["met"] is True  # 0.50x against M's 0.52x - 0.03
    path.update(seconds_per_million_genotypes=0.60, genolake_peak_rss_bytes_max=2_600_000_000, ratio=0.2)
    result["genolake_genotypes_per_s"] = 11e6
    rows = {r["target"].split(" (")[0]: r for r in run.targets(result, out, None)}
    assert [rows[k]["met"] for k in ("whole path time linear in size", "peak RSS of the process tree <= 2.5 GB",
                                     "whole path >= 0.25x bcftools view -Ou", "kernel no slower than before")] == \
        [False, False, False, False]
    assert "not met" in "\n".join(run.target_lines(list(rows.values())))


def test_a_child_sharing_its_parents_memory_is_counted_once(tmp_path):
    """The peak RSS of a tree: a fork that has not exec'd yet (like the JVM's posix_spawn child, which shares the
    JVM's address space under the spawning thread's name) has its parent's RSS; counted twice it made a 1.4 GB JVM
    look like 2.8 GB."""
    import time

    import psutil

    from benchmarks import run

    ready = tmp_path / "ready"
    script = ("import os, subprocess, sys, time; block = bytearray(300 * 2**20); "  # 300 MiB, touched
              "sleeper = subprocess.Popen(['sleep', '30']); pid = os.fork()\n"
              "if pid == 0: open('/proc/self/comm', 'w').write('Executor task l'); time.sleep(30); os._exit(0)\n"
              f"open({str(ready)!r}, 'w').close(); time.sleep(30)")
    parent = psutil.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        total, counted = run.tree_rss(parent)
        names = sorted(p.name() for p, _ in counted)
        assert len(parent.children(recursive=True)) == 2
        assert names == sorted([parent.name(), "sleep"])  # the fork is left out, the exec'd child is counted
        assert 300 * 2**20 < total < 1.3 * parent.memory_info().rss
    finally:
        for proc in parent.children(recursive=True) + [parent]:
            proc.kill()
        parent.wait()
