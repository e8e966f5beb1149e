"""`make bench-files`: the cost of landing one more file as the lakehouse fills up with many small ones.

N single-sample VCFs (the 100 samples of data/sample/1kgp3_chr22_COMT_CYP2D6_GRCh37.100samples.vcf.gz split one per
file; past 100 the samples are renamed HG00096_r2, ... so every file has a sample ID of its own; cached in
benchmarks/data/many_files/) and the ClinVar subset, landed in a fresh GENOLAKE_HOME:

* at once (--scenario at-once): ONE `genolake ingest f1 ... fN CLINVAR` process. Its wall time, peak RSS of its
  process tree, genolake's own per-file seconds (the `(1.4s)` of each `ok [i/N]` line) at the start and at the end,
  and its `published in X.Xs; total Y.Ys`.
* one at a time (--scenario one-at-a-time): `genolake ingest CLINVAR f1`, then `genolake ingest fi` for i = 2..N,
  each its own process. Each process's wall time, per-file and `published in` seconds; the median of files 2-21
  against that of the last 20 files and their ratio (target: last 20 / first 20 <= 1.2). With N < 41, the first
  and last quarter of files 2..N instead.
* after each: the Parquet files on disk per Iceberg table (walked under warehouse/<table>/data/: unreferenced files
  included) and in the whole warehouse, the live data files of each table's current snapshot (the lakehouse's own
  stats), and the by-sample query and the report timed as whole processes (`genolake query ... --format csv`,
  `genolake report --format csv`, median of 3) and as the DuckDB engine's call alone (in this process, median of 3
  after a warm-up).
* --latency: `genolake dev` (dagster dev: the daemon with the landing sensor and the publish automation) over a home
  seeded with `genolake ingest CLINVAR f1`; one new VCF dropped into $GENOLAKE_HOME/landing at a time, and the
  seconds from the drop to the first `report` commit after that file's `ingest` commit (target: <= 30 s); then
  --latency-batch files (default 5) dropped together: the seconds until all are in a report, and how many ingest
  runs the sensor made for them (one batch run over their partition range).

Printed, and written to benchmarks/results/many_files.json. A failing process is a FAILURE with the last lines of its
output; the bench goes on and exits non-zero at the end.

    python -m benchmarks.many_files --files 200                     (make bench-files)
    python -m benchmarks.many_files --files 5 --scenario at-once    (a quick try)
    python -m benchmarks.many_files --files 50 --latency --latency-runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.run import ANSI, CLINVAR, _mib, _seconds, _tail, parse_genolake_output, run_measured

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCE = ROOT / "data" / "sample" / "1kgp3_chr22_COMT_CYP2D6_GRCh37.100samples.vcf.gz"
CACHE = HERE / "data" / "many_files"
# The product's own entry point (what the `genolake` script runs), followed by the command and its arguments.
GENOLAKE = [sys.executable, "-m", "genolake_assets.cli"]
TABLES = ("sites", "calls", "samples", "clinvar", "annotated_variants", "variant_qc", "sample_qc",
          "drug_response_report", "commit_log")
WINDOW = 20  # files at the start and at the end compared (with fewer than 2 * WINDOW + 1 files: a quarter each)
GROWTH_TARGET = 1.2  # one at a time: median of the last 20 files <= 1.2 x that of files 2-21
LATENCY_TARGET = 30.0  # seconds from a drop into landing/ to the report that includes it
LATENCY_TIMEOUT = 600.0
QUERY_RUNS = 3
FILE_TIMEOUT = 1800.0  # seconds for one `genolake ingest` of one file (a hung process is killed: a FAILURE)
TAIL_LINES = 20
FAILED_LINE = re.compile(r"x \[(\d+)/(\d+)\] (\S+): (.*)")


# ---------------------------------------------------------------------------------------------------------------
# Inputs: one single-sample VCF per sample (renamed past the source's samples), cached.

def sample_plan(samples: list[str], count: int) -> list[tuple[str, str]]:
    """(sample in the source, sample ID of the file) for ``count`` files: the source's samples in order, then again
    renamed <sample>_r2, <sample>_r3, ... so that every file has a distinct sample ID."""
    plan = []
    for number in range(count):
        round_, index = divmod(number, len(samples))
        sample = samples[index]
        plan.append((sample, sample if round_ == 0 else f"{sample}_r{round_ + 1}"))
    return plan


def _split_one(source: Path, sample: str, sample_id: str, out_dir: Path) -> Path:
    target = out_dir / f"{sample_id}.vcf.gz"
    index = Path(str(target) + ".tbi")
    if target.exists() and index.exists():
        return target  # cached
    partial = out_dir / f".{sample_id}.{os.getpid()}.part.vcf.gz"
    try:
        subprocess.run(["bcftools", "view", "--no-version", "-s", sample, "-Oz", "-o", str(partial), str(source)],
                       check=True, capture_output=True, text=True)
        if sample_id != sample:
            names = out_dir / f".{sample_id}.{os.getpid()}.samples.txt"
            names.write_text(f"{sample} {sample_id}\n")
            renamed = out_dir / f".{sample_id}.{os.getpid()}.renamed.vcf.gz"
            subprocess.run(["bcftools", "reheader", "--samples", str(names), "-o", str(renamed), str(partial)],
                           check=True, capture_output=True, text=True)
            names.unlink()
            os.replace(renamed, partial)
        subprocess.run(["bcftools", "index", "-t", "-f", str(partial)], check=True, capture_output=True, text=True)
        # the index first: a file without its index is not taken as cached, so an interrupted run starts it over
        os.replace(str(partial) + ".tbi", index)
        os.replace(partial, target)
    finally:
        for leftover in out_dir.glob(f".{sample_id}.{os.getpid()}.*"):
            leftover.unlink()
    return target


def split_samples(source: Path, out_dir: Path, count: int, samples: list[str] | None = None,
                  workers: int | None = None) -> list[Path]:
    """``count`` single-sample bgzipped, indexed VCFs of ``source`` in ``out_dir`` (kept and reused), one per sample
    (``samples``, default every sample of the source), renamed past the last sample (see sample_plan)."""
    if samples is None:
        listed = subprocess.run(["bcftools", "query", "-l", str(source)], check=True, capture_output=True, text=True)
        samples = listed.stdout.split()
    if not samples:
        raise ValueError(f"{source}: no samples")
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = sample_plan(samples, count)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        return list(pool.map(lambda item: _split_one(source, item[0], item[1], out_dir), plan))


# ---------------------------------------------------------------------------------------------------------------
# Pure parts: what genolake printed, the start / end windows.

def parse_ingest(text: str) -> dict:
    """The `ok [i/N] ... (12 checks passed; 1.4s)` lines (``files``), the `x [i/N] location: ...` lines of files
    that failed (``failed_files``), and `published in X.Xs; total Y.Ys` of one `genolake ingest`'s output."""
    parsed = parse_genolake_output(text)
    parsed["failed_files"] = [{"number": int(m[1]), "location": m[3], "message": m[4].strip()}
                              for m in FAILED_LINE.finditer(ANSI.sub("", text))]
    return parsed


