"""Iceberg upkeep through the Dagster `maintenance` job: old snapshots expired (the newest N and the current set
kept), orphan files removed, what was removed recorded on the table's asset; time travel to an expired snapshot
says so."""

import os
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterInstance

from resources.catalog import IcebergCatalog, local_lakehouse
from resources.lakehouse import Change, LakehouseError
from resources.query import DuckDBQueryEngine


def _samples_file(lakehouse, key: str, names: list[str], tag: str) -> str:
    folder = os.path.join(lakehouse.data_location("samples"), f"source_file={key}")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"part-{tag}.parquet")
    pq.write_table(pa.table({"sample_id": names, "sample_index": pa.array(range(len(names)), pa.int32()),
                             "source_path": [f"{key}.vcf"] * len(names), "source_file": [key] * len(names)}), path)
    return path


def test_maintenance_job_expires_snapshots_and_removes_orphans(home):
    from genolake_assets.definitions import defs

    lakehouse = local_lakehouse(str(home))
    lakehouse.ensure_tables()
    first = lakehouse.commit([Change("samples", [_samples_file(lakehouse, "a", ["S1"], "1")], {"source_file": "a"})],
                             operation="ingest", source_file="a")
    lakehouse.commit([Change("samples", [_samples_file(lakehouse, "a", ["S1", "S2"], "2")], {"source_file": "a"})],
                     operation="ingest", source_file="a")
    lakehouse.commit([Change("samples", [_samples_file(lakehouse, "b", ["S3"], "3")], {"source_file": "b"})],
                     operation="ingest", source_file="b")
    orphan = _samples_file(lakehouse, "a", ["never", "committed"], "killed-run")
    old_file = lakehouse.files("samples", first.snapshot("samples"))[0].path
    engine = DuckDBQueryEngine(home=str(home))
    assert engine.query("SELECT count(*) AS n FROM genolake.samples", as_of=str(first.snapshot("samples"))
                        ).to_pylist() == [{"n": 1}]
    before = len(lakehouse.history("samples"))
    assert before == 4  # append a; delete a + append a; append b
    time.sleep(0.01)

    config = {"ops": {"expire_and_remove_orphans": {"config": {
        "snapshot_max_age_hours": 0, "retain_last": 1, "orphan_min_age_hours": 0}}}}
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    instance = DagsterInstance.get()
    # the resources of this home (definitions may have been imported with another GENOLAKE_HOME)
    result = defs.get_job_def("maintenance").execute_in_process(
        run_config=config, instance=instance, resources={"catalog": IcebergCatalog(home=str(home))})
    assert result.success

    assert len(lakehouse.history("samples")) == 1  # only what the current set reads is left
    assert not os.path.exists(orphan)  # the killed run's file
    assert not os.path.exists(old_file.removeprefix("file://"))  # a file only expired snapshots used
    assert engine.query("SELECT sample_id FROM genolake.samples ORDER BY 1").to_pylist() == \
        [{"sample_id": "S1"}, {"sample_id": "S2"}, {"sample_id": "S3"}]
    with pytest.raises(LakehouseError, match="no longer exists|no recorded snapshot set"):
        engine.query("SELECT count(*) FROM genolake.samples", as_of=str(first.snapshot("samples")))

    observed = instance.fetch_observations(AssetKey(["catalog", "samples"]), limit=1).records[0]
    metadata = observed.asset_observation.metadata
    assert metadata["expired_snapshots"].value == before - 1
    removed = metadata["removed"].value.splitlines()
    assert metadata["orphan_files_removed"].value == len(removed)
    # both data files, and the manifests of the expired snapshots; never a file the current set reads
    assert {os.path.basename(p) for p in removed if p.endswith(".parquet")} == {"part-killed-run.parquet",
                                                                                "part-1.parquet"}
    assert any(p.endswith(".avro") for p in removed)
