"""`genolake`: land files and materialize everything downstream in-process, query the catalog, print reports."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

import pyarrow as pa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable
from typer.core import TyperGroup

from . import mode


class _Commands(TyperGroup):
    """The `genolake` command group. Around every command: a bad setting ends it with one line and exit code 2
    (no trace), and the Dagster log of the runs it started is closed (`_RunLog`): when anything failed, its path is
    the last line printed."""

    def invoke(self, ctx):
        global _run_log
        _run_log = _RunLog(lambda: ctx.invoked_subcommand)  # one per invocation (CliRunner runs several in a process)
        try:
            return super().invoke(ctx)
        except ValueError as exc:
            bad = _bad_setting(exc)
            if bad is None:
                raise
            console.print(f"[red]x bad setting:[/] {escape(str(bad))}", soft_wrap=True)
            raise typer.Exit(2) from None
        finally:
            finished, _run_log = _run_log, None
            if finished is not None:
                finished.close()


app = typer.Typer(cls=_Commands, add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
# Piped or captured output (make demo, CI logs) gets a wide console instead of rich's 80 columns.
out = Console(width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "160")))

# The instance configuration the project ships (telemetry off, ingest runs limited by tag).
DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
FALLBACK_YAML = "telemetry:\n  enabled: false\nconcurrency:\n  runs:\n    max_concurrent_runs: 2\n"  # installed without the repo


def _prepare_dagster_home(settings: mode.Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():  # written whole, then renamed: a second process starting now never reads half a file
        partial = home / f".dagster.yaml.{os.getpid()}"
        partial.write_text(DAGSTER_YAML.read_text() if DAGSTER_YAML.exists() else FALLBACK_YAML)
        os.replace(partial, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _instance(settings: mode.Settings):
    """The Dagster instance of this home. Opening it creates its SQLite storages (runs, schedules, the event index)
    and stamps their alembic revision: two processes doing that at once on a fresh home leave two revision rows and
    every later open fails ("more than one head"), so the first open is serialised with a file lock."""
    from dagster import DagsterInstance
    from filelock import FileLock

    home = _prepare_dagster_home(settings)
    with FileLock(str(home / ".instance.lock"), timeout=600):
        return DagsterInstance.get()


# Dagster's console logger stays silent in CLI runs: genolake prints its own line for each failed file, failed
# check and check warning, and every event (all levels, errors with their stack traces) goes to the run log file
# and to the instance, which the UI reads.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# Great Expectations announces each ephemeral context at INFO; nothing to act on.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


def _bad_setting(exc: ValueError) -> ValueError | None:
    """The bad setting ``exc`` stands for, or None when it is not one: an AwsConfigError (aws mode without its
    GENOLAKE_* settings), or the mode settings' own error when they are invalid (GENOLAKE_MODE=bogus)."""
    from resources.aws import AwsConfigError

    if isinstance(exc, AwsConfigError):
        return exc
    try:
        mode.current()
    except ValueError as bad:
        return bad
    return None


class _RunLog:
    """The Dagster log of one CLI invocation, ``$GENOLAKE_HOME/logs/<command>-<UTC time>.log``: every event of every
    run the command started, all levels, each error with its full stack trace (cause and context included), read
    back from the instance's event log after each run (the same events the UI shows). Created by the first run;
    ``close()`` prints its path when a run failed or a blocking check failed."""

    def __init__(self, command):
        self.command, self.path, self.failed = command, None, False  # command: a name, or a callable giving it

    def add(self, instance, result, failed: bool) -> None:
        if self.path is None:
            self.path = self._create()
        with self.path.open("a", encoding="utf-8") as log:
            log.write(_run_log_text(instance, result))
        self.failed = self.failed or failed

    def _create(self) -> Path:
        from datetime import datetime, timezone

        command = (self.command() if callable(self.command) else self.command) or "run"
        folder = mode.current().home / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        for n in range(1, 1000):  # two invocations in the same second get two files
            path = folder / f"{command}-{stamp}{'' if n == 1 else f'-{n}'}.log"
            try:
                path.open("x").close()
                return path
            except FileExistsError:
                continue
        raise FileExistsError(f"{folder}: no free log file name for {command}-{stamp}")

    def close(self) -> None:
        if self.failed and self.path is not None:
            console.print(f"full log: {self.path} (the Dagster UI, `genolake dev`, shows these runs too)",
                          markup=False, highlight=False, soft_wrap=True)


_run_log: _RunLog | None = None


