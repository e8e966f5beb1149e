"""`make bench`: genolake's ingestion side by side with bcftools (and Hail, when a side environment has it), in one run.

Prints a table (genotypes/s, ratio to `bcftools view -Ou`, peak RSS of each whole process tree, output size against
the .vcf.gz) and writes the same to benchmarks/results/latest.json. Genotypes = records x samples of the input.

    python -m benchmarks.run --size S        (make bench)
    python -m benchmarks.run --size M        (make bench SIZE=M)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

from benchmarks.generate import SAMPLES, SIZES, generate

HERE = Path(__file__).resolve().parent
HAIL_PYTHON = os.environ.get("HAIL_PYTHON", str(HERE / ".hail-venv" / "bin" / "python"))


def run_measured(command: list[str], **kwargs) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run a command; return (seconds, peak RSS summed over its whole process tree, completed process)."""
    started = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [process] + process.children(recursive=True)
                total = 0
                for proc in tree:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
                peak = max(peak, total)
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    completed = subprocess.CompletedProcess(command, process.returncode, out, err)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {err[-2000:]}")
    return seconds, peak, completed


def bcftools_rows(path: Path, genotypes: int) -> dict:
    view_s, view_rss, _ = run_measured(["bcftools", "view", "-Ou", "-o", "/dev/null", str(path)])
    query_s, query_rss, _ = run_measured(
        ["bash", "-c", f"bcftools query -i 'GT!=\"RR\"' -f '[%SAMPLE\\t%POS\\t%GT\\n]' {path} > /dev/null"])
    return {
        "bcftools_view_seconds": view_s, "bcftools_view_genotypes_per_s": genotypes / view_s,
        "bcftools_view_peak_rss_bytes": view_rss,
        "bcftools_query_seconds": query_s, "bcftools_query_genotypes_per_s": genotypes / query_s,
        "bcftools_query_peak_rss_bytes": query_rss,
    }


def hail_rows(path: Path, genotypes: int, workdir: Path) -> dict:
    if not Path(HAIL_PYTHON).exists():
        print(f"hail: skipped (no side environment at {HAIL_PYTHON}; set HAIL_PYTHON to a Python with hail)")
        return {"hail_genotypes_per_s": None, "hail_seconds": None, "hail_peak_rss_bytes": None}
    script = (
        "import hail as hl, sys; hl.init(master='local[2]', quiet=True);"
        f"mt = hl.import_vcf('{path}', force_bgz=True, min_partitions={os.cpu_count()}, reference_genome='GRCh37');"
        "e = mt.entries(); e = e.filter(e.GT.is_non_ref());"
        f"e.to_spark().write.parquet('{workdir / 'hail.parquet'}')"
    )
    seconds, rss, _ = run_measured([HAIL_PYTHON, "-c", script])
    return {"hail_genotypes_per_s": genotypes / seconds, "hail_seconds": seconds, "hail_peak_rss_bytes": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="S")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    data = HERE / "data"
    print(f"generating {args.size} ({SIZES[args.size]:,} records x {SAMPLES} samples) ...", flush=True)
    first = generate(args.size, args.seed, data)
    second = generate(args.size, args.seed + 1, data)
    genotypes = SIZES[args.size] * SAMPLES
    vcf_gz_bytes = first.stat().st_size

    result = {"size": args.size, "records": SIZES[args.size], "samples": SAMPLES, "genotypes": genotypes,
              "vcf_gz_bytes": vcf_gz_bytes, "cores": os.cpu_count(), "machine": platform.platform(),
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
    print("bcftools ...", flush=True)
    result.update(bcftools_rows(first, genotypes))
    with tempfile.TemporaryDirectory(prefix="genolake-bench-") as tmp:
        print("genolake (Spark local[*]) ...", flush=True)
        seconds, rss, done = run_measured([sys.executable, "-m", "benchmarks.ingest", str(first), str(second), tmp],
                                          cwd=HERE.parent)
        genolake = json.loads(done.stdout.strip().splitlines()[-1])
        result.update({f"genolake_{k}" if not k.startswith(("report", "lookup", "second", "first_file", "output"))
                       else k: v for k, v in genolake.items()})
        result["genolake_process_seconds"] = seconds
        result["peak_rss_bytes"] = rss
        result["genolake_genotypes_per_s"] = genotypes / genolake["ingest_seconds"]
        print("hail ...", flush=True)
        result.update(hail_rows(first, genotypes, Path(tmp)))
    view = result["bcftools_view_genotypes_per_s"]

    def row(name, per_s, rss, out_bytes=None):
        ratio = f"{per_s / view:.2f}x" if per_s else "-"
        speed = f"{per_s / 1e6:.2f} M" if per_s else "skipped"
        size = f"{out_bytes / vcf_gz_bytes:.2f}x" if out_bytes else "-"
        memory = f"{rss / 2**20:,.0f} MiB" if rss else "-"
        return f"| {name} | {speed} | {ratio} | {memory} | {size} |"

    lines = [
        f"size {args.size}: {SIZES[args.size]:,} records x {SAMPLES:,} samples = {genotypes / 1e6:.0f} M genotypes; "
        f".vcf.gz {vcf_gz_bytes / 2**20:.1f} MiB; {os.cpu_count()} cores; {result['date']}",
        "",
        "| tool | genotypes/s | vs bcftools view -Ou | peak RSS (process tree) | output vs .vcf.gz |",
        "|---|---|---|---|---|",
        row("bcftools view -Ou", view, result["bcftools_view_peak_rss_bytes"]),
        row("bcftools query (non-hom-ref only)", result["bcftools_query_genotypes_per_s"],
            result["bcftools_query_peak_rss_bytes"]),
        row("genolake ingest (warm, Spark local[*])", result["genolake_genotypes_per_s"], result["peak_rss_bytes"],
            result["output_bytes"]),
        row("Hail import_vcf -> non-hom-ref -> Parquet", result["hail_genotypes_per_s"], result["hail_peak_rss_bytes"]),
        "",
        f"genolake: Spark session start {result['genolake_spark_session_seconds']:.1f} s, first job "
        f"{result['genolake_first_job_seconds']:.1f} s; ingest {result['genolake_ingest_seconds']:.1f} s in "
        f"{result['genolake_regions']} regions; {result['genolake_calls_rows']:,} call rows",
        f"second file: {result['second_file_seconds']:.1f} s, {result['second_file_bytes_written'] / 2**20:.1f} MiB "
        f"written, first file's partitions untouched: {result['first_file_untouched']}",
        f"drug-response report (DuckDB, 50 variants x cohort): {result['report_seconds'] * 1000:.0f} ms; "
        f"by-sample lookup: {result['lookup_seconds'] * 1000:.0f} ms ({result['lookup_rows']:,} rows)",
    ]
    print("\n".join(lines))
    result["table"] = lines
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    shutil.copyfile(out / "latest.json", out / f"{args.size}.json")
    print(f"written {out / 'latest.json'}")


if __name__ == "__main__":
    main()
