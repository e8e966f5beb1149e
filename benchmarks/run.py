"""`make bench`: genolake's ingestion side by side with bcftools (and Hail, when a side environment has it), in one run.

Two parts, printed one beside the other and written to benchmarks/results/latest.json (and <size>.json):

* the kernel (--only kernel): genotypes/s, ratio to `bcftools view -Ou`, peak RSS of each whole process tree, output
  size against the .vcf.gz. Genotypes = records x samples of the input; genolake's rate is taken over the whole
  ingest of a file (parse + write + Iceberg commit with the views' refresh), the commit alone is reported apart
  (genolake_commit_seconds, second_file_commit_seconds).
* the whole path (--only path): `genolake ingest VCF CLINVAR` as a user runs it (every check, QC, annotation, report
  and governance step), its own process in a fresh GENOLAKE_HOME each run, alternating with `bcftools view -Ou` on
  the same file (bcftools, genolake, bcftools, genolake, ...; --path-runs each): medians, min-max, the ratio of the
  medians, peak RSS of the whole process tree, and the per-phase seconds genolake prints. A failing run is reported
  as a FAILURE with the last lines of its output; the bench goes on and exits non-zero at the end.

Then the issue's targets, each met / not met (see TARGETS in the table).

    python -m benchmarks.run --size S                  (make bench)
    python -m benchmarks.run --size M                  (make bench SIZE=M)
    python -m benchmarks.run --size L --only path      (make bench SIZE=L BENCH_ARGS="--only path")
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
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


def _kill_tree(process: psutil.Popen) -> None:
    try:
        tree = process.children(recursive=True) + [process]
    except psutil.Error:
        tree = [process]
    for proc in tree:
        try:
            proc.kill()
        except psutil.Error:
            pass


def _kind(proc: psutil.Process, root: psutil.Process) -> str:
    """What a process of a measured tree is, for the breakdown of its peak RSS."""
    if proc.pid == root.pid:
        return "main process"
    try:
        name, cmdline = proc.name(), " ".join(proc.cmdline())
    except psutil.Error:
        return "other"
    if name == "java" or cmdline.split(" ", 1)[0].endswith("/java"):
        return "JVM"
    if "pyspark.daemon" in cmdline or "pyspark.worker" in cmdline:
        return "Spark Python workers"
    return name or "other"


def tree_rss(root: psutil.Process) -> tuple[int, list[tuple[psutil.Process, int]]]:
    """RSS summed over a process tree, and the processes counted with theirs. A child running its parent's program
    (same executable) with its parent's RSS (within 2%) is a fork or spawn that has not exec'd yet and shares its
    parent's memory: it is not counted twice. (The JVM starts processes with posix_spawn: until the exec, the child
    shares the JVM's address space, named after the spawning thread, e.g. 'Executor task l', with the JVM's RSS.)"""
    info = {}
    for proc in [root] + root.children(recursive=True):
        try:
            with proc.oneshot():
                rss, ppid = proc.memory_info().rss, proc.ppid()
                try:
                    program = proc.exe()
                except psutil.Error:
                    program = proc.name()
            info[proc.pid] = (proc, rss, ppid, program)
        except psutil.Error:
            pass
    counted = []
    for pid, (proc, rss, ppid, program) in info.items():
        parent = info.get(ppid)
        if pid != root.pid and parent is not None and parent[3] == program and abs(rss - parent[1]) <= 0.02 * parent[1]:
            continue
        counted.append((proc, rss))
    return sum(rss for _, rss in counted), counted


def run_measured(command: list[str], check: bool = True, timeout: float | None = None,
                 breakdown: dict | None = None, **kwargs) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run a command; return (seconds, peak RSS summed over its whole process tree, sampled every 50 ms, completed
    process). With ``check`` a non-zero exit raises; without, it is returned. Past ``timeout`` seconds the whole
    tree is killed (returncode -9, the reason appended to stderr). ``breakdown``, when given, is filled with the RSS
    of each kind of process (main process, JVM, Spark Python workers, ...) at the peak."""
    started = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                total, counted = tree_rss(process)
                if total > peak and breakdown is not None:
                    parts: dict[str, dict] = {}
                    for proc, rss in counted:
                        part = parts.setdefault(_kind(proc, process), {"rss_bytes": 0, "processes": 0})
                        part["rss_bytes"] += rss
                        part["processes"] += 1
                    breakdown.clear()
                    breakdown.update(parts)
                peak = max(peak, total)
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_tree(process)
        out, err = process.communicate()
        timed_out = True
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if timed_out:
        err = (err or "") + f"\nkilled: still running after {timeout:.0f} s (timeout)\n"
    completed = subprocess.CompletedProcess(command, process.returncode, out, err)
    if check and process.returncode != 0:
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