def _run_log_text(instance, result) -> str:
    """One run's events as text: a header, then a line per event (UTC time, level, step, event type, message),
    each error's ``SerializableErrorInfo.to_string()`` under its event."""
    from datetime import datetime, timezone

    run = result.dagster_run
    tags = " ".join(f"{k}={v}" for k, v in sorted(run.tags.items()))
    lines = [f"=== run {run.run_id} {'succeeded' if result.success else 'FAILED'} ({tags})"]
    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        when = datetime.fromtimestamp(entry.timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        kind = event.event_type_value if event is not None else "LOG"
        lines.append(f"{when} UTC {logging.getLevelName(entry.level)} {entry.step_key or '-'} {kind} - {entry.message}")
        for error in (entry.error_info, _event_error(event)):
            if error is not None:
                lines.append(error.to_string().rstrip())
    return "\n".join(lines) + "\n\n"


def _event_error(event):
    """The error an event carries (step, run, engine and resource failures), or None."""
    error = getattr(getattr(event, "event_specific_data", None), "error", None)
    return error if hasattr(error, "to_string") else None


# Errors genolake raises on purpose, with its own words (the innermost of a step error's cause chain): a dagster
# Failure (a quarantined file, blocking checks, a file gone from landing, an EMR job without its report), a
# rejected file's reason, a bad setting.
EXPECTED_ERRORS = frozenset({"Failure", "VcfRejected", "ClinVarFormatError", "AwsConfigError", "PolicyError"})


def _unexpected_errors(result) -> list:
    """The errors of a run that are not genolake speaking but a bug, whose stack traces the terminal must show.

    The rule: a step failure is expected when its error's cause chain holds a dagster ``Failure`` or ends in one of
    EXPECTED_ERRORS; any other innermost error (KeyError, a Spark or a storage error, ...) is unexpected. A failed run
    without a step failure (its resources or its plan failed) is judged the same way by its run failure's error,
    else by the errors of its engine events. Expected failures print genolake's line only; their traces, like
    every other event, are in the run log file and the UI."""
    step_errors = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
    if not step_errors and not result.success:
        step_errors = [error for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE"
                       for error in [_event_error(e)] if error is not None]
        if not step_errors:
            step_errors = [error for e in result.all_events for error in [_event_error(e)] if error is not None]
    unexpected = []
    for error in step_errors:
        chain = []
        while error is not None:
            chain.append(error)
            error = error.cause
        if chain and not any(e.cls_name == "Failure" for e in chain) and chain[-1].cls_name not in EXPECTED_ERRORS:
            unexpected.append(chain[0])
    return unexpected


def _metadata_value(event, name):
    entry = event.materialization.metadata.get(name)
    return getattr(entry, "value", None) if entry is not None else None


REPORT_STEP = "reports__drug_response_report"


def _job(defs, resources, name: str | None):
    """The code location's job ``name`` bound to ``resources`` (built for this invocation's GENOLAKE_HOME): the CLI
    runs the same jobs as the sensors (ingest_vcf, ingest_clinvar, publish), with their tags and descriptions."""
    from dagster import Definitions

    key = (id(defs), id(resources))
    if _JOBS.get("key") != key:
        _JOBS.clear()
        _JOBS["key"] = key
        _JOBS["defs"] = Definitions(assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs,
                                    resources=resources, executor=defs.executor)
    if name is None:  # every asset of ``defs`` (a test's own definitions)
        return _JOBS["defs"].resolve_implicit_global_asset_job_def()
    return _JOBS["defs"].resolve_job_def(name)


_JOBS: dict = {}


def _materialize(defs, resources, job: str | None, instance, partition_key=None, tags=None, run_config=None):
    """One in-process run of the code location's job ``job``, Dagster's console silent: its events go to this
    invocation's run log; the traces of unexpected errors (see `_unexpected_errors`) are printed here, before the
    caller's own line. A batch passes its partition range in ``tags`` (no ``partition_key``)."""
    global _run_log
    from dagster import AssetCheckSeverity

    result = _job(defs, resources, job).execute_in_process(
        run_config={**QUIET, **(run_config or {})}, instance=instance, partition_key=partition_key,
        tags=tags or {}, raise_on_error=False)
    if _run_log is None:  # called outside a CLI command
        _run_log = _RunLog("run")
    failed = not result.success or any(not e.passed and e.severity == AssetCheckSeverity.ERROR
                                       for e in result.get_asset_check_evaluations())
    _run_log.add(instance, result, failed)
    for error in _unexpected_errors(result):
        console.print("[red]x unexpected error[/] (a bug, not a problem of the data; its trace follows):")
        console.print(error.to_string().rstrip(), markup=False, highlight=False, soft_wrap=True)
    return result


def _failure_message(result) -> str:
    """The step failure's own words: a Failure's description, else the innermost exception's message."""
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        chain, error = [], event.step_failure_data.error
        while error is not None:
            chain.append(error)
            error = error.cause
        if not chain:
            return "step failed"
        failures = [e for e in chain if (e.cls_name or "") == "Failure"]
        text = (failures[0] if failures else chain[-1]).message or ""
        first, _, rest = text.strip().partition(": ")
        if first.rsplit(".", 1)[-1] in ("Failure", "DagsterExecutionStepExecutionError") or first.endswith(("Error", "Exception")):
            text = rest
        return " ".join(line.strip() for line in text.splitlines() if line.strip())
    return "run failed"


def _report_checks(result, where: str = "") -> tuple[int, int]:
    """Print every failed asset check of a run (asset, check, message, failing rows); returns (failed blocking
    checks, passed checks). Warnings are printed too but do not count as failed."""
    from dagster import AssetCheckSeverity

    blocking = passed = 0
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            passed += 1
            continue
        message = evaluation.metadata.get("message")
        rows = evaluation.metadata.get("failing_rows")
        text = getattr(message, "value", None) or evaluation.description or "failed"
        rows_text = f" ({rows.value:,} failing rows)" if rows is not None and rows.value else ""
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        if evaluation.severity == AssetCheckSeverity.WARN:
            console.print(f"[yellow]! check warning[/] {where}{name}: {text}{rows_text}", soft_wrap=True)
        else:
            blocking += 1
            console.print(f"[red]x check failed[/] {where}{name}: {text}{rows_text}", soft_wrap=True)
    return blocking, passed


def _publish(defs, resources, instance, cohort: str | None = None) -> None:
    """Materialize catalog -> annotated -> reports and print each table's rows; exit 1 if it fails."""
    from .layers.governance import policy_observation

    run_config = {"ops": {REPORT_STEP: {"config": {"cohort": cohort}}}} if cohort else None
    _, _, observation = policy_observation(instance)  # the policy the permissions apply, observed as the sensor does
    if observation is not None:
        instance.report_runless_asset_event(observation)
    with console.status("publishing: catalog -> annotated -> reports -> governance ..."):
        result = _materialize(defs, resources, "publish", instance, run_config=run_config)
    failed_checks, passed_checks = _report_checks(result)
    if not result.success or failed_checks:
        console.print(f"[red]x[/] publish: {_failure_message(result) if not result.success else 'checks failed'}")
        raise typer.Exit(1)
    console.print(f"[green]ok[/] checks: {passed_checks} passed")
    for event in result.get_asset_materialization_events():
        rows = _metadata_value(event, "dagster/row_count")
        if rows is not None:
            console.print(f"[green]ok[/] {event.asset_key.to_user_string()}: {rows:,} rows")
        elif event.asset_key.path[0] == "governance":
            console.print(f"[green]ok[/] {event.asset_key.to_user_string()}: {_metadata_value(event, 'grants')} "
                          f"grants for {_metadata_value(event, 'roles')} roles ({_metadata_value(event, 'target')}; "
                          f"{_metadata_value(event, 'added')} added, {_metadata_value(event, 'changed')} changed, "
                          f"{_metadata_value(event, 'revoked')} revoked)")


COHORT_HELP = ("Cohort of the drug-response report: SQL LIKE pattern on sample IDs (default: GENOLAKE_REPORT_COHORT, "
               "else every sample, '%')")


def _batched(settings, resources) -> bool:
    """Batches run in the local mode (this process's Spark). In the aws mode each file is its own run, as the S3
    sensor requests them (with EMR Serverless each file is its own job)."""
    job = resources.get("vcf_job")
    return settings.mode == "local" and not getattr(job, "enabled", False)


def _batches(instance, vcfs: list) -> list[list]:
    """The landed VCFs in batches that are partition ranges: contiguous in the partitions' order (new files are
    added together, so they are), at most BATCH_FILES each; a re-landed file among older keys is its own batch."""
    from .jobs import BATCH_FILES
    from .partitions import vcf_files_partitions

    order = {k: i for i, k in enumerate(instance.get_dynamic_partitions(vcf_files_partitions.name))}
    unique = {f.partition_key: (n, f) for n, f in vcfs}  # the same key landed twice: the last copy
    ranked = sorted(unique.values(), key=lambda item: order[item[1].partition_key])
    batches: list[list] = []
    for item in ranked:
        last = batches[-1][-1][1].partition_key if batches else None
        if (last is not None and order[item[1].partition_key] == order[last] + 1
                and len(batches[-1]) < BATCH_FILES):
            batches[-1].append(item)
        else:
            batches.append([item])
    return batches


def _ingest_batch(defs, resources, instance, batch: list, total: int) -> list:
    """One ingest_vcf run over a batch's partition range; prints a line per committed file and returns the files
    the batch deferred (to run on their own)."""
    from .jobs import BATCH_TAG, RANGE_END, RANGE_START
    from .layers.raw import DEFERRED

    first, last = batch[0], batch[-1]
    label = f"[{first[0]}-{last[0]}/{total}]" if first[0] != last[0] else f"[{first[0]}/{total}]"
    with console.status(f"{label} {len(batch)} files: raw -> processed (one run) ..."):
        t0 = time.monotonic()
        result = _materialize(defs, resources, "ingest_vcf", instance, tags={
            RANGE_START: first[1].partition_key, RANGE_END: last[1].partition_key, BATCH_TAG: str(len(batch))})
    seconds = time.monotonic() - t0
    rows, status = {}, {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key.path[0] != "processed" or materialization.partition is None:
            continue
        meta = materialization.metadata
        status[materialization.partition] = getattr(meta.get("status"), "value", None)
        if "dagster/row_count" in meta:
            table = materialization.asset_key.path[-1]
            rows.setdefault(materialization.partition, {})[table] = meta["dagster/row_count"].value
    _, passed_checks = _report_checks(result, f"{label} ")  # a batch's blocking failures are deferred files
    deferred = []
    for number, landed in batch:
        key = landed.partition_key
        if not result.success or status.get(key) != "committed":
            deferred.append((number, landed))
            continue
        summary = ", ".join(f"{v:,} {k}" for k, v in rows.get(key, {}).items())
        console.print(f"[green]ok[/] [{number}/{total}] {landed.location} -> partition {key}: {summary} "
                      f"(batch of {len(batch)}: {passed_checks} checks passed; {seconds / len(batch):.1f}s)",
                      soft_wrap=True)
    if deferred and result.success:
        console.print(f"{label} {len(deferred)} file(s) deferred by the batch ({DEFERRED}): each runs on its own")
    return deferred


def _ingest_one(defs, resources, instance, number: int, total: int, landed) -> bool:
    """One file's ingest run (its own partition); prints its line; True when it was committed."""
    from .layers.common import LOCATION_TAG

    key = landed.partition_key
    vcf = landed.kind == "vcf"
    with console.status(f"[{number}/{total}] {landed.location}: raw -> processed ..."):
        t0 = time.monotonic()
        result = _materialize(defs, resources, "ingest_vcf" if vcf else "ingest_clinvar", instance, key,
                              {LOCATION_TAG: landed.location})
    failed_checks, passed_checks = _report_checks(result, f"[{number}/{total}] ")
    if not result.success or failed_checks:
        console.print(f"[red]x[/] [{number}/{total}] {landed.location}: {_failure_message(result)}")
        return False
    counts = {
        "/".join(e.asset_key.path[1:]): _metadata_value(e, "dagster/row_count")
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[0] == "processed"
    }
    summary = ", ".join(f"{v:,} {k}" for k, v in counts.items())
    console.print(f"[green]ok[/] [{number}/{total}] {landed.location} -> partition {key}: {summary} "
                  f"({passed_checks} checks passed; {time.monotonic() - t0:.1f}s)", soft_wrap=True)
    return True


@app.command()
def ingest(paths: List[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                               help="VCF (.vcf, .vcf.gz, .vcf.bgz) or ClinVar variant_summary files"),
           cohort: Optional[str] = typer.Option(None, "--cohort", help=COHORT_HELP)):
    """Land PATHS and materialize raw -> processed -> catalog -> annotated -> reports in this process."""
    settings = mode.current()
    instance = _instance(settings)
    from resources import resources_for_mode

    from .definitions import defs
    from .partitions import clinvar_releases_partitions, vcf_files_partitions

    resources = resources_for_mode(settings)  # built now: GENOLAKE_HOME may differ from import time
    landing = resources["landing"]
    console.print(f"[bold]genolake[/] home {settings.home} (mode {settings.mode})")
    failures = 0
    started = time.monotonic()
    landed_files = []
    for number, path in enumerate(paths, start=1):
        try:
            landed_files.append((number, landing.land(str(path))))
        except ValueError as exc:
            console.print(f"[red]x[/] {exc}")
            failures += 1
    vcfs = [(n, f) for n, f in landed_files if f.kind == "vcf"]
    if vcfs:
        keys = list(dict.fromkeys(f.partition_key for _, f in vcfs))  # in landing order: batches are ranges
        instance.add_dynamic_partitions(vcf_files_partitions.name, keys)
    # VCFs in batches (one run, one Spark job per file, one commit per batch) when the mode allows it; a file a
    # batch defers (a bad header, record or check) then runs on its own, where it is quarantined with its reason
    alone = [] if _batched(settings, resources) else vcfs
    for batch in ([] if alone else _batches(instance, vcfs)):
        if len(batch) == 1:
            alone.extend(batch)
            continue
        alone.extend(_ingest_batch(defs, resources, instance, batch, len(paths)))
    alone.sort(key=lambda item: item[0])
    for number, landed in alone + [(n, f) for n, f in landed_files if f.kind != "vcf"]:
        if landed.kind != "vcf":
            instance.add_dynamic_partitions(clinvar_releases_partitions.name, [landed.partition_key])
        failures += not _ingest_one(defs, resources, instance, number, len(paths), landed)
    t0 = time.monotonic()
    _publish(defs, resources, instance, cohort)
    console.print(f"published in {time.monotonic() - t0:.1f}s; total {time.monotonic() - started:.1f}s")
    if failures:
        where = os.environ.get("GENOLAKE_QUARANTINE_URI", "") if settings.mode == "aws" else settings.quarantine
        console.print(f"[red]{failures} file(s) failed[/]; see the messages above and {where}")
        raise typer.Exit(1)


@app.command("demo-aws")
def demo_aws(paths: List[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                                 help="VCF or ClinVar files to upload to the landing bucket"),
             endpoint: str = typer.Option(None, help="Use this running emulator (default: start a moto server "
                                          "on loopback for the demo's duration)")):
    """The aws mode end to end on an emulator: buckets, Glue and Athena as Terraform would create them, files
    uploaded to the landing bucket, s3_landing_sensor ticks, ingest + publish runs, the report printed."""
    from . import aws_demo

    emulator = aws_demo.Emulator(endpoint) if endpoint else aws_demo.start_emulator()
    os.environ.update(aws_demo.demo_environment(emulator.endpoint))
    if not os.environ.get("GENOLAKE_POLICY"):
        os.environ["GENOLAKE_POLICY"] = aws_demo.emulator_policy(mode.current().home)
        console.print("governance: the emulator has no Lake Formation data cells filters; applying "
                      "governance/policies.yaml without its row filters")
    try:
        _run_aws_demo(paths, emulator.endpoint)
    finally:
        emulator.stop()


def _run_aws_demo(paths, endpoint: str) -> None:
    from dagster import build_sensor_context

    from resources import resources_for_mode

    from . import aws_demo
    from .definitions import defs
    from .s3_sensor import s3_landing_sensor

    settings = mode.current()
    instance = _instance(settings)
    console.print(f"[bold]genolake[/] aws mode on the emulator at {endpoint} (Dagster home {settings.dagster_home})")
    aws_demo.provision()
    resources = resources_for_mode(settings)
    landing = resources["landing"]
    for path in paths:
        landed = landing.land(str(path))
        console.print(f"uploaded {path.name} -> {landed.location}")
    cursor, launched, failures = None, set(), 0
    while True:  # sensor ticks until the landing bucket has nothing new (the daemon would do this every 30 s)
        context = build_sensor_context(instance=instance, cursor=cursor, resources={"landing": landing})
        result = s3_landing_sensor(context)
        cursor = context.cursor if getattr(result, "cursor", None) is None else result.cursor
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        requests = [r for r in (result.run_requests or []) if r.run_key not in launched]
        if not requests:
            break
        for request in requests:
            launched.add(request.run_key)  # Dagster skips a run key it has seen; so do we
            t0 = time.monotonic()
            run = _materialize(defs, resources, request.job_name, instance, request.partition_key, dict(request.tags))
            where = request.tags.get("genolake/location", request.partition_key)
            failed_checks, passed_checks = _report_checks(run)
            if run.success and not failed_checks:
                console.print(f"[green]ok[/] {where} -> partition {request.partition_key} "
                              f"({passed_checks} checks passed; {time.monotonic() - t0:.1f}s)", soft_wrap=True)
            else:
                failures += 1
                console.print(f"[red]x[/] {where}: {_failure_message(run)}")
    _publish(defs, resources, instance)
    from .transforms.report import drug_response_sql, with_inputs

    engine = resources["query_engine"]
    commit_set = engine.resolve(None)
    cohort = settings.report_cohort
    report = with_inputs(engine.query_at(drug_response_sql(), [cohort, 50], commit_set), commit_set.snapshots)
    out.print(f"[bold]Drug-response report[/] (aws mode on the emulator; cohort {cohort})")
    _print(report.select(["rank", "rsid", "genotype", "frequency", "sample_count", "cohort_size", "gene_symbol"]),
           "table")
    if failures:
        raise typer.Exit(1)


@app.command("upload-job")
def upload_job(to: str = typer.Option("", help="s3://bucket/prefix (default: GENOLAKE_JOBS_URI)")):
    """Upload the EMR Serverless ingest job: its entry point and a zip of the transforms (--py-files)."""
    from resources.aws import AwsError
    from resources.emr import upload_job as upload

    target = (to or os.environ.get("GENOLAKE_JOBS_URI") or "").strip()
    if not target:
        _fail(ValueError("upload-job needs --to s3://bucket/prefix or GENOLAKE_JOBS_URI (terraform output)"), 2)
    try:
        uploaded = upload(target)
    except (AwsError, ValueError) as exc:
        _fail(exc)
    for name, uri in uploaded.items():
        out.print(f"{name} -> {uri}")


@app.command()
def dev(host: str = typer.Option("127.0.0.1", help="Interface for the UI"),
        port: int = typer.Option(3000, help="Port for the UI")):
    """Open the Dagster UI (dagster dev) over GENOLAKE_HOME: sensors, lineage, materializations, checks."""
    settings = mode.current()
    _instance(settings)  # storages created under the lock before the webserver and daemon open them
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    dagster = Path(sys.executable).with_name("dagster")
    console.print(f"[bold]genolake[/] UI on http://{host}:{port} (home {settings.home})")
    os.execv(str(dagster), [str(dagster), "dev", "-w", str(workspace), "-h", host, "-p", str(port)])


def _engine():
    from resources.query import DuckDBQueryEngine

    return DuckDBQueryEngine(home=str(mode.current().home))


def _lakehouse():
    from resources.catalog import local_lakehouse
    from resources.query import CatalogMissing

    home = mode.current().home
    if not (home / "catalog.db").exists():
        raise CatalogMissing(f"no catalog at {home / 'catalog.db'}: run `genolake ingest <files>` (or `make demo`) first")
    return local_lakehouse(str(home))


def _print(table, fmt: str) -> None:
    if fmt == "csv":
        import pyarrow.csv as pacsv

        sink = __import__("io").BytesIO()
        for i, column in enumerate(table.schema):  # maps and lists (input_snapshots, filters) as JSON text
            if pa.types.is_nested(column.type):
                text = [None if v is None else json.dumps(v) for v in table.column(i).to_pylist()]
                table = table.set_column(i, column.name, pa.array(text, pa.string()))
        pacsv.write_csv(table, sink)
        sys.stdout.write(sink.getvalue().decode())
    elif fmt == "json":
        maps = [f.name for f in table.schema if pa.types.is_map(f.type)]
        rows = [{k: (dict(v) if k in maps and v is not None else v) for k, v in row.items()} for row in table.to_pylist()]
        sys.stdout.write(json.dumps(rows, default=str, indent=1) + "\n")
    else:
        rich = RichTable(show_lines=False, header_style="bold")
        for name in table.column_names:
            rich.add_column(name, overflow="fold")
        for row in table.to_pylist():
            rich.add_row(*["" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v)) for v in row.values()])
        out.print(rich)
        out.print(f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})")


