"""The aws-mode landing sensor: a partition and a run per new (or changed) object under the S3 landing prefix.

Two modes, chosen by the ``landing`` resource:

* **listing** (no queue): each tick pages through the prefix (ListObjectsV2) and plans with ``plan_listing``. S3
  LastModified has one-second resolution and a multipart upload carries its *initiation* time, so a plain
  "LastModified > cursor" check (what ``dagster_aws.s3.sensor.get_objects`` does) loses objects landing in the
  cursor's second or finishing late. The cursor instead holds a high-water mark ``since`` (newest LastModified
  processed minus ``lookback_seconds``) and ``seen`` = {key: etag prefix} for every processed object with
  LastModified >= since; an object is new when LastModified >= since and its (key, etag) is not in ``seen``.
  Uploads that finish more than the lookback after they started are only caught by queue mode.
* **queue** (``landing.queue_url``): S3 event notifications on SQS. A tick first deletes the messages whose run
  requests the previous tick returned (their receipt handles are the cursor's ``pending``: Dagster stores a tick's
  run requests and its cursor together, so a message is deleted only after its request is recorded), then
  receives up to the cap and requests runs. A message redelivered after a lost tick gives the same run keys.

Both modes: new objects in (LastModified, key) order, at most ``max_runs_per_tick`` runs a tick (the rest come next
tick, nothing lost); ``run_key = "<key>:<etag>"`` so a repeated tick or an identical re-upload never runs twice and
changed content runs once; index files and unknown keys are logged and skipped.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from resources.s3_landing import LandedObject, QueueMessage, S3LandingZone

from .jobs import ingest_clinvar_job, ingest_vcf_job
from .layers.common import LOCATION_TAG
from .partitions import clinvar_releases_partitions, vcf_files_partitions
from .transforms import naming

ETAG_TAG = "genolake/etag"
MAX_RUNS_ENV = "GENOLAKE_SENSOR_MAX_RUNS"
COMPRESS_ABOVE = 16_384  # cursor characters; bigger cursors are stored zlib-compressed ("z:" + base64)
PARTITIONS = {"vcf": vcf_files_partitions.name, "clinvar": clinvar_releases_partitions.name}
JOBS = {"vcf": ingest_vcf_job.name, "clinvar": ingest_clinvar_job.name}


# ---- cursor ----------------------------------------------------------------------------------------------------
def load_cursor(raw: Optional[str]) -> dict:
    if not raw:
        return {}
    if raw.startswith("z:"):
        raw = zlib.decompress(base64.b64decode(raw[2:])).decode("utf-8")
    return json.loads(raw)


def dump_cursor(cursor: dict) -> str:
    text = json.dumps(cursor, separators=(",", ":"), sort_keys=True)
    if len(text) <= COMPRESS_ABOVE:
        return text
    return "z:" + base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def max_runs(landing: S3LandingZone, environ=None) -> int:
    environ = os.environ if environ is None else environ
    value = (environ.get(MAX_RUNS_ENV) or "").strip()
    if value:
        try:
            cap = int(value)
        except ValueError as exc:
            raise ValueError(f"{MAX_RUNS_ENV}={value!r}: expected a positive integer") from exc
    else:
        cap = landing.max_runs_per_tick
    if cap < 1:
        raise ValueError(f"max runs per tick must be >= 1 (got {cap})")
    return cap


# ---- planning (pure) ---------------------------------------------------------------------------------------------
@dataclass
class Plan:
    run_requests: list = field(default_factory=list)
    new_partitions: dict = field(default_factory=lambda: {name: [] for name in PARTITIONS.values()})
    skipped: list = field(default_factory=list)  # (location, reason)
    deferred: int = 0  # new objects left for the next tick (cap reached)
    cursor: dict = field(default_factory=dict)
    release: list = field(default_factory=list)  # queue mode: received but not taken (made visible again)
    ack_now: list = field(default_factory=list)  # queue mode: messages with nothing to run (delete at once)

    def partition_requests(self) -> list:
        return [AddDynamicPartitionsRequest(partitions_def_name=name, partition_keys=keys)
                for name, keys in self.new_partitions.items() if keys]

    def request(self, key: str, location: str, etag: str, kind: str, known: dict) -> RunRequest:
        partition = naming.partition_key(location)
        definition = PARTITIONS[kind]
        if partition not in known.get(definition, ()) and partition not in self.new_partitions[definition]:
            self.new_partitions[definition].append(partition)
        run = RunRequest(run_key=f"{key}:{etag}", job_name=JOBS[kind], partition_key=partition,
                         tags={LOCATION_TAG: location, ETAG_TAG: etag})
        self.run_requests.append(run)
        return run


def _tag(etag: str) -> str:
    """What ``seen`` keeps of an ETag: its first 12 hex digits (48 bits; a changed re-upload of the same key
    colliding is ~1 in 3e14). Run keys always carry the full ETag. A 10k-object burst keeps the cursor ~3x smaller."""
    return etag[:12]


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def plan_listing(objects: Iterable[LandedObject], cursor: dict, *, max_runs: int, lookback: timedelta,
                 known: dict | None = None) -> Plan:
    """Which listed objects to request this tick, and the next cursor. ``known``: partition keys already added,
    per dynamic partitions definition name."""
    known = known or {}
    since = datetime.fromisoformat(cursor["since"]) if cursor.get("since") else None
    seen: dict = cursor.get("seen", {})
    listed = list(objects)
    in_window = [o for o in listed if since is None or o.last_modified >= since]
    new = sorted((o for o in in_window if seen.get(o.key) != _tag(o.etag)), key=lambda o: (o.last_modified, o.key))

    plan = Plan()
    processed: set = set()
    newest = None
    for index, obj in enumerate(new):
        kind = S3LandingZone.classify(obj.key)
        if kind not in PARTITIONS:
            plan.skipped.append((obj.location, kind))
        elif len(plan.run_requests) >= max_runs:
            plan.deferred = len(new) - index  # these stay out of `seen`: they are new again next tick
            break
        else:
            plan.request(obj.key, obj.location, obj.etag, kind, known)
        processed.add((obj.key, obj.etag))
        newest = obj.last_modified

    next_since = since
    if newest is not None:
        candidate = newest - lookback
        next_since = candidate if next_since is None else max(next_since, candidate)
    next_seen = {
        o.key: _tag(o.etag)
        for o in in_window
        if (next_since is None or o.last_modified >= next_since)
        and (seen.get(o.key) == _tag(o.etag) or (o.key, o.etag) in processed)
    }
    plan.cursor = {"since": _iso(next_since) if next_since else None, "seen": next_seen}
    return plan


def plan_queue(messages: Iterable[QueueMessage], *, max_runs: int, known: dict | None = None) -> Plan:
    """Run requests for received S3 event messages. Messages whose requests are returned go to ``pending``
    (deleted next tick); messages with nothing to run are deleted at once; messages beyond the cap are released."""
    known = known or {}
    messages = list(messages)
    plan = Plan()
    pending: list = []
    batch: set = set()  # (key, etag) requested this tick
    for position, message in enumerate(messages):
        wanted: dict = {}
        takes = False  # does the message carry anything to run (maybe already requested by another message)?
        for obj in message.objects:
            kind = S3LandingZone.classify(obj.key)
            if kind not in PARTITIONS:
                plan.skipped.append((obj.location, kind))
                continue
            takes = True
            if (obj.key, obj.etag) not in batch:
                wanted.setdefault((obj.key, obj.etag), (obj, kind))
        if len(plan.run_requests) + len(wanted) > max_runs:
            rest = messages[position:]
            plan.release.extend(m.receipt_handle for m in rest)
            plan.deferred = sum(len(m.objects) for m in rest)
            break
        plan.skipped.extend((message.message_id, reason) for reason in message.ignored)
        for (key, etag), (obj, kind) in sorted(wanted.items()):
            batch.add((key, etag))
            plan.request(obj.key, obj.location, obj.etag, kind, known)
        (pending if takes else plan.ack_now).append(message.receipt_handle)
    plan.cursor = {"pending": pending}
    return plan


# ---- the sensor ----------------------------------------------------------------------------------------------------
def _known_partitions(context: SensorEvaluationContext) -> dict:
    return {name: set(context.instance.get_dynamic_partitions(name)) for name in PARTITIONS.values()}


def _log_skipped(context: SensorEvaluationContext, skipped: list, limit: int = 20) -> None:
    for location, reason in skipped[:limit]:
        context.log.info(f"skipped {location}: {reason}")
    if len(skipped) > limit:
        context.log.info(f"skipped {len(skipped) - limit} more (index files, unknown names, other events)")


def listing_tick(context: SensorEvaluationContext, landing: S3LandingZone, cursor: dict) -> tuple[Plan, str]:
    plan = plan_listing(landing.list_objects(), cursor, max_runs=max_runs(landing),
                        lookback=timedelta(seconds=landing.lookback_seconds), known=_known_partitions(context))
    return plan, "no new or changed objects under " + landing.landing_uri


def queue_tick(context: SensorEvaluationContext, landing: S3LandingZone, cursor: dict) -> tuple[Plan, str]:
    # The previous tick's requests are recorded (we got its cursor back): its messages can go now.
    failures = landing.delete(list(cursor.get("pending", [])))
    for failure in failures:
        context.log.warning(f"could not delete a queue message ({failure['code']}: {failure['message']}); "
                            "if it comes back, its run key de-duplicates it")
    plan = plan_queue(landing.receive(max_runs(landing)), max_runs=max_runs(landing),
                      known=_known_partitions(context))
    if plan.ack_now:
        for failure in landing.delete(plan.ack_now):
            context.log.warning(f"could not delete a queue message ({failure['code']}: {failure['message']})")
    if plan.release:
        landing.release(plan.release)
    return plan, "no new S3 events on " + str(landing.queue_url)


@sensor(
    name="s3_landing_sensor",
    jobs=[ingest_vcf_job, ingest_clinvar_job],
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches the S3 landing prefix (listing it, or reading its SQS event queue when one is configured): "
    "adds a partition per new VCF/ClinVar object and requests its ingest run. Run keys are '<key>:<etag>', so a "
    "repeated tick or an identical re-upload never runs twice; changed content runs once. At most "
    f"{MAX_RUNS_ENV} (default 500) runs a tick; the rest follow on the next ticks.",
)
def s3_landing_sensor(context: SensorEvaluationContext, landing: S3LandingZone):
    cursor = load_cursor(context.cursor)
    tick = queue_tick if landing.queue_url else listing_tick
    plan, idle = tick(context, landing, cursor)
    _log_skipped(context, plan.skipped)
    if plan.deferred:
        context.log.info(f"{len(plan.run_requests)} runs requested (the cap); {plan.deferred} more next tick")
    next_cursor = dump_cursor(plan.cursor)
    if not plan.run_requests:
        return SensorResult(skip_reason=SkipReason(idle), cursor=next_cursor)
    # Dagster drops run requests whose run_key it has seen, so repeated ticks never duplicate a run.
    return SensorResult(run_requests=plan.run_requests, dynamic_partitions_requests=plan.partition_requests(),
                        cursor=next_cursor)