# ---------------------------------------------------------------------------------------------------------------
# The whole path: `genolake ingest VCF CLINVAR` as a user runs it, alternating with `bcftools view -Ou`.

CLINVAR = HERE.parent / "data" / "sample" / "variant_summary.2021-01.chr22_or_response.subset.txt.gz"
# The product's own entry point (what `genolake ingest` runs); a test may swap it for a failing command.
GENOLAKE_COMMAND = [sys.executable, "-m", "genolake_assets.cli", "ingest"]
PATH_RUNS = 3
PATH_TIMEOUT = 4 * 3600  # seconds: a hung run (a dead Spark driver, say) is killed and reported as a FAILURE
TAIL_LINES = 25  # of a failing run's output, in the table
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# What `genolake ingest` prints (genolake_assets/cli.py): one line per file, the publish run's checks, the totals.
# A file of a batch says "(batch of 50: 8 checks passed; 0.4s)": its seconds are the batch's over its files.
FILE_LINE = re.compile(r"\[(\d+)/(\d+)\] (\S+) -> partition (\S+): (.*?) \((?:batch of (\d+): )?(\d+) checks passed; "
                       r"([\d.]+)s\)")
PUBLISH_CHECKS = re.compile(r"^\S*\s*checks: (\d+) passed", re.M)
PUBLISHED = re.compile(r"published in ([\d.]+)s; total ([\d.]+)s")

# The issue's targets.
RSS_LIMIT_BYTES = 2_500_000_000  # 2.5 GB (10^9 bytes) of peak RSS, the whole process tree of `genolake ingest`
PATH_RATIO_TARGET = 0.25  # whole path >= 0.25x `bcftools view -Ou` (bcftools seconds / genolake seconds)
LINEAR_TOLERANCE = 1.2  # linear in size: seconds per M genotypes on L <= 1.2x those on M (fixed costs: M dearer)
# The kernel "before": its ratio to `bcftools view -Ou` as measured and documented (README "Performance",
# 2026-11-22: M 0.52x, S 0.43x; run-to-run spread about +-0.02x). L has no earlier figure: M's stands for it.
# --kernel-baseline FILE compares with a latest.json of an earlier run instead (e.g. the old code, same day).
KERNEL_REFERENCE = {"S": (0.43, "S, 2026-11-22 (README)"), "M": (0.52, "M, 2026-11-22 (README)"),
                    "L": (0.52, "M's, 2026-11-22 (README; no earlier L figure)")}
KERNEL_TOLERANCE = 0.03


def parse_genolake_output(text: str) -> dict:
    """The per-phase seconds `genolake ingest` prints: each file's raw -> processed run with its checks, the
    publish run (catalog, annotated, QC, reports, governance) and genolake's own total."""
    text = ANSI.sub("", text)
    files = [{"number": int(m[1]), "location": m[3], "partition": m[4], "rows": m[5], "checks": int(m[7]),
              "seconds": float(m[8]), "batch": int(m[6]) if m[6] else 1} for m in FILE_LINE.finditer(text)]
    parsed: dict = {"files": files}
    checks = PUBLISH_CHECKS.search(text)
    parsed["publish_checks"] = int(checks[1]) if checks else None
    published = PUBLISHED.search(text)
    parsed["publish_seconds"] = float(published[1]) if published else None
    parsed["reported_total_seconds"] = float(published[2]) if published else None
    return parsed


def _tail(done: subprocess.CompletedProcess, lines: int = TAIL_LINES) -> list[str]:
    text = ANSI.sub("", (done.stdout or "") + "\n" + (done.stderr or ""))
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return kept[-lines:]


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)} if values else \
        {"median": None, "min": None, "max": None}


def _keep_failed_run(home: Path, done: subprocess.CompletedProcess, keep: Path) -> Path:
    """A failed run's whole output and the log files of its home (deleted after the run) kept in ``keep``."""
    keep.mkdir(parents=True, exist_ok=True)
    (keep / "stdout.txt").write_text(done.stdout or "")
    (keep / "stderr.txt").write_text(done.stderr or "")
    for log in home.rglob("*.log"):
        if log.is_file():
            target = keep / "home" / log.relative_to(home)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, target)
    return keep