def _shorten(phenotypes: str | None, width: int = 60) -> str | None:
    """'a|b|c' -> 'a; b (+1 more)' cut to ``width`` characters, for the terminal table only."""
    if not phenotypes:
        return phenotypes
    items = [p for p in phenotypes.split("|") if p]
    text, shown = "", 0
    for item in items:
        candidate = f"{text}; {item}" if text else item
        if len(candidate) > width and text:
            break
        text, shown = candidate, shown + 1
    if len(text) > width:
        text = text[: width - 3] + "..."
    return text + (f" (+{len(items) - shown} more)" if shown < len(items) else "")


FORMAT = typer.Option("table", "--format", "-f", help="table (readable), csv or json")
AS_OF = typer.Option(None, "--as-of", help="Read an older snapshot set: a snapshot id of any table (see "
                     "`genolake history TABLE`) or an ISO time such as 2026-11-23T10:00:00Z")


def _fail(exc: Exception, code: int = 1):
    # escaped: a message may quote input holding "[...]" (rich markup); soft_wrap: one message stays one line
    console.print(f"[red]{escape(str(exc))}[/]", soft_wrap=True)
    raise typer.Exit(code)


ROLE = typer.Option(None, "--role", help="Run as this governance role: only its columns and rows (see governance/)")
POLICY = typer.Option(None, "--policy", help="Policy file (default: the one applied to this home; for plan/apply: "
                                             "governance/policies.yaml)")


