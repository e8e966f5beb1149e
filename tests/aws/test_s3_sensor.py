"""The aws-mode landing sensor against moto: listing mode over 10,000+ objects, queue mode (S3 -> SQS notifications).

Dagster de-duplicates run requests by run_key; the tests keep the set of run keys 'already launched' exactly as the
daemon does (a request whose run_key was used is dropped) and apply the dynamic partition requests to the instance.

moto speed on this machine (2 cores, measured): 1,000 S3 PUTs over HTTP from 16 threads take ~6 s, so the 10,000-object
tests seed most objects straight into the moto server's S3 backend (the sensor still lists and receives everything
through the HTTP API; the backend's put_object sends moto's S3 -> SQS notifications itself) and upload the
interleaved, same-second and re-uploaded ones over HTTP. moto's SQS is O(n^2) in queued messages (~1 s per
ReceiveMessage at 1,000): the queue test makes two of moto's helpers compute the same answers faster
(``fast_moto_sqs``); genolake's calls are untouched.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context

from genolake_assets.layers.common import LOCATION_TAG
from genolake_assets.s3_sensor import ETAG_TAG, dump_cursor, load_cursor, max_runs, plan_listing, s3_landing_sensor
from resources.aws import client
from resources.s3_landing import LandedObject, S3LandingZone

ACCOUNT = "123456789012"  # moto's default account
BUCKET = "genolake-landing"
PREFIX = "incoming"


class Dagster:
    """What the daemon does with a tick's result: add partitions, launch runs whose run_key is new."""

    def __init__(self):
        self.instance = DagsterInstance.ephemeral()
        self.launched: list[str] = []
        self.used: set[str] = set()
        self.requested: list[str] = []
        self.requests_per_tick: list[int] = []
        self.partitions_added: Counter = Counter()
        self.partitions: dict[str, set] = {}  # mirror of the instance's dynamic partitions

    def tick(self, landing, cursor):
        context = build_sensor_context(cursor=cursor, resources={"landing": landing}, instance=self.instance)
        result = s3_landing_sensor(context)
        assert isinstance(result, SensorResult)
        return result

    def record(self, result):
        for request in result.dynamic_partitions_requests or ():
            known = self.partitions.setdefault(request.partitions_def_name, set())
            fresh = [k for k in request.partition_keys if k not in known]
            self.partitions_added.update(fresh)
            known.update(fresh)
            self.instance.add_dynamic_partitions(request.partitions_def_name, fresh)
        runs = result.run_requests or []
        self.requests_per_tick.append(len(runs))
        for run in runs:
            assert run.tags[LOCATION_TAG] == f"s3://{BUCKET}/{run.run_key.rsplit(':', 1)[0]}"
            assert run.tags[ETAG_TAG] == run.run_key.rsplit(":", 1)[1]
            assert run.partition_key in self.partitions[
                "vcf_files" if run.job_name == "ingest_vcf" else "clinvar_releases"]
            self.requested.append(run.run_key)
            if run.run_key not in self.used:
                self.used.add(run.run_key)
                self.launched.append(run.run_key)
        return result.cursor