def whole_path(vcf: Path, genotypes: int, runs: int, workdir: Path, timeout: float = PATH_TIMEOUT,
               clinvar: Path = CLINVAR, keep_failed: Path | None = None) -> dict:
    """`genolake ingest VCF CLINVAR` in a fresh GENOLAKE_HOME each run, alternating with `bcftools view -Ou` on the
    same file: bcftools, genolake, bcftools, genolake, ... Medians (of the runs that succeeded, for genolake). A
    failed run's output and its home's log files are kept in ``keep_failed``/run<N> when given."""
    env = {**os.environ, "GENOLAKE_MODE": "local", "GX_ANALYTICS_ENABLED": "false", "DAGSTER_DISABLE_TELEMETRY": "1",
           "SPARK_LOCAL_IP": "127.0.0.1"}
    command = [*GENOLAKE_COMMAND, str(vcf), str(clinvar)]
    view_runs, genolake_runs = [], []
    for number in range(1, runs + 1):
        seconds, rss, _ = run_measured(["bcftools", "view", "-Ou", "-o", "/dev/null", str(vcf)])
        view_runs.append({"seconds": seconds, "peak_rss_bytes": rss})
        print(f"whole path, run {number}/{runs}: bcftools view -Ou {seconds:.2f} s; genolake ingest ...", flush=True)
        home = workdir / f"path-home-{number}"
        home.mkdir(parents=True)
        at_peak: dict = {}
        seconds, rss, done = run_measured(
            command, check=False, timeout=timeout, cwd=home, breakdown=at_peak,
            env={**env, "GENOLAKE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")})
        run = {"seconds": seconds, "returncode": done.returncode, "peak_rss_bytes": rss, "peak_rss_by_process": at_peak,
               **parse_genolake_output((done.stdout or "") + "\n" + (done.stderr or ""))}
        if done.returncode != 0:
            run["output_tail"] = _tail(done)
            if keep_failed is not None:
                run["kept"] = str(_keep_failed_run(home, done, keep_failed / f"run{number}"))
        genolake_runs.append(run)
        shutil.rmtree(home, ignore_errors=True)
        state = "ok" if done.returncode == 0 else f"FAILURE (exit {done.returncode})"
        print(f"whole path, run {number}/{runs}: genolake ingest {seconds:.1f} s, peak RSS {rss / 2**20:,.0f} MiB: "
              f"{state}", flush=True)
    ok = [r for r in genolake_runs if r["returncode"] == 0]
    view = _spread([r["seconds"] for r in view_runs])
    path = _spread([r["seconds"] for r in ok])

    def phase(pick) -> float | None:
        values = [v for v in (pick(r) for r in ok) if v is not None]
        return statistics.median(values) if values else None

    def file_seconds(run, number):
        return next((f["seconds"] for f in run["files"] if f["number"] == number), None)

    summary = {
        "command": "genolake ingest VCF CLINVAR", "vcf": vcf.name, "clinvar": clinvar.name, "runs": runs,
        # settings passed on from the caller's environment (GENOLAKE_SPARK_DRIVER_MEMORY, GENOLAKE_REPORT_COHORT, ...)
        "settings": {k: v for k, v in sorted(os.environ.items())
                     if k.startswith("GENOLAKE_") and k not in ("GENOLAKE_HOME", "GENOLAKE_MODE")},
        "failures": runs - len(ok), "genotypes": genotypes,
        "bcftools_view_seconds": view["median"], "bcftools_view_seconds_min": view["min"],
        "bcftools_view_seconds_max": view["max"],
        "bcftools_view_peak_rss_bytes": statistics.median(r["peak_rss_bytes"] for r in view_runs),
        "genolake_seconds": path["median"], "genolake_seconds_min": path["min"], "genolake_seconds_max": path["max"],
        # the peak of every run, failed ones included (a run killed by memory is the one that matters)
        "genolake_peak_rss_bytes": statistics.median(r["peak_rss_bytes"] for r in genolake_runs),
        "genolake_peak_rss_bytes_max": max(r["peak_rss_bytes"] for r in genolake_runs),
        "vcf_seconds": phase(lambda r: file_seconds(r, 1)), "clinvar_seconds": phase(lambda r: file_seconds(r, 2)),
        "publish_seconds": phase(lambda r: r["publish_seconds"]),
        "reported_total_seconds": phase(lambda r: r["reported_total_seconds"]),
        # the process's seconds outside genolake's own total: interpreter, imports, Dagster instance, exit
        "startup_and_exit_seconds": phase(lambda r: r["seconds"] - r["reported_total_seconds"]
                                          if r["reported_total_seconds"] is not None else None),
        "vcf_checks": next((f["checks"] for r in ok for f in r["files"] if f["number"] == 1), None),
        "clinvar_checks": next((f["checks"] for r in ok for f in r["files"] if f["number"] == 2), None),
        "publish_checks": next((r["publish_checks"] for r in ok if r["publish_checks"] is not None), None),
        "bcftools_view_runs": view_runs, "genolake_runs": genolake_runs,
    }
    if path["median"]:
        summary["ratio"] = view["median"] / path["median"]
        summary["seconds_per_million_genotypes"] = path["median"] / (genotypes / 1e6)
        summary["genotypes_per_s"] = genotypes / path["median"]
    else:
        summary["ratio"] = summary["seconds_per_million_genotypes"] = summary["genotypes_per_s"] = None
    return summary