def _role_grants(policy: Optional[Path]):
    """The grants a role query enforces: the given policy file compiled for the local target, else what the last
    `governance apply` recorded in this home."""
    from resources.governance import LocalGovernance, desired_grants

    if policy is not None:
        return desired_grants(policy, "local")
    grants = LocalGovernance(home=str(mode.current().home)).actual()
    if not grants:
        _fail(ValueError("no governance policy is applied to this home: run `genolake governance apply` "
                         "(make demo does) or pass --policy PATH"), 2)
    return grants


@app.command()
def query(sql: str = typer.Argument(..., help="SQL over the catalog, e.g. SELECT count(*) FROM genolake.samples"),
          fmt: str = FORMAT, as_of: str = AS_OF, role: Optional[str] = ROLE, policy: Optional[Path] = POLICY):
    """Run SQL on the local catalog (the newest snapshot set, or --as-of an older one) and print the result;
    with --role, as that role: the tables, columns and rows its grants allow, nothing else."""
    from resources.lakehouse import LakehouseError
    from resources.query import CatalogMissing

    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter("--format must be table, csv or json")
    if policy is not None and role is None:
        raise typer.BadParameter("--policy applies to --role queries")
    grants = None
    if role is not None:
        from genolake_assets.transforms.tables import TABLES
        from governance.local import GovernanceDenied, check_query
        from governance.model import PolicyError

        try:
            grants = _role_grants(policy)
            check_query(sql, role, grants, TABLES)  # refused before the catalog is opened
        except (GovernanceDenied, PolicyError) as exc:
            _fail(exc)
    engine = _engine()
    try:
        commit_set = engine.resolve(as_of)
    except CatalogMissing as exc:
        _fail(exc, 2)
    except LakehouseError as exc:
        _fail(exc)
    if as_of:
        console.print(f"as of {commit_set.describe()}")
    try:
        if grants is None:
            result = engine.query_at(sql, None, commit_set)
        else:  # checked by allow-list, then run on a connection holding only the role's views
            result = engine.query_as_role(sql, role, grants, commit_set)
    except GovernanceDenied as exc:
        _fail(exc)
    except Exception as exc:  # SQL errors: show DuckDB's message, not a traceback
        if grants is not None:
            from genolake_assets.transforms.tables import TABLES
            from governance.local import explain_denied

            said = explain_denied(exc, role, grants, {n: t.column_names for n, t in TABLES.items()})
            if said:
                _fail(PermissionError(said))
        console.print(f"[red]query failed:[/] {exc}")
        raise typer.Exit(1)
    _print(result, fmt)


