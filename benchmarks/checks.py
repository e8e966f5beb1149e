"""Per-file check cost: every check of sites, calls and samples on one landed single-sample VCF's new data files,
validated in-process (pandera's pandas backend, DuckDB, GX on pandas: the path files up to SMALL_ROWS rows take)
against the Spark path (pandera on Spark, Spark SQL: what larger files take, and what every file took before).
Runs alternate; each figure is the median of RUNS runs after one warm-up of each. Prints one JSON object.

    python -m benchmarks.checks [--runs N] [VCF]
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

RUNS = 5
SINGLE_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "single_sample" / "CEUTrio.HiSeq.WGS.b37.NA12878.20.21.vcf.gz"


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("vcf", type=Path, nargs="?", default=SINGLE_SAMPLE)
    args = parser.parse_args()
    path, runs = args.vcf, args.runs
    from genolake_assets import checks
    from genolake_assets.transforms.vcf import ingest_vcf
    from resources.spark import SparkResource

    spark = SparkResource().spark_session
    with tempfile.TemporaryDirectory(prefix="genolake-bench-checks-") as out:
        stats = ingest_vcf(spark, str(path), out, "bench")
        files = {t: [f["path"] for f in stats.files if f["table"] == t] for t in ("sites", "calls", "samples")}
        n_samples = stats.rows("samples")

        def run(small_rows: int) -> float:
            checks.SMALL_ROWS = small_rows
            began = time.perf_counter()
            results = checks.vcf_file_checks(files, n_samples, lambda: spark)
            seconds = time.perf_counter() - began
            failed = checks.describe(results)
            if failed:
                raise SystemExit(f"checks failed on good data: {failed}")
            return seconds

        in_process_rows, spark_rows = 10**12, -1
        run(in_process_rows), run(spark_rows)  # warm-up: imports, GX context, Spark jobs' first run
        in_process, on_spark = [], []
        for _ in range(runs):
            in_process.append(run(in_process_rows))
            on_spark.append(run(spark_rows))
    result = {
        "file": path.name, "sites_rows": stats.rows("sites"), "calls_rows": stats.rows("calls"), "samples": n_samples,
        "checks": len(checks.CHECKS["sites"]) + len(checks.CHECKS["calls"]) + len(checks.CHECKS["samples"]),
        "in_process_seconds": statistics.median(in_process), "spark_seconds": statistics.median(on_spark),
        "runs": runs,
    }
    result["speedup"] = result["spark_seconds"] / result["in_process_seconds"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