def _mib(value) -> str:
    return f"{value / 2**20:,.0f} MiB" if value else "-"


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def whole_path_lines(label: str, path: dict) -> list[str]:
    runs, failures = path["runs"], path["failures"]
    view_per_s = path["genotypes"] / path["bcftools_view_seconds"]
    lines = [
        f"whole path: `genolake ingest {path['vcf']} {path['clinvar']}` (every check, QC, annotation, report and "
        f"governance step), its own process in a fresh GENOLAKE_HOME each run, alternating with `bcftools view -Ou` "
        f"on the same file; {runs} run{'s' if runs > 1 else ''} each, median (min-max)",
        "",
        f"| whole path, size {label} | seconds | genotypes/s | s per M genotypes | vs bcftools view -Ou | "
        "peak RSS (process tree) |",
        "|---|---|---|---|---|---|",
        f"| bcftools view -Ou (alternated) | {_seconds(path['bcftools_view_seconds'])} "
        f"({_seconds(path['bcftools_view_seconds_min'])}-{_seconds(path['bcftools_view_seconds_max'])}) | "
        f"{view_per_s / 1e6:.2f} M | {path['bcftools_view_seconds'] / (path['genotypes'] / 1e6):.3f} | 1.00x | "
        f"{_mib(path['bcftools_view_peak_rss_bytes'])} |",
    ]
    name = "genolake ingest (whole path)"
    memory = f"{_mib(path['genolake_peak_rss_bytes'])} (max {_mib(path['genolake_peak_rss_bytes_max'])})"
    if failures == runs:
        lines.append(f"| {name} | **FAILURE** in {failures} of {runs} runs | - | - | - | {memory} |")
    else:
        if failures:
            name += f"; **FAILURE** in {failures} of {runs} runs, figures of the {runs - failures} that passed"
        lines.append(
            f"| {name} | {_seconds(path['genolake_seconds'])} ({_seconds(path['genolake_seconds_min'])}-"
            f"{_seconds(path['genolake_seconds_max'])}) | {path['genotypes_per_s'] / 1e6:.2f} M | "
            f"{path['seconds_per_million_genotypes']:.3f} | {path['ratio']:.2f}x | {memory} |")
        checks = lambda n: f"{n} checks" if n is not None else "checks"  # noqa: E731
        lines += ["", "genolake whole path, medians: "
                  f"VCF file {_seconds(path['vcf_seconds'])} s (raw -> processed, {checks(path['vcf_checks'])}); "
                  f"ClinVar file {_seconds(path['clinvar_seconds'])} s ({checks(path['clinvar_checks'])}); "
                  f"publish {_seconds(path['publish_seconds'])} s (catalog, annotated, QC, reports, governance; "
                  f"{checks(path['publish_checks'])}); genolake's total {_seconds(path['reported_total_seconds'])} s, "
                  f"start-up and exit {_seconds(path['startup_and_exit_seconds'])} s"]
    def outcome(run: dict) -> str:
        return f"{run['seconds']:.1f} s" if run["returncode"] == 0 else \
            f"FAILURE (exit {run['returncode']}, {run['seconds']:.1f} s)"

    if path.get("settings"):
        lines.append("settings from the environment: " + ", ".join(f"{k}={v}" for k, v in path["settings"].items()))
    lines.append("runs in order: " + "; ".join(f"bcftools {v['seconds']:.2f} s, genolake {outcome(g)}"
                                               for v, g in zip(path["bcftools_view_runs"], path["genolake_runs"])))
    highest = max(path["genolake_runs"], key=lambda r: r["peak_rss_bytes"])
    if highest.get("peak_rss_by_process"):
        parts = sorted(highest["peak_rss_by_process"].items(), key=lambda kv: -kv[1]["rss_bytes"])
        lines.append(f"genolake's highest peak ({_mib(highest['peak_rss_bytes'])}, run "
                     f"{path['genolake_runs'].index(highest) + 1}) by process: " + ", ".join(
                         f"{kind} {_mib(part['rss_bytes'])}" + (f" ({part['processes']} processes)"
                                                                 if part["processes"] > 1 else "")
                         for kind, part in parts))
    for number, run in enumerate(path["genolake_runs"], start=1):
        if run["returncode"] != 0:
            lines += ["", f"FAILURE: genolake ingest, run {number} of {runs}, exit {run['returncode']} after "
                      f"{run['seconds']:.1f} s (peak RSS {_mib(run['peak_rss_bytes'])}); the last lines of its output:"]
            lines += [f"    {line}" for line in run["output_tail"]]
            if run.get("kept"):
                lines.append(f"its whole output and its home's log files: {run['kept']}")
    return lines