governance_app = typer.Typer(no_args_is_help=True, help="Plan and apply governance/policies.yaml (like Terraform).")
app.add_typer(governance_app, name="governance")
TARGET = typer.Option(None, "--target", help="local or aws (default: the current mode)")


def _governance(target: Optional[str]):
    settings = mode.current()
    target = (target or settings.mode).strip().lower()
    if target not in ("local", "aws"):
        raise typer.BadParameter("--target must be local or aws")
    if target == "local":
        from resources.governance import LocalGovernance

        return LocalGovernance(home=str(settings.home))
    from resources import aws_resources

    return aws_resources()["governance"]


def _show_plan(plan) -> None:
    from governance.plan import render

    out.print(render(plan), markup=False, highlight=False)
    for line in plan.info:
        console.print(f"note: {line}", markup=False, highlight=False)


@governance_app.command("plan")
def governance_plan(policy: Optional[Path] = POLICY, target: Optional[str] = TARGET):
    """Print what apply would change: grants to add, to change, to revoke (drift included)."""
    from governance.model import PolicyError
    from resources.aws import AwsConfigError, AwsError

    try:
        plan, _ = _governance(target).plan(policy)
    except (PolicyError, AwsConfigError, AwsError) as exc:
        _fail(exc)
    _show_plan(plan)


