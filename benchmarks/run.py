"""`make bench`: genolake's ingestion side by side with bcftools (and Hail, when a side environment has it), in one run.

Prints a table (genotypes/s, ratio to `bcftools view -Ou`, peak RSS of each whole process tree, output size against
the .vcf.gz) and writes the same to benchmarks/results/latest.json. Genotypes = records x samples of the input;
genolake's rate is taken over the whole ingest of a file (parse + write + Iceberg commit with the views' refresh),
the commit alone is reported apart (genolake_commit_seconds, second_file_commit_seconds).

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
    """Hail run fairly: local[cores], min_partitions = cores, only the non-hom-ref entries written. Its rate is
    taken over import_vcf -> Parquet (after hl.init, like genolake's warm figure); start-up is reported apart."""
    if not Path(HAIL_PYTHON).exists():
        print(f"hail: skipped (no side environment at {HAIL_PYTHON}: run `make hail-env`, or set HAIL_PYTHON)")
        return {"hail_genotypes_per_s": None, "hail_seconds": None, "hail_init_seconds": None,
                "hail_peak_rss_bytes": None}
    cores = os.cpu_count()
    script = (
        "import json, time; t0 = time.perf_counter(); import hail as hl;"
        f"hl.init(master='local[{cores}]', quiet=True, log='{workdir / 'hail.log'}');"
        "t1 = time.perf_counter();"
        f"mt = hl.import_vcf('{path}', force_bgz=True, min_partitions={cores}, reference_genome='GRCh37');"
        "e = mt.entries(); e = e.filter(e.GT.is_non_ref());"
        f"e.to_spark().write.parquet('{workdir / 'hail.parquet'}');"
        "print(json.dumps({'init': t1 - t0, 'run': time.perf_counter() - t1, 'version': hl.version()}))"
    )
    _, rss, done = run_measured([HAIL_PYTHON, "-c", script], env={**os.environ, "PYSPARK_PYTHON": HAIL_PYTHON})
    times = json.loads(done.stdout.strip().splitlines()[-1])
    return {"hail_genotypes_per_s": genotypes / times["run"], "hail_seconds": times["run"],
            "hail_init_seconds": times["init"], "hail_peak_rss_bytes": rss, "hail_version": times["version"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="S")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--records", type=int, help="override the size's record count (a quick smoke run)")
    parser.add_argument("--check-runs", type=int, default=5, help="runs of each path in the per-file check figure")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where latest.json is written")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="where the generated VCFs are kept")
    args = parser.parse_args()

    data = args.data
    records = args.records or SIZES[args.size]
    label = args.size if not args.records else f"{args.size}{records}"
    print(f"generating {label} ({records:,} records x {SAMPLES} samples) ...", flush=True)
    first = generate(label, args.seed, data, records=records)
    second = generate(label, args.seed + 1, data, records=records)
    genotypes = records * SAMPLES
    vcf_gz_bytes = first.stat().st_size

    result = {"size": label, "records": records, "samples": SAMPLES, "genotypes": genotypes,
              "vcf_gz_bytes": vcf_gz_bytes, "cores": os.cpu_count(), "machine": platform.platform(),
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
    print("bcftools ...", flush=True)
    result.update(bcftools_rows(first, genotypes))
    with tempfile.TemporaryDirectory(prefix="genolake-bench-") as tmp:
        print("genolake (Spark local[*]) ...", flush=True)
        seconds, rss, done = run_measured([sys.executable, "-m", "benchmarks.ingest", str(first), str(second), tmp],
                                          cwd=HERE.parent)
        genolake = json.loads(done.stdout.strip().splitlines()[-1])
        # genolake_<key>, except the keys that name their own subject (report_seconds, second_file_*, output_bytes)
        result.update({f"genolake_{k}" if not k.startswith(("report", "lookup", "second", "first_file", "output"))
                       else k: v for k, v in genolake.items()})
        result["genolake_process_seconds"] = seconds
        result["peak_rss_bytes"] = rss
        result["genolake_genotypes_per_s"] = genotypes / genolake["ingest_seconds"]
        print("per-file checks (single-sample VCF) ...", flush=True)
        done = subprocess.run([sys.executable, "-m", "benchmarks.checks", "--runs", str(args.check_runs)], cwd=HERE.parent, check=True,
                              capture_output=True, text=True)
        result["checks"] = json.loads(done.stdout.strip().splitlines()[-1])
        print("hail ...", flush=True)
        result.update(hail_rows(first, genotypes, Path(tmp)))
        hail_out = Path(tmp) / "hail.parquet"
        result["hail_output_bytes"] = (sum(p.stat().st_size for p in hail_out.rglob("*.parquet"))
                                       if hail_out.exists() else None)
    view = result["bcftools_view_genotypes_per_s"]

    def row(name, per_s, rss, out_bytes=None):
        ratio = f"{per_s / view:.2f}x" if per_s else "-"
        speed = f"{per_s / 1e6:.2f} M" if per_s else "skipped"
        size = f"{out_bytes / vcf_gz_bytes:.2f}x" if out_bytes else "-"
        memory = f"{rss / 2**20:,.0f} MiB" if rss else "-"
        return f"| {name} | {speed} | {ratio} | {memory} | {size} |"

    lines = [
        f"size {label}: {records:,} records x {SAMPLES:,} samples = {genotypes / 1e6:.0f} M genotypes; "
        f".vcf.gz {vcf_gz_bytes / 2**20:.1f} MiB; {os.cpu_count()} cores; {result['date']}",
        "",
        "| tool | genotypes/s | vs bcftools view -Ou | peak RSS (process tree) | output vs .vcf.gz |",
        "|---|---|---|---|---|",
        row("bcftools view -Ou", view, result["bcftools_view_peak_rss_bytes"]),
        row("bcftools query (non-hom-ref only)", result["bcftools_query_genotypes_per_s"],
            result["bcftools_query_peak_rss_bytes"]),
        row("genolake ingest (warm, Spark local[*])", result["genolake_genotypes_per_s"], result["peak_rss_bytes"],
            result["output_bytes"]),
        row("Hail import_vcf -> non-hom-ref -> Parquet", result["hail_genotypes_per_s"], result["hail_peak_rss_bytes"],
            result.get("hail_output_bytes")),
        "",
        f"genolake: Spark session start {result['genolake_spark_session_seconds']:.1f} s, first job "
        f"{result['genolake_first_job_seconds']:.1f} s; ingest {result['genolake_ingest_seconds']:.1f} s in "
        f"{result['genolake_regions']} regions; {result['genolake_calls_rows']:,} call rows",
        f"commit (Iceberg, 3 tables + views) {result['genolake_commit_seconds'] * 1000:.0f} ms of the ingest; "
        f"second file commit {result['second_file_commit_seconds'] * 1000:.0f} ms",
        f"second file: {result['second_file_seconds']:.1f} s, {result['second_file_bytes_written'] / 2**20:.1f} MiB "
        f"written, first file's data files untouched: {result['first_file_untouched']}",
        f"drug-response report (DuckDB, 50 variants x cohort): {result['report_seconds'] * 1000:.0f} ms; "
        f"by-sample lookup: {result['lookup_seconds'] * 1000:.0f} ms ({result['lookup_rows']:,} rows)",
    ]
    measured = result["checks"]
    lines.append(f"per-file checks ({measured['checks']} checks, {measured['file']}: {measured['sites_rows']:,} sites, "
                 f"{measured['calls_rows']:,} calls): {measured['in_process_seconds'] * 1000:.0f} ms in-process "
                 f"(pandera pandas + DuckDB + GX) vs {measured['spark_seconds'] * 1000:.0f} ms on Spark "
                 f"({measured['speedup']:.1f}x; median of {measured['runs']} alternating runs)")
    if result["hail_seconds"] is not None:
        lines.append(f"hail: start-up {result['hail_init_seconds']:.1f} s, import_vcf -> Parquet "
                     f"{result['hail_seconds']:.1f} s (Hail {result['hail_version']})")
    print("\n".join(lines))
    result["table"] = lines
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    shutil.copyfile(out / "latest.json", out / f"{label}.json")
    print(f"written {out / 'latest.json'}")


if __name__ == "__main__":
    main()