def _whole_path_by_size(out: Path, label: str, path: dict | None) -> dict:
    """Seconds per M genotypes of the whole path for S, M and L: this run's, and earlier runs' <size>.json."""
    found = {}
    for size in SIZES:
        if size == label:
            continue
        try:
            earlier = json.loads((out / f"{size}.json").read_text())
        except (OSError, ValueError):
            continue
        measured = earlier.get("whole_path") or {}
        if measured.get("seconds_per_million_genotypes") and not measured.get("failures"):
            found[size] = {"seconds_per_million_genotypes": measured["seconds_per_million_genotypes"],
                           "date": earlier.get("date"), "genotypes": earlier.get("genotypes")}
    if path and path.get("seconds_per_million_genotypes") and not path["failures"]:
        found[label] = {"seconds_per_million_genotypes": path["seconds_per_million_genotypes"], "date": None,
                        "genotypes": path["genotypes"], "this_run": True}
    return found


def targets(result: dict, out: Path, kernel_baseline: dict | None) -> list[dict]:
    """The issue's targets, each with what was measured and met (True) / not met (False) / not measured (None)."""
    label, path = result["size"], result.get("whole_path")
    rows = []
    if path:
        rows.append({"target": f"whole path without failure (size {label})",
                     "measured": f"{path['runs'] - path['failures']} of {path['runs']} runs passed",
                     "met": path["failures"] == 0})
        peak = path["genolake_peak_rss_bytes_max"]
        rows.append({"target": "peak RSS of the process tree <= 2.5 GB (whole path)",
                     "measured": f"max {peak / 1e9:.2f} GB ({_mib(peak)}) over {path['runs']} run(s)",
                     "met": peak <= RSS_LIMIT_BYTES})
    else:
        rows.append({"target": "whole path without failure, peak RSS <= 2.5 GB", "measured": "not run (--only kernel)",
                     "met": None})
    sizes = _whole_path_by_size(out, label, path)
    result["whole_path_by_size"] = sizes
    per_size = ", ".join(f"{size} {v['seconds_per_million_genotypes']:.3f}"
                         + (f" ({v['date']})" if v.get("date") and v["date"] != result["date"] else "")
                         for size, v in sorted(sizes.items(), key=lambda kv: kv[1]["genotypes"] or 0))
    if "M" in sizes and "L" in sizes:
        growth = sizes["L"]["seconds_per_million_genotypes"] / sizes["M"]["seconds_per_million_genotypes"]
        dates = {sizes["M"].get("date") or result["date"], sizes["L"].get("date") or result["date"]}
        rows.append({"target": f"whole path time linear in size (s per M genotypes; L <= {LINEAR_TOLERANCE}x M)",
                     "measured": f"{per_size}; L/M {growth:.2f}"
                                 + ("" if len(dates) == 1 else " (M and L measured on different days)"),
                     "met": growth <= LINEAR_TOLERANCE})
    else:
        rows.append({"target": f"whole path time linear in size (s per M genotypes; L <= {LINEAR_TOLERANCE}x M)",
                     "measured": (per_size + "; " if per_size else "") + "needs M and L (make bench SIZE=M, SIZE=L)",
                     "met": None})
    if path and path.get("ratio") is not None:
        rows.append({"target": f"whole path >= {PATH_RATIO_TARGET}x bcftools view -Ou",
                     "measured": f"{path['ratio']:.2f}x (medians of {path['runs']} alternating run(s) each; "
                                 f"{path['runs'] - path['failures']} genolake run(s) passed)",
                     # a figure over the runs that passed is no figure of the path when others failed
                     "met": path["ratio"] >= PATH_RATIO_TARGET and not path["failures"]})
    else:
        rows.append({"target": f"whole path >= {PATH_RATIO_TARGET}x bcftools view -Ou",
                     "measured": "no passing run" if path else "not run (--only kernel)",
                     "met": False if path else None})
    if result.get("genolake_genotypes_per_s"):
        kernel = result["genolake_genotypes_per_s"] / result["bcftools_view_genotypes_per_s"]
        if kernel_baseline is not None:
            before, source = kernel_baseline["ratio"], kernel_baseline["source"]
        elif label in KERNEL_REFERENCE:
            before, source = KERNEL_REFERENCE[label]
        else:
            before = source = None
        if before is None:
            rows.append({"target": "kernel no slower than before (genotypes/s vs bcftools view -Ou)",
                         "measured": f"{kernel:.2f}x; no earlier figure for size {label} (--kernel-baseline FILE)",
                         "met": None})
        else:
            rows.append({"target": "kernel no slower than before (genotypes/s vs bcftools view -Ou)",
                         "measured": f"{kernel:.2f}x now vs {before:.2f}x before ({source}; tolerance "
                                     f"{KERNEL_TOLERANCE:.2f}x)",
                         "met": kernel >= before - KERNEL_TOLERANCE})
    else:
        rows.append({"target": "kernel no slower than before (genotypes/s vs bcftools view -Ou)",
                     "measured": "not run (--only path)", "met": None})
    return rows