@governance_app.command("apply")
def governance_apply(policy: Optional[Path] = POLICY, target: Optional[str] = TARGET):
    """Make the target's grants exactly the policy's (adds, changes, revokes what is not declared)."""
    from governance.model import PolicyError
    from resources.aws import AwsConfigError, AwsError

    import duckdb

    try:
        plan = _governance(target).apply(policy)
    except (PolicyError, AwsConfigError, AwsError) as exc:
        _fail(exc)
    except duckdb.CatalogException:  # the role views select from genolake.<table>: there is nothing yet
        _fail(ValueError(f"no catalog in {mode.current().home}: run `genolake ingest <files>` (or `make demo`) "
                         "before `genolake governance apply`"), 2)
    if plan.empty:
        out.print("No changes.")
        return
    _show_plan(plan)
    counts = plan.counts()
    out.print(f"Apply complete! {counts['add']} added, {counts['change']} changed, {counts['revoke']} revoked.")


@app.command()
def history(table: str = typer.Argument(..., help="Table name, e.g. calls"), fmt: str = FORMAT):
    """List a table's Iceberg snapshots: time, operation, the run that wrote it, rows added/removed."""
    from genolake_assets.transforms.tables import TABLES
    from resources.query import CatalogMissing

    name = table.split(".")[-1]
    if name not in TABLES:
        _fail(ValueError(f"unknown table {table!r}; tables: {', '.join(TABLES)}"), 2)
    try:
        rows = _lakehouse().history(name)
    except CatalogMissing as exc:
        _fail(exc, 2)
    for row in rows:
        current, published = row.pop("current"), row.pop("published")
        if published:
            row["status"] = "current" if current else "published"
        else:  # a commit that died before its set was recorded: no reader ever saw it
            row["status"] = ("unpublished: unfinished commit (rolled back by the next commit)" if current
                             else "rolled back: unfinished commit")
        row["committed_at"] = row["committed_at"].isoformat(timespec="milliseconds")
        row["operation"] = f"{row.pop('genolake_operation') or '-'} ({row['operation']})"
        row.pop("parent_id")
        row.pop("commit_id")
    columns = ["snapshot_id", "committed_at", "operation", "source_file", "run_id", "rows_added", "rows_removed",
               "total_rows", "status"]
    _print(pa.Table.from_pylist([{c: r[c] for c in columns} for r in rows],
                                schema=pa.schema([(c, pa.int64() if c.startswith(("rows", "total", "snapshot"))
                                                   else pa.string()) for c in columns])), fmt)