def windows(values: list[float | None], first_number: int = 1, size: int = WINDOW) -> dict:
    """Median of the first ``size`` values against the last ``size`` (values in file order, the first one being
    file ``first_number``; None = a failed file, left out of its window). With fewer than 2 * size values, the
    first and last quarter (at least one value each)."""
    count = len(values)
    if not count:
        return {"values": 0, "window": 0, "quarter": True, "first_files": "-", "last_files": "-",
                "label": "no files to compare", "first_median": None, "last_median": None, "ratio": None}
    quarter = count < 2 * size
    width = max(1, count // 4) if quarter else size
    first = [v for v in values[:width] if v is not None]
    last = [v for v in values[count - width:] if v is not None] if count else []
    first_median = statistics.median(first) if first else None
    last_median = statistics.median(last) if last else None
    ratio = last_median / first_median if first_median and last_median is not None else None
    span = lambda a, b: f"file {a}" if a == b else f"files {a}-{b}"  # noqa: E731
    first_files = span(first_number, first_number + width - 1)
    last_files = span(first_number + count - width, first_number + count - 1)
    label = f"{first_files} vs {last_files}" + (
        f"; the first and last quarter of {count} files (fewer than {2 * size} for {size} each)" if quarter else "")
    return {"values": count, "window": width, "quarter": quarter, "first_files": first_files,
            "last_files": last_files, "label": label, "first_median": first_median, "last_median": last_median,
            "ratio": ratio}


# ---------------------------------------------------------------------------------------------------------------
# What a home holds.

def files_on_disk(home: Path) -> dict:
    """Parquet files and their bytes on disk under warehouse/<table>/data/ (unreferenced files included), per
    table, and in the whole warehouse."""
    warehouse = home / "warehouse"
    tables = {}
    names = list(TABLES) + sorted(p.name for p in warehouse.iterdir() if p.is_dir() and p.name not in TABLES) \
        if warehouse.exists() else list(TABLES)
    for name in names:
        found = list((warehouse / name / "data").rglob("*.parquet"))
        tables[name] = {"files": len(found), "bytes": sum(p.stat().st_size for p in found)}
    everything = list(warehouse.rglob("*.parquet")) if warehouse.exists() else []
    return {"tables": tables, "warehouse_parquet_files": len(everything),
            "warehouse_parquet_bytes": sum(p.stat().st_size for p in everything),
            "warehouse_bytes": sum(p.stat().st_size for p in warehouse.rglob("*") if p.is_file())
            if warehouse.exists() else 0}


def live_files(home: Path) -> dict:
    """Data files, rows and bytes of each table's snapshot in the newest commit set (the lakehouse's own stats)."""
    from resources.catalog import local_lakehouse

    lakehouse = local_lakehouse(str(home))
    current = lakehouse.current_set()
    found = {}
    for name in TABLES:
        if name == "commit_log":
            continue
        stats = lakehouse.stats(name, current.snapshot(name))
        found[name] = {"data_files": stats["data_files"], "rows": stats["rows"], "bytes": stats["bytes"]}
    return {"commit": current.describe(), "tables": found}


def home_figures(home: Path) -> dict:
    figures = {"on_disk": files_on_disk(home)}
    try:
        figures["live"] = live_files(home)
    except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
        figures["live"] = None
        figures["live_error"] = f"{type(exc).__name__}: {exc}"
    return figures


def home_lines(figures: dict) -> list[str]:
    disk, live = figures["on_disk"], (figures.get("live") or {}).get("tables", {})
    lines = ["| table | Parquet files on disk | MiB on disk | live data files | live rows | live MiB |",
             "|---|---|---|---|---|---|"]
    for name, found in disk["tables"].items():
        now = live.get(name)
        lines.append(f"| {name} | {found['files']:,} | {found['bytes'] / 2**20:,.2f} | "
                     + (f"{now['data_files']:,} | {now['rows']:,} | {now['bytes'] / 2**20:,.2f} |" if now
                        else "- | - | - |"))
    lines.append(f"whole warehouse: {disk['warehouse_parquet_files']:,} Parquet files on disk "
                 f"({disk['warehouse_parquet_bytes'] / 2**20:,.2f} MiB); {disk['warehouse_bytes'] / 2**20:,.2f} MiB "
                 "with the Iceberg metadata" + (f"; live files as of {figures['live']['commit']}"
                                                if figures.get("live") else ""))
    if figures.get("live_error"):
        lines.append(f"live data files: not read ({figures['live_error']})")
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Running genolake.

def genolake_env(home: Path) -> dict:
    return {**os.environ, "GENOLAKE_MODE": "local", "GENOLAKE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
            "GX_ANALYTICS_ENABLED": "false", "DAGSTER_DISABLE_TELEMETRY": "1", "SPARK_LOCAL_IP": "127.0.0.1"}


def run_genolake(home: Path, arguments: list[str], timeout: float, rss: bool = True) -> dict:
    """One `genolake ...` process over ``home``: wall seconds, peak RSS of its process tree, exit code, output."""
    home.mkdir(parents=True, exist_ok=True)
    breakdown: dict = {}
    seconds, peak, done = run_measured([*GENOLAKE, *arguments], check=False, timeout=timeout, cwd=home,
                                       env=genolake_env(home), breakdown=breakdown if rss else None)
    run = {"seconds": seconds, "returncode": done.returncode, "peak_rss_bytes": peak,
           "peak_rss_by_process": breakdown, "stdout": done.stdout or "", "stderr": done.stderr or ""}
    if done.returncode != 0:
        run["output_tail"] = _tail(done, TAIL_LINES)
    return run


def _failure(failures: list, what: str, run: dict) -> None:
    failures.append({"what": what, "returncode": run["returncode"], "seconds": run["seconds"],
                     "output_tail": run.get("output_tail", [])})
    code = "" if run["returncode"] is None else f"exit {run['returncode']} "
    print(f"FAILURE: {what}: {code}after {run['seconds']:.1f} s; the last lines of its output:", flush=True)
    for line in run.get("output_tail", []):
        print(f"    {line}", flush=True)


def time_queries(home: Path, sample_id: str, failures: list, where: str) -> dict:
    """The by-sample query and the report: whole processes (median of QUERY_RUNS), and the DuckDB engine's
    query_at alone in this process (median of QUERY_RUNS after a warm-up)."""
    sql = f"SELECT * FROM genolake.calls WHERE sample_id = '{sample_id}'"
    cohort = os.environ.get("GENOLAKE_REPORT_COHORT", "").strip() or None
    commands = {"query": ["query", sql, "--format", "csv"],
                "report": ["report", "--format", "csv", *(["--cohort", cohort] if cohort else [])]}
    out: dict = {"sql": sql}
    for name, arguments in commands.items():
        runs = [run_genolake(home, arguments, timeout=600, rss=False) for _ in range(QUERY_RUNS)]
        ok = [r["seconds"] for r in runs if r["returncode"] == 0]
        for r in runs:
            if r["returncode"]:
                _failure(failures, f"{where}: genolake {name}", r)
        lines = [line for line in runs[-1]["stdout"].splitlines() if line.strip()]
        out[name] = {"process_seconds": statistics.median(ok) if ok else None,
                     "process_runs": [r["seconds"] for r in runs], "failures": len(runs) - len(ok),
                     "csv_rows": max(len(lines) - 1, 0) if ok else None}
    try:
        from genolake_assets.transforms.report import DEFAULT_COHORT, drug_response_sql
        from resources.query import DuckDBQueryEngine

        engine = DuckDBQueryEngine(home=str(home))
        commit_set = engine.resolve(None)
        calls = {"query": lambda: engine.query_at(sql, None, commit_set),
                 "report": lambda: engine.query_at(drug_response_sql(), [cohort or DEFAULT_COHORT, 50], commit_set)}
        for name, call in calls.items():
            rows = call().num_rows  # warm-up
            timings = []
            for _ in range(QUERY_RUNS):
                started = time.perf_counter()
                call()
                timings.append(time.perf_counter() - started)
            out[name].update(engine_seconds=statistics.median(timings), engine_runs=timings, rows=rows)
    except Exception as exc:  # noqa: BLE001
        out["engine_error"] = f"{type(exc).__name__}: {exc}"
        failures.append({"what": f"{where}: the DuckDB engine in-process", "error": out["engine_error"]})
        print(f"FAILURE: {where}: the DuckDB engine in-process: {out['engine_error']}", flush=True)
    return out


def query_lines(queries: dict) -> list[str]:
    ms = lambda s: "-" if s is None else f"{s * 1000:,.0f} ms"  # noqa: E731
    lines = [f"| at the end | whole process (median of {QUERY_RUNS}) | DuckDB engine alone (median of {QUERY_RUNS} "
             "after a warm-up) | rows |", "|---|---|---|---|"]
    for name, label in (("query", f"genolake query \"{queries['sql']}\" --format csv"),
                        ("report", "genolake report --format csv")):
        q = queries[name]
        process = ms(q["process_seconds"]) + (f" (**FAILURE** in {q['failures']} of {QUERY_RUNS})"
                                               if q["failures"] else "")
        lines.append(f"| {label} | {process} | {ms(q.get('engine_seconds'))} | {q.get('rows', '-')} |")
    if queries.get("engine_error"):
        lines.append(f"DuckDB engine in-process: **FAILURE** {queries['engine_error']}")
    return lines


# ---------------------------------------------------------------------------------------------------------------
# The scenarios.

def at_once(files: list[Path], home: Path, failures: list) -> dict:
    count = len(files)
    print(f"at once: genolake ingest of {count} VCFs + ClinVar in one process ...", flush=True)
    run = run_genolake(home, ["ingest", *map(str, files), str(CLINVAR)], timeout=600 + 300 * count)
    parsed = parse_ingest(run["stdout"] + "\n" + run["stderr"])
    if run["returncode"] != 0:
        _failure(failures, "at once: genolake ingest", run)
    seconds = {f["number"]: f["seconds"] for f in parsed["files"]}
    vcf_seconds = [seconds.get(number) for number in range(1, count + 1)]
    sizes = [f["batch"] for f in parsed["files"] if f["number"] <= count]
    batched = sum(1 for size in sizes if size > 1)
    alone = len(sizes) - batched
    runs = round(sum(1 / size for size in sizes if size > 1))
    result = {"batches": f"{runs} batch run(s) of {max(sizes, default=0)} files at most for {batched} VCFs, "
                         f"{alone} VCF(s) on their own, 1 for ClinVar",
              "command": f"genolake ingest f1 ... f{count} CLINVAR", "files": count,
              "seconds": run["seconds"], "returncode": run["returncode"], "peak_rss_bytes": run["peak_rss_bytes"],
              "peak_rss_by_process": run["peak_rss_by_process"], "file_seconds": vcf_seconds,
              "clinvar_seconds": seconds.get(count + 1), "first_file_seconds": vcf_seconds[0] if vcf_seconds else None,
              "per_file": windows(vcf_seconds[1:], first_number=2), "publish_seconds": parsed["publish_seconds"],
              "reported_total_seconds": parsed["reported_total_seconds"], "failed_files": parsed["failed_files"],
              "output_tail": run.get("output_tail")}
    print(f"at once: {run['seconds']:.1f} s, " + ("ok" if run["returncode"] == 0 else
                                                   f"FAILURE (exit {run['returncode']})"), flush=True)
    return result


def at_once_lines(result: dict) -> list[str]:
    window = result["per_file"]
    ok = "ok" if result["returncode"] == 0 else f"**FAILURE** (exit {result['returncode']})"
    lines = [f"at once: `{result['command']}`, one process in a fresh home: {ok}", "",
             "| at once | seconds |", "|---|---|",
             f"| wall time of the process | {_seconds(result['seconds'])} |",
             f"| genolake's total / of which publish (`published in`) | {_seconds(result['reported_total_seconds'])} "
             f"/ {_seconds(result['publish_seconds'])} |",
             f"| ingest runs: {result.get('batches', '-')} |",
             f"| file 1 (a batch's file: the batch's seconds / its files) | {_seconds(result['first_file_seconds'])} |",
             f"| per file, {window['first_files']} (median) | {_seconds(window['first_median'])} |",
             f"| per file, {window['last_files']} (median) | {_seconds(window['last_median'])} |",
             f"| end / start | " + ("-" if window["ratio"] is None else f"{window['ratio']:.2f}x") + " |",
             f"| ClinVar file (last) | {_seconds(result['clinvar_seconds'])} |",
             f"peak RSS of the process tree {_mib(result['peak_rss_bytes'])}"
             + (" by process: " + ", ".join(f"{k} {_mib(v['rss_bytes'])}" for k, v in sorted(
                 result["peak_rss_by_process"].items(), key=lambda kv: -kv[1]["rss_bytes"]))
                if result["peak_rss_by_process"] else "")]
    if window["quarter"]:
        lines.append(f"(windows: {window['label']})")
    if result["failed_files"]:
        lines.append("files that failed: " + ", ".join(f"[{f['number']}] {f['location']}"
                                                       for f in result["failed_files"]))
    return lines


def one_at_a_time(files: list[Path], home: Path, failures: list) -> dict:
    count = len(files)
    processes = []
    for number, path in enumerate(files, start=1):
        arguments = ["ingest", str(CLINVAR), str(path)] if number == 1 else ["ingest", str(path)]
        run = run_genolake(home, arguments, timeout=FILE_TIMEOUT)
        parsed = parse_ingest(run["stdout"] + "\n" + run["stderr"])
        vcf = next((f for f in parsed["files"] if f["location"].endswith(path.name)), None)
        ok = run["returncode"] == 0
        processes.append({"file": number, "name": path.name, "seconds": run["seconds"] if ok else None,
                          "wall_seconds": run["seconds"], "returncode": run["returncode"],
                          "file_seconds": vcf["seconds"] if vcf and ok else None,
                          "publish_seconds": parsed["publish_seconds"] if ok else None,
                          "reported_total_seconds": parsed["reported_total_seconds"],
                          "peak_rss_bytes": run["peak_rss_bytes"], "output_tail": run.get("output_tail")})
        state = "ok" if ok else f"FAILURE (exit {run['returncode']})"
        print(f"one at a time [{number}/{count}] {' '.join(['genolake', *[Path(a).name for a in arguments]])}: "
              f"{run['seconds']:.1f} s (file {_seconds(processes[-1]['file_seconds'])} s, published in "
              f"{_seconds(processes[-1]['publish_seconds'])} s): {state}", flush=True)
        if not ok:
            _failure(failures, f"one at a time: genolake ingest of file {number} ({path.name})", run)
    later = processes[1:]
    return {"files": count, "processes": processes,
            "wall": windows([p["seconds"] for p in later], first_number=2),
            "file_seconds": windows([p["file_seconds"] for p in later], first_number=2),
            "publish_seconds": windows([p["publish_seconds"] for p in later], first_number=2),
            "failures": sum(p["returncode"] != 0 for p in processes)}


def one_at_a_time_lines(result: dict) -> list[str]:
    wall = result["wall"]
    first = result["processes"][0] if result["processes"] else None
    lines = [f"one at a time: `genolake ingest CLINVAR f1`, then `genolake ingest fi` for i = 2..{result['files']}, "
             "each its own process, one fresh home"
             + (f"; **FAILURE** in {result['failures']} of {result['files']} processes" if result["failures"] else ""),
             "", f"| one at a time, medians | {wall['first_files']} | {wall['last_files']} | last / first |",
             "|---|---|---|---|"]
    for key, label in (("wall", "wall time of the process"), ("file_seconds", "the file (raw -> processed, checks)"),
                       ("publish_seconds", "publish (`published in`)")):
        w = result[key]
        lines.append(f"| {label} | {_seconds(w['first_median'])} | {_seconds(w['last_median'])} | "
                     + ("-" if w["ratio"] is None else f"{w['ratio']:.2f}x") + " |")
    if wall["quarter"]:
        lines.append(f"(fewer than {2 * WINDOW + 1} files: the first and last quarter of files 2..{result['files']}, "
                     f"{wall['window']} file(s) each, instead of {WINDOW})")
    if first:
        lines.append(f"file 1 with ClinVar (`genolake ingest CLINVAR f1`): {_seconds(first['wall_seconds'])} s")
    lines.append("wall seconds by file: " + ", ".join(
        f"{p['wall_seconds']:.1f}" + ("" if p["returncode"] == 0 else " FAILED") for p in result["processes"]))
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Latency under the daemon: genolake dev, a file dropped into landing/, the report that includes it.

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dagster(home: Path):
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(home / "dagster"))


