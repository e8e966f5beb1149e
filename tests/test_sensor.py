"""The landing sensor: a partition and a run per new file; same content never twice; changed content again."""

import json
import os

from dagster import DagsterInstance, build_sensor_context

from genolake_assets.jobs import BATCH_TAG, RANGE_END, RANGE_START
from genolake_assets.sensors import landing_sensor
from genolake_assets.transforms.naming import partition_key
from resources.landing import LocalLandingZone, sha256_file
from resources.storage import LocalStorage
from tests.conftest import CLINVAR, VCF_100, copy_with_index


def _tick(instance, landing, cursor=None):
    storage = LocalStorage(home=landing.home)
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"landing": landing, "storage": storage})
    return landing_sensor(context)


def test_new_files_changed_files_and_repeats(tmp_path):
    landing = LocalLandingZone(home=str(tmp_path))
    with DagsterInstance.ephemeral() as instance:
        empty = _tick(instance, landing)
        assert not empty.run_requests and empty.skip_reason

        copy_with_index(VCF_100, tmp_path / "landing" / "batch1")
        copy_with_index(CLINVAR, tmp_path / "landing")
        (tmp_path / "landing" / "notes.txt").write_text("not an input")
        first = _tick(instance, landing)
        by_job = {r.job_name: r for r in first.run_requests}
        assert set(by_job) == {"ingest_vcf", "ingest_clinvar"}  # the .tbi sidecar and notes.txt are no inputs
        vcf_key = partition_key(f"batch1/{VCF_100.name}")
        assert by_job["ingest_vcf"].partition_key == vcf_key
        assert by_job["ingest_vcf"].tags["genolake/location"] == f"batch1/{VCF_100.name}"
        added = {r.partitions_def_name: r.partition_keys for r in first.dynamic_partitions_requests}
        assert added == {"vcf_files": [vcf_key], "clinvar_releases": [partition_key(CLINVAR.name)]}

        # Same content again: identical run keys, which Dagster never launches twice.
        instance.add_dynamic_partitions("vcf_files", [vcf_key])
        again = _tick(instance, landing, first.cursor)
        assert {r.run_key for r in again.run_requests} == {r.run_key for r in first.run_requests}
        assert all(r.partition_keys == [] or r.partitions_def_name == "clinvar_releases"
                   for r in again.dynamic_partitions_requests)

        # The same bytes dropped again (new mtime) still hash to the same run key.
        path = tmp_path / "landing" / "batch1" / VCF_100.name
        os.utime(path, (1, 1))
        touched = _tick(instance, landing, again.cursor)
        assert {r.run_key for r in touched.run_requests} == {r.run_key for r in first.run_requests}

        # Changed content: same partition, new run key.
        path.write_bytes(path.read_bytes() + b"")
        with open(path, "ab") as handle:
            handle.write(b"\n")
        changed = _tick(instance, landing, touched.cursor)
        vcf_runs = [r for r in changed.run_requests if r.job_name == "ingest_vcf"]
        assert vcf_runs[0].partition_key == vcf_key
        assert vcf_runs[0].run_key != by_job["ingest_vcf"].run_key
        assert json.loads(changed.cursor)["files"][f"batch1/{VCF_100.name}"]["sha256"] in vcf_runs[0].run_key


def test_content_already_in_the_warehouse_is_not_run_again(tmp_path):
    """A file ingested through the CLI (raw copy published) is not re-run when the sensor starts later."""
    landing = LocalLandingZone(home=str(tmp_path))
    storage = LocalStorage(home=str(tmp_path))
    landed = landing.land(str(VCF_100))
    with DagsterInstance.ephemeral() as instance:
        assert len(_tick(instance, landing).run_requests) == 1
        sha = sha256_file(landed.path)
        storage.put_raw("vcf", landed.partition_key, landed.path, sha, VCF_100.name, landed.location)
        assert len(_tick(instance, landing).run_requests) == 1  # copied to raw but not yet parsed: still due
        storage.mark_published("vcf", landed.partition_key)
        assert _tick(instance, landing).run_requests == []
        with open(landed.path, "ab") as handle:  # new content under the same name: due again
            handle.write(b"\n")
        assert len(_tick(instance, landing).run_requests) == 1