@app.command()
def maintain(older_than: str = typer.Option("7d", help="Expire snapshots older than this (e.g. 7d, 12h, 0)"),
             retain_last: int = typer.Option(10, help="Always keep each table's newest N snapshots"),
             orphans_older_than: str = typer.Option("1d", help="Remove unreferenced files older than this "
                                                    "(a running ingest's files are younger)"),
             compact_min_files: int = typer.Option(2, help="Rewrite each partition holding at least this many data "
                                                   "files into one (0: no compaction)")):
    """Compact small files (each partition of many files into one), expire old snapshots and remove orphan files
    (data files of killed runs, leftovers of expired snapshots)."""
    import pandas as pd

    from resources.query import CatalogMissing

    try:
        age, orphan_age = pd.Timedelta(older_than).to_pytimedelta(), pd.Timedelta(orphans_older_than).to_pytimedelta()
    except ValueError as exc:
        _fail(ValueError(f"durations look like 7d, 12h, 30m or 0: {exc}"), 2)
    try:
        report = _lakehouse().maintain(age, retain_last, orphan_age, compact_min_files)
    except CatalogMissing as exc:
        _fail(exc, 2)
    rows = [{"table": name, "partitions_compacted": r["partitions_compacted"], "files_rewritten": r["files_rewritten"],
             "expired_snapshots": r["expired_snapshots"],
             "orphan_files_removed": r["orphan_files_removed"]} for name, r in report.items()]
    _print(pa.Table.from_pylist(rows), "table")