def _busy_runs(instance) -> int:
    from dagster import DagsterRunStatus, RunsFilter

    busy = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
            DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    return len(instance.get_runs(filters=RunsFilter(statuses=busy)))


def _failed_runs_since(instance, since: datetime) -> list[str]:
    from dagster import DagsterRunStatus, RunsFilter

    runs = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.FAILURE], created_after=since))
    return [f"{r.job_name} {r.run_id[:8]}" for r in runs]


def _wait_ready(instance, process: subprocess.Popen, timeout: float = 300.0) -> float:
    """Until the daemon beats (sensor daemon and the asset daemon that evaluates the automation sensor) and no run
    is queued or running; then one more landing-sensor interval so its first tick is behind us."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"genolake dev exited ({process.returncode}) before it was ready")
        try:
            beats = instance.get_daemon_heartbeats()
            if {"SENSOR", "ASSET"} <= set(beats) and not _busy_runs(instance):
                break
        except Exception:  # noqa: BLE001 - storages still being created
            pass
        time.sleep(1)
    else:
        raise RuntimeError(f"genolake dev: no daemon heartbeat after {timeout:.0f} s")
    time.sleep(20)  # > the landing sensor's 15 s interval
    while _busy_runs(instance) and time.monotonic() - started < timeout:
        time.sleep(1)
    return time.monotonic() - started


def _drop(path: Path, landing: Path) -> float:
    """Copy a VCF (its index first) into the landing folder as an upload would: a hidden partial file, renamed.
    Returns the time (epoch seconds) the file appeared."""
    landing.mkdir(parents=True, exist_ok=True)
    index = Path(str(path) + ".tbi")
    if index.exists():
        shutil.copyfile(index, landing / index.name)
    partial = landing / f".{path.name}.part"
    shutil.copyfile(path, partial)
    os.replace(partial, landing / path.name)
    return time.time()


def _stop(process: subprocess.Popen) -> None:
    """The whole process group of genolake dev (dagster dev, its webserver, daemon and the runs it launched)."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:  # dagster dev gone: its children may outlive it a moment
            time.sleep(2)
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return