def test_new_vcfs_of_a_tick_are_one_batch_run_and_what_it_defers_runs_alone(tmp_path):
    """Three new VCFs in one tick: one ingest_vcf run over their partition range (added in that order, so the range
    holds exactly them); repeated while its run has not finished; once it has, a file it did not publish (a
    deferred, bad one) gets a run of its own, and the published ones nothing."""
    landing = LocalLandingZone(home=str(tmp_path))
    storage = LocalStorage(home=str(tmp_path))
    for name in ("a.vcf.gz", "b.vcf.gz", "c.vcf.gz"):
        copy_with_index(VCF_100, tmp_path / "landing", name)
    with DagsterInstance.ephemeral() as instance:
        first = _tick(instance, landing)
        (batch,) = first.run_requests
        added = {r.partitions_def_name: list(r.partition_keys) for r in first.dynamic_partitions_requests}
        keys = added["vcf_files"]
        assert sorted(keys) == sorted(partition_key(n) for n in ("a.vcf.gz", "b.vcf.gz", "c.vcf.gz"))
        assert batch.job_name == "ingest_vcf" and batch.partition_key is None and batch.run_key.startswith("batch:")
        assert (batch.tags[RANGE_START], batch.tags[RANGE_END], batch.tags[BATCH_TAG]) == (keys[0], keys[-1], "3")
        instance.add_dynamic_partitions("vcf_files", keys)

        # not finished (not even started): the same request again, and no file on its own
        again = _tick(instance, landing, first.cursor)
        assert [r.run_key for r in again.run_requests] == [batch.run_key]

        # the batch ran: two files published, one deferred -> that one alone, keyed by its content
        published = [k for k in keys if k != partition_key("b.vcf.gz")]
        for key in published:
            _raw(storage, landing, key)
        _finished_run(instance, batch.run_key)
        after = _tick(instance, landing, again.cursor)
        (alone,) = after.run_requests
        assert alone.partition_key == partition_key("b.vcf.gz") and alone.run_key.startswith(alone.partition_key + ":")
        assert json.loads(after.cursor)["batches"] == {}


def _raw(storage, landing, key):
    landed = landing.find(key)
    storage.put_raw("vcf", key, landed.path, sha256_file(landed.path), landed.location, landed.location)
    storage.mark_published("vcf", key)


def _finished_run(instance, run_key):
    from dagster import job, op

    @op
    def nothing():
        return None

    @job
    def stand_in():
        nothing()

    assert stand_in.execute_in_process(instance=instance, tags={"dagster/run_key": run_key}).success


def test_the_cli_batches_are_contiguous_partition_ranges_of_at_most_the_batch_size(monkeypatch):
    """`genolake ingest` groups the landed VCFs into partition ranges: new keys (added together) form ranges of at
    most BATCH_FILES; a re-landed file whose key sits among older ones is a batch of its own."""
    from genolake_assets import cli
    from genolake_assets import jobs
    from resources.landing import LandedFile

    monkeypatch.setattr(jobs, "BATCH_FILES", 3)
    landed = [LandedFile(f"f{i}.vcf.gz", f"/x/f{i}.vcf.gz", 1, 0.0, "vcf") for i in range(8)]
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("vcf_files", [landed[0].partition_key, "older", landed[1].partition_key])
        instance.add_dynamic_partitions("vcf_files", [f.partition_key for f in landed[2:]])
        batches = cli._batches(instance, list(enumerate(landed, start=1)))
    assert [[number for number, _ in batch] for batch in batches] == [[1], [2, 3, 4], [5, 6, 7], [8]]