@app.command()
def report(cohort: Optional[str] = typer.Option(None, "--cohort", help=COHORT_HELP),
           limit: int = typer.Option(50, help="Rows to show"),
           fmt: str = FORMAT, as_of: str = AS_OF):
    """Print the pharmacogenomic drug-response report (recomputed from the newest data, or --as-of the snapshot
    set a stored report read: pass the report's own snapshot id)."""
    from resources.lakehouse import LakehouseError
    from resources.query import CatalogMissing

    from .transforms.report import COHORT_SIZE_SQL, drug_response_sql, with_inputs

    cohort = (cohort or "").strip() or mode.current().report_cohort
    engine = _engine()
    try:
        commit_set = engine.resolve(as_of)
        result = with_inputs(engine.query_at(drug_response_sql(), [cohort, limit], commit_set), commit_set.snapshots)
    except CatalogMissing as exc:
        _fail(exc, 2)
    except LakehouseError as exc:
        _fail(exc)
    if as_of:
        console.print(f"as of {commit_set.describe()}")
    if not result.num_rows:
        size = engine.query_at(COHORT_SIZE_SQL, [cohort], commit_set)["n"][0].as_py() or 0
        console.print(f"[yellow]! the report is empty:[/] " + (
            f"no sample ID matches the cohort {cohort!r}" if not size else
            f"none of the cohort's {size:,} samples' sites is a ClinVar drug-response variant"), soft_wrap=True)
    columns = ["rank", "rsid", "genotype", "frequency", "sample_count", "cohort_size", "gene_symbol", "phenotype_list"]
    if fmt == "table":
        result = result.set_column(result.column_names.index("phenotype_list"), "phenotype_list",
                                   pa.array([_shorten(p) for p in result["phenotype_list"].to_pylist()], pa.string()))
        out.print(f"[bold]Drug-response report[/] (cohort {cohort}, ClinVar clinical significance ~ 'response')")
        _print(result.select(columns), fmt)
    else:
        _print(result, fmt)


if __name__ == "__main__":
    app()