def etag_of(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()


def names(n: int, start: int = 0):
    """A mix: mostly VCFs in folders, ClinVar releases, .tbi sidecars, files genolake does not take, partial uploads."""
    out = []
    for i in range(start, start + n):
        r = i % 20
        if r == 0:
            out.append(f"{PREFIX}/cohort{i % 7}/s{i}.vcf.gz.tbi")
        elif r == 1:
            out.append(f"{PREFIX}/clinvar/variant_summary_{i}.txt.gz")
        elif r == 2 and i % 40 == 2:
            out.append(f"{PREFIX}/notes/readme_{i}.md")
        elif r == 3 and i % 60 == 3:
            out.append(f"{PREFIX}/.uploading/s{i}.vcf.gz")  # partial upload folder: never listed
        else:
            out.append(f"{PREFIX}/cohort{i % 7}/s {i}+x.vcf.gz")  # a space and a plus: url-encoded in events
    return out


def takes(key: str) -> bool:
    return S3LandingZone.classify(key) in ("vcf", "clinvar") and "/." not in key


@pytest.fixture
def landing_bucket(aws):
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3


def seed_backend(keys, body=lambda key: key.encode()):
    """Put objects straight into moto's in-process S3 backend (fast); returns {key: etag}."""
    from moto.backends import get_backend

    backend = get_backend("s3")[ACCOUNT]["global"]
    return {key: backend.put_object(BUCKET, key, body(key)).etag.strip('"') for key in keys}


def upload(s3, keys, body=lambda key: key.encode(), threads=10):
    """Upload over HTTP, 10 at a time (botocore's connection pool size); returns {key: etag}."""
    def put(key):
        return key, s3.put_object(Bucket=BUCKET, Key=key, Body=body(key))["ETag"].strip('"')

    with ThreadPoolExecutor(threads) as pool:
        return dict(pool.map(put, keys))


# ---- listing mode ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_listing_mode_10k_objects_none_missed_none_duplicated(landing_bucket):
    s3 = landing_bucket
    cap = 2500
    landing = S3LandingZone(landing_uri=f"s3://{BUCKET}/{PREFIX}", max_runs_per_tick=cap)
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/README.txt", Body=b"drop files here")
    s3.put_object(Bucket=BUCKET, Key="elsewhere/x.vcf.gz", Body=b"outside the prefix")
    expected: dict[str, set] = {}  # key -> every etag that must run

    def expect(versions):
        for key, etag in versions.items():
            if takes(key):
                expected.setdefault(key, set()).add(etag)

    expect(seed_backend(names(9_700)))  # lands within a second or two: many objects share each second
    dagster, cursor, ticks = Dagster(), None, 0
    skipped = {k for k in names(9_700) if not takes(k)} | {f"{PREFIX}/README.txt"}

    def tick():
        nonlocal cursor, ticks
        cursor = dagster.record(dagster.tick(landing, cursor))
        ticks += 1
        return dagster.requests_per_tick[-1]

    assert tick() == cap  # backlog: the cap cuts through a second shared by many objects
    expect(upload(s3, names(300, start=9_700)))  # more land while the backlog drains
    assert tick() == cap
    # An upload whose LastModified is older than what the sensor has seen (a multipart upload carries its
    # initiation time): within the lookback it is still found.
    from moto.backends import get_backend

    late_key = f"{PREFIX}/late/multipart.vcf.gz"
    expect(seed_backend([late_key]))
    get_backend("s3")[ACCOUNT]["global"].get_object(BUCKET, late_key).last_modified -= timedelta(minutes=3)
    while tick():
        pass
    # Same second as the cursor's newest time: land objects, tick, then land more that carry the very same
    # LastModified second (moto's S3 clock pinned to it: a tick over 10k objects takes longer than a second here).
    import moto.s3.models

    first = upload(s3, [f"{PREFIX}/same/a{i}.vcf.gz" for i in range(5)])
    expect(first)
    newest = max(s3.head_object(Bucket=BUCKET, Key=k)["LastModified"] for k in first)
    assert tick() == 5
    real_clock = moto.s3.models.utcnow
    moto.s3.models.utcnow = lambda: newest.replace(tzinfo=None, microsecond=500_000)
    try:
        second = upload(s3, [f"{PREFIX}/same/b{i}.vcf.gz" for i in range(5)])
    finally:
        moto.s3.models.utcnow = real_clock
    expect(second)
    assert {s3.head_object(Bucket=BUCKET, Key=k)["LastModified"] for k in second} == {newest}
    # Re-uploads: one key with changed content (a new etag: must run once more), one identical (must not).
    changed_key, same_key = names(2, start=105)
    assert takes(changed_key) and takes(same_key)
    old_changed = next(iter(expected[changed_key]))
    expect(upload(s3, [changed_key], body=lambda key: b"new content"))
    expect(upload(s3, [same_key]))
    while tick():
        pass
    assert tick() == 0  # quiet: nothing new, nothing repeated

    wanted = {f"{key}:{etag}" for key, etags in expected.items() for etag in etags}
    launched = Counter(dagster.launched)
    assert len(wanted) >= 9_000
    assert set(launched) == wanted, (len(wanted - set(launched)), "missed", len(set(launched) - wanted), "extra")
    assert max(launched.values()) == 1
    assert len(dagster.requested) == len(dagster.launched)  # the sensor itself never repeated a request
    assert f"{changed_key}:{old_changed}" in launched and f"{changed_key}:{etag_of(b'new content')}" in launched
    assert sum(1 for k in launched if k.startswith(same_key + ":")) == 1  # identical re-upload: no new run
    assert not any(k.rsplit(":", 1)[0] in skipped for k in dagster.requested)
    assert not any(".uploading/" in k or k.startswith("elsewhere/") for k in dagster.requested)
    assert max(dagster.requests_per_tick) <= cap
    assert max(dagster.partitions_added.values()) == 1
    assert len(dagster.partitions_added) == len(expected)  # one partition per key, re-uploads reuse it
    assert len(load_cursor(cursor)["seen"]) <= 10_400  # only objects inside the lookback window
    print(f"\nlisting: {len(wanted)} runs in {ticks} ticks, cursor {len(cursor)} chars")


def test_naive_second_resolution_cursor_would_miss_objects():
    """The same planner with a plain 'LastModified > newest' cursor (what get_objects does) loses objects that share
    the cursor's second; plan_listing does not. Pure planning, no AWS."""
    t0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    first = [LandedObject(f"p/a{i}.vcf", f"s3://b/p/a{i}.vcf", f"e{i}", 1, t0, "vcf") for i in range(3)]
    later = [LandedObject(f"p/b{i}.vcf", f"s3://b/p/b{i}.vcf", f"f{i}", 1, t0, "vcf") for i in range(3)]
    plan = plan_listing(first, {}, max_runs=10, lookback=timedelta(minutes=10))
    plan2 = plan_listing(first + later, plan.cursor, max_runs=10, lookback=timedelta(minutes=10))
    assert sorted(r.run_key for r in plan2.run_requests) == [f"p/b{i}.vcf:f{i}" for i in range(3)]
    newest = max(o.last_modified for o in first)
    assert [o for o in first + later if o.last_modified > newest] == []  # the naive check finds none of them


def test_listing_planner_defers_beyond_cap_without_losing():
    t0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    objects = [LandedObject(f"p/{i:03}.vcf", f"s3://b/p/{i:03}.vcf", "e", 1, t0 + timedelta(seconds=i // 10), "vcf")
               for i in range(95)]
    cursor, got = {}, []
    for _ in range(20):  # 95 objects, 7 a tick: 14 ticks, then quiet
        plan = plan_listing(objects, cursor, max_runs=7, lookback=timedelta(minutes=10))
        assert len(plan.run_requests) <= 7
        got += [r.run_key for r in plan.run_requests]
        cursor = plan.cursor
    assert sorted(got) == sorted(f"{o.key}:e" for o in objects)  # each exactly once


# ---- queue mode ---------------------------------------------------------------------------------------------------
def _queue(visibility: int):
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="genolake-landing-events",
                           Attributes={"VisibilityTimeout": str(visibility)})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def _counts(sqs, url):
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_queue_mode_with_moto_s3_notifications(landing_bucket):
    s3 = landing_bucket
    sqs, url, arn = _queue(visibility=4)
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": [{
        "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"{PREFIX}/"}]}}}]})
    cap = 60
    landing = S3LandingZone(landing_uri=f"s3://{BUCKET}/{PREFIX}", queue_url=url, max_runs_per_tick=cap)
    keys = names(200)
    versions = upload(s3, keys)
    visible, _ = _counts(sqs, url)
    assert visible >= 190, "moto delivered no S3 event notifications"  # (.uploading/ keys notify too)
    wanted = {f"{k}:{e}" for k, e in versions.items() if takes(k)}

    dagster = Dagster()
    first = dagster.tick(landing, None)
    cursor = dagster.record(first)
    pending = load_cursor(cursor)["pending"]
    # cap messages received; index files, README-like names and partial uploads are deleted at once
    assert 0 < len(first.run_requests) <= cap and len(pending) == len(first.run_requests)
    _, invisible = _counts(sqs, url)
    assert invisible >= len(pending)  # received, not deleted: they wait for the next tick

    # A lost tick: evaluated, but its result (runs + cursor) never recorded. Its messages come back after the
    # visibility timeout and give the same run keys.
    lost = dagster.tick(landing, cursor)
    time.sleep(4.5)
    replay = dagster.tick(landing, cursor)  # the previous cursor again: same `pending` to delete
    lost_keys = {r.run_key for r in lost.run_requests}
    assert lost_keys and lost_keys <= {r.run_key for r in replay.run_requests}  # redelivered: same run keys
    cursor = dagster.record(replay)

    for _ in range(20):
        result = dagster.tick(landing, cursor)
        cursor = dagster.record(result)
        if not result.run_requests and not load_cursor(cursor)["pending"]:
            break
    launched = Counter(dagster.launched)
    assert set(launched) == wanted and max(launched.values()) == 1
    assert max(dagster.requests_per_tick) <= cap
    assert lost_keys <= set(launched)
    assert _counts(sqs, url) == (0, 0)  # every message deleted, after its request was recorded


@pytest.fixture
def fast_moto_sqs(monkeypatch):
    """moto's SQS re-reads every queued message several times per message it sends or receives (the queue's
    attributes, approximate counts included, are rebuilt to look up the retention period, and each message's
    visibility reads the clock through datetime arithmetic): O(n^2), ~1 s per ReceiveMessage at 1,000 queued
    messages. Same answers, computed once: the retention period read from the queue, the clock from time.time().
    The emulator gets faster; nothing genolake calls is replaced."""
    import moto.sqs.models as sqs_models

    original = sqs_models.unix_time_millis

    def unix_time_millis(dt=None):
        return time.time() * 1000.0 if dt is None else original(dt)

    def valid(self, queue_name, message):
        return self.get_queue(queue_name).message_retention_period + message.sent_timestamp / 1000 > time.time()

    monkeypatch.setattr(sqs_models, "unix_time_millis", unix_time_millis)
    monkeypatch.setattr(sqs_models.SQSBackend, "is_message_valid_based_on_retention_period", valid)


@pytest.mark.slow
def test_queue_mode_10k_objects_on_moto_none_missed_none_duplicated(landing_bucket, fast_moto_sqs):
    """10,200 objects land in waves (as a sequencing centre's uploads do) and moto's S3 sends one event each to
    moto's SQS; the sensor drains the queue through the HTTP API with a cap per tick. Includes a lost tick (its
    messages come back after the visibility timeout with the same run keys), objects landed in one second, a
    changed re-upload (runs once more) and an identical one (its event repeats a run key: no new run)."""
    s3 = landing_bucket
    sqs, url, arn = _queue(visibility=60)  # longer than a tick, as Terraform sets it
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": [{
        "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"{PREFIX}/"}]}}}]})
    cap = 700
    landing = S3LandingZone(landing_uri=f"s3://{BUCKET}/{PREFIX}", queue_url=url, max_runs_per_tick=cap)
    expected: set[str] = set()

    def expect(versions):
        expected.update(f"{k}:{e}" for k, e in versions.items() if takes(k))

    dagster, cursor, ticks, lost = Dagster(), None, 0, set()

    def drain():
        nonlocal cursor, ticks
        while True:
            result = dagster.tick(landing, cursor)
            cursor = dagster.record(result)
            ticks += 1
            if not result.run_requests and not load_cursor(cursor)["pending"]:
                return

    wave = 1_020
    for number in range(10):
        # seeded through moto's S3 backend: its put_object sends the S3 -> SQS notification itself
        expect(seed_backend(names(wave, start=number * wave)))
        if number == 0:
            expect(upload(s3, [f"{PREFIX}/same/a{i}.vcf.gz" for i in range(8)]))  # over HTTP, within a second
        if number == 3:  # a lost tick: evaluated, its result never recorded
            result = dagster.tick(landing, cursor)
            lost = {r.run_key for r in result.run_requests}
            assert 0 < len(lost) <= cap  # (the cap counts messages: skipped index files use some)
            handles = load_cursor(result.cursor)["pending"]
            for start in range(0, len(handles), 10):  # their visibility timeout runs out (the 200-object test waits
                sqs.change_message_visibility_batch(QueueUrl=url, Entries=[  # for a real one)
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(handles[start:start + 10])])
        drain()
    changed_key, same_key = names(2, start=105)
    assert takes(changed_key) and takes(same_key)
    expect(upload(s3, [changed_key], body=lambda key: b"new content"))
    upload(s3, [same_key])  # identical content: same etag, the event repeats a run key already launched
    drain()

    launched = Counter(dagster.launched)
    assert len(expected) >= 9_000
    assert set(launched) == expected, (len(expected - set(launched)), "missed", len(set(launched) - expected), "extra")
    assert max(launched.values()) == 1
    assert lost <= set(launched)
    assert f"{changed_key}:{etag_of(b'new content')}" in launched
    assert sum(1 for k in launched if k.startswith(same_key + ":")) == 1
    assert len(dagster.requested) == len(dagster.launched) + 1  # the identical re-upload's request, de-duplicated
    assert max(dagster.requests_per_tick) <= cap
    assert _counts(sqs, url) == (0, 0)  # every message deleted, after its request was recorded
    print(f"\nqueue: {len(expected)} runs from {len(dagster.requested)} requests in {ticks} ticks")


def test_remove_keeps_a_newer_upload(aws, landing_bucket, tmp_path):
    s3 = landing_bucket
    landing = S3LandingZone(landing_uri=f"s3://{BUCKET}/{PREFIX}", cache_dir=str(tmp_path / "cache"))
    local = tmp_path / "sample.vcf.gz"
    local.write_bytes(b"first")
    (tmp_path / "sample.vcf.gz.tbi").write_bytes(b"index")
    first = landing.land(str(local))
    assert first.location == f"s3://{BUCKET}/{PREFIX}/sample.vcf.gz" and first.kind == "vcf"
    fetched = landing.fetch(first)
    assert open(fetched, "rb").read() == b"first" and open(fetched + ".tbi", "rb").read() == b"index"
    assert landing.find(first.location) == first and landing.find("sample.vcf.gz") == first
    assert landing.find(first.partition_key) is None

    local.write_bytes(b"second")  # a newer upload under the same key
    second = landing.land(str(local))
    assert second.etag != first.etag
    assert landing.remove(first) is False
    assert landing.find(first.location).etag == second.etag
    assert s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}/sample.vcf.gz.tbi")
    assert landing.remove(second) is True
    assert landing.find(first.location) is None
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)


def test_cap_from_environment_and_cursor_round_trip():
    landing = S3LandingZone(landing_uri=f"s3://{BUCKET}/{PREFIX}", max_runs_per_tick=7)
    assert max_runs(landing, {}) == 7
    assert max_runs(landing, {"GENOLAKE_SENSOR_MAX_RUNS": "42"}) == 42
    with pytest.raises(ValueError, match="GENOLAKE_SENSOR_MAX_RUNS"):
        max_runs(landing, {"GENOLAKE_SENSOR_MAX_RUNS": "many"})
    small = {"since": None, "seen": {"a": "b"}}
    assert dump_cursor(small).startswith("{") and load_cursor(dump_cursor(small)) == small
    big = {"since": "2026-01-01T00:00:00+00:00", "seen": {f"{PREFIX}/k{i}.vcf.gz": etag_of(b"%d" % i) for i in range(5000)}}
    packed = dump_cursor(big)
    assert packed.startswith("z:") and load_cursor(packed) == big