def latency(seed: Path, drops: list[Path], home: Path, failures: list, batch: list[Path] | None = None) -> dict:
    from genolake_assets.transforms.naming import partition_key
    from resources.catalog import local_lakehouse

    print(f"latency: seeding a fresh home with genolake ingest CLINVAR {seed.name} ...", flush=True)
    seeded = run_genolake(home, ["ingest", str(CLINVAR), str(seed)], timeout=FILE_TIMEOUT)
    result: dict = {"seed_seconds": seeded["seconds"], "runs": [], "target_seconds": LATENCY_TARGET}
    if seeded["returncode"] != 0:
        _failure(failures, "latency: seeding the home", seeded)
        result["failed"] = "seed"
        return result
    port = _free_port()
    log = home / "genolake-dev.log"
    with open(log, "w") as sink:
        process = subprocess.Popen([*GENOLAKE, "dev", "--port", str(port)], cwd=home, env=genolake_env(home),
                                   stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    result["port"] = port
    try:
        instance = _dagster(home)
        print(f"latency: genolake dev on port {port} (log {log}); waiting for the daemon ...", flush=True)
        result["ready_seconds"] = _wait_ready(instance, process)
        lakehouse = local_lakehouse(str(home))
        for number, path in enumerate(drops, start=1):
            key = partition_key(path.name)
            dropped = _drop(path, home / "landing")
            since = datetime.fromtimestamp(dropped, timezone.utc)
            run: dict = {"file": path.name, "dropped_at": since.isoformat()}
            ingest = report = None
            while time.time() - dropped < LATENCY_TIMEOUT:
                time.sleep(1)
                if process.poll() is not None:
                    run["error"] = f"genolake dev exited ({process.returncode})"
                    break
                try:
                    sets = lakehouse.sets()
                except Exception:  # noqa: BLE001 - a commit in progress; read again next second
                    continue
                ingest = next((s for s in sets if s.operation == "ingest"  # a batch's set names its files
                               and key in (s.source_file or "").split(",")
                               and s.committed_at >= since), None)
                if ingest is not None:
                    report = next((s for s in sets if s.operation == "report"
                                   and s.committed_at > ingest.committed_at), None)
                    if report is not None:
                        break
                failed = _failed_runs_since(instance, since)
                if failed:
                    run["error"] = "failed runs: " + ", ".join(failed)
                    break
            else:
                run["error"] = f"no report after {LATENCY_TIMEOUT:.0f} s" + (
                    "" if ingest else " (the file's ingest was not committed either)")
            if ingest is not None:
                run["ingest_seconds"] = (ingest.committed_at - since).total_seconds()
            if report is not None:
                run["latency_seconds"] = (report.committed_at - since).total_seconds()
            result["runs"].append(run)
            if "error" in run:
                tail = [ANSI.sub("", line.rstrip()) for line in log.read_text(errors="replace").splitlines()
                        if line.strip()][-TAIL_LINES:]
                run["output_tail"] = tail
                _failure(failures, f"latency, file {number} ({path.name}): {run['error']}",
                         {"returncode": process.returncode, "seconds": time.time() - dropped, "output_tail": tail})
                if process.poll() is not None:
                    break
                continue
            print(f"latency [{number}/{len(drops)}] {path.name}: ingest committed after "
                  f"{run['ingest_seconds']:.1f} s, report after {run['latency_seconds']:.1f} s", flush=True)
            started = time.monotonic()  # the publish runs after the report (QC, governance) finish before the next
            while _busy_runs(instance) and time.monotonic() - started < LATENCY_TIMEOUT:
                time.sleep(1)
        if batch and process.poll() is None:
            result["batch"] = _batch_drop(batch, home, instance, lakehouse, process, failures)
    except Exception as exc:  # noqa: BLE001
        result["failed"] = f"{type(exc).__name__}: {exc}"
        _failure(failures, f"latency: {result['failed']}", {"returncode": process.poll(), "seconds": 0,
                                                            "output_tail": _log_tail(log)})
    finally:
        _stop(process)
    measured = [r["latency_seconds"] for r in result["runs"] if "latency_seconds" in r]
    result["median_seconds"] = statistics.median(measured) if measured else None
    return result


def _batch_drop(paths: list[Path], home: Path, instance, lakehouse, process, failures: list) -> dict:
    """``paths`` dropped into landing/ together: the seconds until every one is committed and the first report
    after the last of them, and the ingest runs the sensor made (a batch run over their partition range)."""
    from dagster import RunsFilter

    from genolake_assets.jobs import BATCH_TAG
    from genolake_assets.transforms.naming import partition_key

    keys = {partition_key(p.name) for p in paths}
    dropped = min(_drop(p, home / "landing") for p in paths)
    since = datetime.fromtimestamp(dropped, timezone.utc)
    result: dict = {"files": len(paths)}
    print(f"latency: {len(paths)} VCFs dropped together ...", flush=True)
    while time.time() - dropped < LATENCY_TIMEOUT and process.poll() is None:
        time.sleep(1)
        try:
            sets = lakehouse.sets()
        except Exception:  # noqa: BLE001 - a commit in progress
            continue
        ingests = [s for s in sets if s.operation == "ingest" and s.committed_at >= since]
        done = {k for s in ingests for k in (s.source_file or "").split(",")} & keys
        if done == keys:
            last = max(s.committed_at for s in ingests)
            report = next((s for s in sets if s.operation == "report" and s.committed_at > last), None)
            if report is not None:
                result["ingest_seconds"] = (last - since).total_seconds()
                result["latency_seconds"] = (report.committed_at - since).total_seconds()
                break
    runs = instance.get_runs(filters=RunsFilter(job_name="ingest_vcf", created_after=since))
    result["ingest_runs"] = len(runs)
    result["batch_runs"] = sum(1 for r in runs if BATCH_TAG in r.tags)
    if "latency_seconds" not in result:
        result["error"] = "not all in a report"
        _failure(failures, f"latency, {len(paths)} files together: not all in a report",
                 {"returncode": process.poll(), "seconds": time.time() - dropped, "output_tail": []})
    else:
        print(f"latency: {len(paths)} VCFs together: committed after {result['ingest_seconds']:.1f} s, report after "
              f"{result['latency_seconds']:.1f} s; {result['ingest_runs']} ingest run(s), {result['batch_runs']} "
              "of them a batch", flush=True)
    return result


def _log_tail(log: Path) -> list[str]:
    try:
        return [ANSI.sub("", line.rstrip()) for line in log.read_text(errors="replace").splitlines()
                if line.strip()][-TAIL_LINES:]
    except OSError:
        return []


def latency_lines(result: dict) -> list[str]:
    lines = ["latency under the daemon: `genolake dev` (landing sensor + publish automation) over a home seeded "
             "with `genolake ingest CLINVAR f1`; one VCF dropped into landing/ at a time; seconds from the drop to "
             "its ingest commit and to the first report commit after it", "",
             "| file | ingest committed | report committed (latency) |", "|---|---|---|"]
    for run in result["runs"]:
        lines.append(f"| {run['file']} | {_seconds(run.get('ingest_seconds'))} | "
                     + (f"{_seconds(run['latency_seconds'])} |" if "latency_seconds" in run
                        else f"**FAILURE**: {run.get('error')} |"))
    batch = result.get("batch")
    if batch:
        lines.append(f"| {batch['files']} files dropped together | {_seconds(batch.get('ingest_seconds'))} (all) | "
                     + (f"{_seconds(batch['latency_seconds'])} |" if "latency_seconds" in batch
                        else f"**FAILURE**: {batch.get('error')} |"))
        lines.append(f"({batch['files']} files together: {batch['ingest_runs']} ingest run(s), {batch['batch_runs']} "
                     "of them a batch over their partition range)")
    if result.get("failed"):
        lines.append(f"**FAILURE**: {result['failed']}")
    lines.append(f"median latency {_seconds(result.get('median_seconds'))} s (target <= {LATENCY_TARGET:.0f} s); "
                 f"daemon ready after {_seconds(result.get('ready_seconds'))} s; seed ingest "
                 f"{_seconds(result.get('seed_seconds'))} s")
    return lines


# ---------------------------------------------------------------------------------------------------------------

def target_rows(result: dict) -> list[dict]:
    rows = []
    one = result.get("one_at_a_time")
    if one:
        wall = one["wall"]
        where = f"{wall['last_files']} vs {wall['first_files']}" + (", first and last quarter" if wall["quarter"]
                                                                     else "")
        rows.append({"target": f"one at a time: wall time per file, last {WINDOW} / files 2-{WINDOW + 1} (medians) "
                               f"<= {GROWTH_TARGET}x",
                     "measured": ("-" if wall["ratio"] is None else f"{wall['ratio']:.2f}x") + f" ({where})",
                     "met": None if wall["ratio"] is None else wall["ratio"] <= GROWTH_TARGET and not one["failures"]})
    lat = result.get("latency")
    if lat:
        rows.append({"target": f"latency drop -> report <= {LATENCY_TARGET:.0f} s (median)",
                     "measured": "-" if lat.get("median_seconds") is None else
                     f"{lat['median_seconds']:.1f} s over {len(lat['runs'])} file(s)",
                     "met": False if lat.get("median_seconds") is None else lat["median_seconds"] <= LATENCY_TARGET})
    rows.append({"target": "no failure", "measured": f"{len(result['failures'])} failure(s)",
                 "met": not result["failures"]})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200, help="single-sample VCFs (default 200)")
    parser.add_argument("--scenario", choices=("at-once", "one-at-a-time", "all", "none"), default="all",
                        help="none: only --latency")
    parser.add_argument("--latency", action="store_true", help="also the drop -> report latency under genolake dev")
    parser.add_argument("--latency-runs", type=int, default=3, help="files dropped one after the other (default 3)")
    parser.add_argument("--latency-batch", type=int, default=5,
                        help="then this many files dropped together (default 5; 0: none)")
    parser.add_argument("--keep-home", type=Path, help="keep the homes in this folder (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where many_files.json is written")
    parser.add_argument("--data", type=Path, default=CACHE, help="where the single-sample VCFs are kept")
    args = parser.parse_args(argv)
    if args.files < 1 or args.latency_runs < 1 or args.latency_batch < 0:
        parser.error("--files and --latency-runs must be at least 1, --latency-batch at least 0")
    if args.scenario == "none" and not args.latency:
        parser.error("--scenario none measures nothing without --latency")

    needed = max(args.files, args.latency_runs + 1 + args.latency_batch if args.latency else 0)
    print(f"splitting {SOURCE.name} into {needed} single-sample VCFs ({args.data}) ...", flush=True)
    started = time.perf_counter()
    vcfs = split_samples(SOURCE, args.data, needed)
    print(f"  ready in {time.perf_counter() - started:.1f} s", flush=True)
    files = vcfs[: args.files]
    sample_id = files[0].name[: -len(".vcf.gz")]

    date = datetime.now(timezone.utc)
    result: dict = {"files": args.files, "source": SOURCE.name, "clinvar": CLINVAR.name, "scenario": args.scenario,
                    "date": date.strftime("%Y-%m-%d"), "started_at": date.isoformat(timespec="seconds"),
                    "cores": os.cpu_count(), "machine": platform.platform(), "query_sample_id": sample_id,
                    "settings": {k: v for k, v in sorted(os.environ.items())
                                 if k.startswith("GENOLAKE_") and k not in ("GENOLAKE_HOME", "GENOLAKE_MODE")},
                    "failures": []}
    failures = result["failures"]
    lines = [f"many small files: {args.files} single-sample VCFs split from {SOURCE.name} (one sample each, every "
             f"site of the source) + {CLINVAR.name}; {os.cpu_count()} cores; {result['date']}"]
    root = args.keep_home or Path(tempfile.mkdtemp(prefix="genolake-many-files-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        if args.scenario in ("at-once", "all"):
            home = root / "at-once"
            scenario = at_once(files, home, failures)
            scenario["home"] = home_figures(home)
            scenario["queries"] = time_queries(home, sample_id, failures, "at once")
            result["at_once"] = scenario
            lines += ["", *at_once_lines(scenario), "", *home_lines(scenario["home"]), "",
                      *query_lines(scenario["queries"])]
        if args.scenario in ("one-at-a-time", "all"):
            home = root / "one-at-a-time"
            scenario = one_at_a_time(files, home, failures)
            scenario["home"] = home_figures(home)
            scenario["queries"] = time_queries(home, sample_id, failures, "one at a time")
            result["one_at_a_time"] = scenario
            lines += ["", *one_at_a_time_lines(scenario), "", *home_lines(scenario["home"]), "",
                      *query_lines(scenario["queries"])]
        if args.latency:
            result["latency"] = latency(vcfs[0], vcfs[1: args.latency_runs + 1], root / "latency", failures,
                                        vcfs[args.latency_runs + 1: args.latency_runs + 1 + args.latency_batch])
            lines += ["", *latency_lines(result["latency"])]
    finally:
        if args.keep_home is None:
            shutil.rmtree(root, ignore_errors=True)
        else:
            result["kept_homes"] = str(root)
    result["targets"] = target_rows(result)
    state = {True: "met", False: "**not met**", None: "not measured"}
    lines += ["", "| target | measured | |", "|---|---|---|",
              *(f"| {r['target']} | {r['measured']} | {state[r['met']]} |" for r in result["targets"])]
    if failures:
        lines += ["", f"FAILURE: {len(failures)} (see above): " + "; ".join(f["what"] for f in failures)]
    print("\n".join(lines))
    result["table"] = lines
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "many_files.json"
    target.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"written {target}")
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
