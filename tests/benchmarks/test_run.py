"""`make bench` end to end on a tiny file: the table and latest.json with the keys the issue asks for."""

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
    env = {**os.environ, "HAIL_PYTHON": str(tmp_path / "no-hail" / "python")}
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--records", "400", "--check-runs", "1", "--out", str(tmp_path / "out"),
                           "--data", str(tmp_path / "data")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
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