def target_lines(rows: list[dict]) -> list[str]:
    state = {True: "met", False: "**not met**", None: "not measured"}
    return ["| target | measured | |", "|---|---|---|",
            *(f"| {r['target']} | {r['measured']} | {state[r['met']]} |" for r in rows)]


def _kernel_baseline(path: Path | None) -> dict | None:
    if path is None:
        return None
    earlier = json.loads(path.read_text())
    return {"ratio": earlier["genolake_genotypes_per_s"] / earlier["bcftools_view_genotypes_per_s"],
            "source": f"{path.name}, size {earlier.get('size')}, {earlier.get('date')}"}


# ---------------------------------------------------------------------------------------------------------------
# The kernel: genolake's ingestion in-process (benchmarks/ingest.py), bcftools, Hail.

def kernel(result: dict, first: Path, second: Path, genotypes: int, vcf_gz_bytes: int, check_runs: int,
           tmp: Path) -> list[str]:
    """The kernel figures, as `make bench` has printed them: into ``result``; returns the table's lines."""
    print("bcftools ...", flush=True)
    result.update(bcftools_rows(first, genotypes))
    print("genolake (Spark local[*]) ...", flush=True)
    seconds, rss, done = run_measured([sys.executable, "-m", "benchmarks.ingest", str(first), str(second), str(tmp)],
                                      cwd=HERE.parent)
    genolake = json.loads(done.stdout.strip().splitlines()[-1])
    # genolake_<key>, except the keys that name their own subject (report_seconds, second_file_*, output_bytes)
    result.update({f"genolake_{k}" if not k.startswith(("report", "lookup", "second", "first_file", "output"))
                   else k: v for k, v in genolake.items()})
    result["genolake_process_seconds"] = seconds
    result["peak_rss_bytes"] = rss
    result["genolake_genotypes_per_s"] = genotypes / genolake["ingest_seconds"]
    print("per-file checks (single-sample VCF) ...", flush=True)
    done = subprocess.run([sys.executable, "-m", "benchmarks.checks", "--runs", str(check_runs)], cwd=HERE.parent,
                          check=True, capture_output=True, text=True)
    result["checks"] = json.loads(done.stdout.strip().splitlines()[-1])
    print("hail ...", flush=True)
    result.update(hail_rows(first, genotypes, tmp))
    hail_out = tmp / "hail.parquet"
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
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="S")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--records", type=int, help="override the size's record count (a quick smoke run)")
    parser.add_argument("--only", choices=("all", "kernel", "path"), default="all",
                        help="kernel: the in-process ingest figures (bcftools, genolake's kernel, per-file checks, "
                             "Hail); path: only the whole `genolake ingest` path against bcftools view; all (default)")
    parser.add_argument("--path-runs", type=int, default=PATH_RUNS,
                        help="runs of each side in the whole-path figure (alternating bcftools view, genolake ingest)")
    parser.add_argument("--path-timeout", type=float, default=PATH_TIMEOUT,
                        help="seconds after which a whole-path run is killed and reported as a FAILURE")
    parser.add_argument("--kernel-baseline", type=Path,
                        help="a latest.json of an earlier run: the kernel 'before' (default: the README's figure)")
    parser.add_argument("--check-runs", type=int, default=5, help="runs of each path in the per-file check figure")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where latest.json is written")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="where the generated VCFs are kept")
    args = parser.parse_args()
    if args.path_runs < 1:
        parser.error("--path-runs must be at least 1")
    kernel_baseline = _kernel_baseline(args.kernel_baseline)

    data = args.data
    records = args.records or SIZES[args.size]
    label = args.size if not args.records else f"{args.size}{records}"
    print(f"generating {label} ({records:,} records x {SAMPLES} samples) ...", flush=True)
    started = time.perf_counter()
    first = generate(label, args.seed, data, records=records)
    second = generate(label, args.seed + 1, data, records=records) if args.only != "path" else None
    genotypes = records * SAMPLES
    vcf_gz_bytes = first.stat().st_size
    print(f"  ready in {time.perf_counter() - started:.1f} s", flush=True)

    result = {"size": label, "records": records, "samples": SAMPLES, "genotypes": genotypes,
              "vcf_gz_bytes": vcf_gz_bytes, "cores": os.cpu_count(), "machine": platform.platform(),
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "only": args.only}
    lines = [
        f"size {label}: {records:,} records x {SAMPLES:,} samples = {genotypes / 1e6:.0f} M genotypes; "
        f".vcf.gz {vcf_gz_bytes / 2**20:.1f} MiB; {os.cpu_count()} cores; {result['date']}",
    ]
    errors = []
    with tempfile.TemporaryDirectory(prefix="genolake-bench-") as tmp:
        if args.only != "path":
            try:
                lines += ["", *kernel(result, first, second, genotypes, vcf_gz_bytes, args.check_runs, Path(tmp))]
            except (RuntimeError, subprocess.CalledProcessError, ValueError, KeyError) as exc:
                # the whole path still runs; the kernel's failure is printed and the exit is non-zero
                detail = getattr(exc, "stderr", None) or str(exc)
                result["kernel_error"] = str(detail)[-3000:]
                errors.append("kernel")
                lines += ["", "| tool | genotypes/s |", "|---|---|", "| genolake ingest (kernel) | **FAILURE** |",
                          "", "FAILURE: the kernel measurement: " + str(detail)[-2000:]]
        if args.only != "kernel":
            print(f"whole path: genolake ingest vs bcftools view -Ou, {args.path_runs} alternating runs each ...",
                  flush=True)
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            result["whole_path"] = whole_path(first, genotypes, args.path_runs, Path(tmp) / "path",
                                              timeout=args.path_timeout,
                                              keep_failed=data / "failed-runs" / f"{label}-{stamp}")
            lines += ["", *whole_path_lines(label, result["whole_path"])]
            if result["whole_path"]["failures"]:
                errors.append("whole path")
    result["targets"] = targets(result, args.out, kernel_baseline)
    lines += ["", *target_lines(result["targets"])]
    print("\n".join(lines))
    result["table"] = lines
    result["failed"] = errors
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    shutil.copyfile(out / "latest.json", out / f"{label}.json")
    print(f"written {out / 'latest.json'}")
    if errors:
        print(f"FAILURE: {' and '.join(errors)} (see above)", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
