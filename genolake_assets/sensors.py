"""Landing sensor: a partition and a run per new (or changed) landed file; the same content never runs twice."""


import json

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from resources.landing import LocalLandingZone, sha256_file
from resources.storage import LocalStorage

from .jobs import ingest_clinvar_job, ingest_vcf_job
from .layers.common import LOCATION_TAG, SHA_TAG
from .partitions import clinvar_releases_partitions, vcf_files_partitions


def _load_cursor(raw: str | None) -> dict:
    return json.loads(raw) if raw else {}


@sensor(
    name="landing_sensor",
    jobs=[ingest_vcf_job, ingest_clinvar_job],
    minimum_interval_seconds=5,  # listing a folder and hashing only new files: cheap
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches the landing zone: adds a partition per new VCF/ClinVar file and requests its ingest run. "
    "Run keys are '<partition>:<sha256>', so the same content dropped again is not run again; changed content is. "
    "Content already in the warehouse (for example ingested with the CLI) is skipped.",
)
def landing_sensor(context: SensorEvaluationContext, landing: LocalLandingZone, storage: LocalStorage):
    # The cursor remembers each file's (size, mtime) -> sha256, so unchanged files are not hashed again.
    seen = _load_cursor(context.cursor)
    known = {
        "vcf_files": set(context.instance.get_dynamic_partitions(vcf_files_partitions.name)),
        "clinvar_releases": set(context.instance.get_dynamic_partitions(clinvar_releases_partitions.name)),
    }
    runs, new_keys, next_seen = [], {"vcf_files": [], "clinvar_releases": []}, {}
    for landed in landing.list_files():
        stamp = [landed.size, landed.mtime]
        previous = seen.get(landed.location)
        sha = previous["sha256"] if previous and previous["stamp"] == stamp else sha256_file(landed.path)
        next_seen[landed.location] = {"stamp": stamp, "sha256": sha}
        partitions = "vcf_files" if landed.kind == "vcf" else "clinvar_releases"
        key = landed.partition_key
        if storage.is_published(landed.kind, key, sha):
            continue
        if key not in known[partitions] and key not in new_keys[partitions]:
            new_keys[partitions].append(key)
        runs.append(
            RunRequest(
                run_key=f"{key}:{sha}",
                job_name=(ingest_vcf_job if landed.kind == "vcf" else ingest_clinvar_job).name,
                partition_key=key,
                tags={LOCATION_TAG: landed.location, SHA_TAG: sha},
            )
        )
    requests = [
        AddDynamicPartitionsRequest(partitions_def_name=name, partition_keys=keys)
        for name, keys in new_keys.items()
        if keys
    ]
    if not runs:
        return SensorResult(skip_reason=SkipReason("no new or changed files in the landing zone"),
                            cursor=json.dumps(next_seen))
    # Dagster drops run requests whose run_key it has seen, so repeated ticks never duplicate a run.
    return SensorResult(run_requests=runs, dynamic_partitions_requests=requests, cursor=json.dumps(next_seen))
