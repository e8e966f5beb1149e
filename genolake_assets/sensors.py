"""Landing sensor: a partition per new (or changed) landed file, new VCFs batched into runs over partition ranges;
the same content never runs twice. Policy sensor: the policy file observed on start and whenever it changes."""


import hashlib
import json

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from resources.governance import policy_path
from resources.landing import LocalLandingZone, sha256_file
from resources.storage import LocalStorage

from .jobs import BATCH_FILES, BATCH_TAG, RANGE_END, RANGE_START, ingest_clinvar_job, ingest_vcf_job
from .layers.common import LOCATION_TAG, SHA_TAG
from .layers.governance import policy_observation
from .partitions import clinvar_releases_partitions, vcf_files_partitions


def _load_cursor(raw: str | None) -> dict:
    """{"files": {location: {stamp, sha256}}, "batches": {run key: {"files": [[location, key, sha256]], ...}}};
    a cursor of an older genolake (the files map alone) is read as the files map."""
    loaded = json.loads(raw) if raw else {}
    if "files" not in loaded:
        loaded = {"files": loaded, "batches": {}}
    return loaded


def _batch_request(run_key: str, keys: list[str], count: int) -> RunRequest:
    return RunRequest(run_key=run_key, job_name=ingest_vcf_job.name,
                      tags={RANGE_START: keys[0], RANGE_END: keys[-1], BATCH_TAG: str(count)})


def _finished(instance, run_key: str) -> bool:
    runs = instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
    return bool(runs) and runs[0].is_finished


@sensor(
    name="landing_sensor",
    jobs=[ingest_vcf_job, ingest_clinvar_job],
    # listing a folder and hashing only new files is cheap: every loop of the daemon (5 s; see definitions.py)
    minimum_interval_seconds=1,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches the landing zone: adds a partition per new VCF/ClinVar file and requests its ingest run; "
    f"new VCFs found in the same tick are batched (one run over their partition range, up to {BATCH_FILES} files; "
    "a file the batch defers, a bad one, then runs on its own and is quarantined). Run keys are "
    "'<partition>:<sha256>' (a batch: 'batch:' + a hash of those), so the same content dropped again is not run "
    "again; changed content is. Content already in the warehouse (for example ingested with the CLI) is skipped.",
)
def landing_sensor(context: SensorEvaluationContext, landing: LocalLandingZone, storage: LocalStorage):
    # The cursor remembers each file's (size, mtime) -> sha256, so unchanged files are not hashed again, and the
    # batches requested until their run has finished.
    cursor = _load_cursor(context.cursor)
    seen = cursor["files"]
    known = {
        "vcf_files": set(context.instance.get_dynamic_partitions(vcf_files_partitions.name)),
        "clinvar_releases": set(context.instance.get_dynamic_partitions(clinvar_releases_partitions.name)),
    }
    runs, new_keys, next_seen, fresh = [], {"vcf_files": [], "clinvar_releases": []}, {}, []
    # A batch stays claimed (its request repeated: Dagster runs a run key once) until its run has finished;
    # then its files that are still not published (deferred by the batch) fall through to runs of their own.
    batches, claimed = {}, set()
    for run_key, batch in cursor["batches"].items():
        if _finished(context.instance, run_key):
            continue
        batches[run_key] = batch
        claimed |= {(location, sha) for location, _, sha in batch["files"]}
        runs.append(_batch_request(run_key, batch["keys"], len(batch["files"])))
    for landed in landing.list_files():
        stamp = [landed.size, landed.mtime]
        previous = seen.get(landed.location)
        sha = previous["sha256"] if previous and previous["stamp"] == stamp else sha256_file(landed.path)
        next_seen[landed.location] = {"stamp": stamp, "sha256": sha}
        partitions = "vcf_files" if landed.kind == "vcf" else "clinvar_releases"
        key = landed.partition_key
        if (landed.location, sha) in claimed or storage.is_published(landed.kind, key, sha):
            continue
        if key not in known[partitions] and key not in new_keys[partitions]:
            new_keys[partitions].append(key)
            if landed.kind == "vcf":
                fresh.append((landed, key, sha))  # a new VCF: batched with the other new ones of this tick
                continue
        runs.append(_single_request(landed, key, sha))
    for start in range(0, len(fresh), BATCH_FILES):
        chunk = fresh[start:start + BATCH_FILES]
        if len(chunk) == 1:
            runs.append(_single_request(*chunk[0]))
            continue
        run_key = "batch:" + hashlib.sha1("|".join(f"{k}:{sha}" for _, k, sha in chunk).encode()).hexdigest()
        batches[run_key] = {"files": [[f.location, k, sha] for f, k, sha in chunk], "keys": [k for _, k, _ in chunk]}
        runs.append(_batch_request(run_key, batches[run_key]["keys"], len(chunk)))
    # new VCF keys are added in the order of `fresh`, so each batch is a contiguous partition range
    requests = [
        AddDynamicPartitionsRequest(partitions_def_name=name, partition_keys=keys)
        for name, keys in new_keys.items()
        if keys
    ]
    next_cursor = json.dumps({"files": next_seen, "batches": batches})
    if not runs:
        return SensorResult(skip_reason=SkipReason("no new or changed files in the landing zone"), cursor=next_cursor)
    # Dagster drops run requests whose run_key it has seen, so repeated ticks never duplicate a run.
    return SensorResult(run_requests=runs, dynamic_partitions_requests=requests, cursor=next_cursor)


def _single_request(landed, key: str, sha: str) -> RunRequest:
    return RunRequest(
        run_key=f"{key}:{sha}",
        job_name=(ingest_vcf_job if landed.kind == "vcf" else ingest_clinvar_job).name,
        partition_key=key,
        tags={LOCATION_TAG: landed.location, SHA_TAG: sha},
    )


@sensor(
    name="policy_file_sensor",
    # a stat and the sha256 of a small file: every loop of the daemon, like the landing sensor
    minimum_interval_seconds=1,
    default_status=DefaultSensorStatus.RUNNING,
    description="Observes governance/policy_file (data version: the file's sha256) when the daemon starts and "
    "whenever the file changes, without a run. Declarative automation counts a never-observed source as missing "
    "and would never request governance/permissions; a new data version re-applies the policy.",
)
def policy_file_sensor(context: SensorEvaluationContext):
    # Compared with the newest recorded observation, not only with the cursor: an observation made elsewhere (the
    # UI's Observe) counts, and a wiped or never-made one is made again.
    try:
        path, version, observation = policy_observation(context.instance)
    except FileNotFoundError:
        return SensorResult(skip_reason=SkipReason(f"no policy file at {policy_path()}"), cursor=context.cursor)
    if observation is None:
        return SensorResult(skip_reason=SkipReason(f"policy unchanged ({version})"), cursor=version)
    context.log.info(f"policy file {path}: data version {observation.metadata['previous_version'].value} -> {version}")
    return SensorResult(asset_events=[observation], cursor=version,
                        # an observation needs no run: said so, not "the sensor function returned an empty result"
                        skip_reason=SkipReason(f"observed the policy file: data version {version}"))
