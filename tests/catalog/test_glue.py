"""The Glue-catalog path of the Lakehouse against a real moto server on loopback: tables registered in Glue from
the contracts (ICEBERG, column comments), data and metadata on S3, a multi-table commit, replacing one source
file's rows, time travel by snapshot id and by time, the commit log's snapshot set, and orphan-file removal on S3.

Never talks to AWS: every client gets the loopback endpoint and fake credentials. moto's Glue ignores
``VersionId`` on update_table, so concurrency is not tested here (see docs/known-pitfalls)."""

import types
import uuid
from datetime import timedelta

import boto3
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from filelock import FileLock

import resources.lakehouse as lakehouse_module
from genolake_assets.transforms.tables import COMMIT_LOG, TABLES
from genolake_assets.transforms.vcf import FILE_SCHEMAS
from resources.lakehouse import SET_PREFIX, Change, Lakehouse

REGION = "us-east-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


# moto_endpoint / aws: the moto server fixtures shared by every AWS test (tests/aws/conftest.py)
from ..aws.conftest import _free_port, aws, moto_endpoint  # noqa: E402,F401


def _client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **KEYS)


def _s3fs(endpoint: str) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", access_key="testing", secret_key="testing",
                             region=REGION)


def _key(uri: str) -> str:
    assert uri.startswith("s3://"), uri
    return uri[len("s3://"):]


def _bucket(endpoint: str) -> str:
    bucket = f"genolake-test-{uuid.uuid4().hex[:8]}"
    _client("s3", endpoint).create_bucket(Bucket=bucket)
    return bucket


def _glue_lakehouse(bucket: str, tmp_path, **properties) -> Lakehouse:
    lakehouse = Lakehouse.glue(warehouse=f"s3://{bucket}/warehouse", database="genolake",
                               lock=FileLock(str(tmp_path / "lock")), **properties)
    lakehouse.ensure_tables()
    return lakehouse


# -- data files as the writers write them (transforms/vcf.py FILE_SCHEMAS) -------------------------------------


def _samples(key: str, ids: list[str]) -> list[dict]:
    return [{"sample_id": s, "sample_index": i, "source_path": f"s3://landing/{key}.vcf.gz", "source_file": key}
            for i, s in enumerate(ids)]


def _sites(key: str, chromosome: str, starts: list[int], alt: str = "T") -> list[dict]:
    return [{
        "start": start, "end": start + 1, "ref": "C", "alt": alt, "alt_index": 1, "n_alleles": 2,
        "rsid": f"rs{start}", "qual": 50.0, "filters": ["PASS"], "n_hom_ref": 1, "n_het": 1, "n_hom_alt": 0,
        "n_missing": 0, "ac": 1, "an": 4, "af": 0.25, "hom_ref_ploidy": 2, "hom_ref_phased": True,
        "info": [("DP", "10")], "source_file": key, "chromosome": chromosome,
    } for start in starts]


def _write(fs, lakehouse: Lakehouse, table: str, rows: list[dict], name: str) -> str:
    """One Parquet file holding exactly one partition's rows, under the table's data location on S3."""
    partition = "/".join(f"{c}={rows[0][c]}" for c in ("source_file", "chromosome") if c in rows[0])
    uri = f"{lakehouse.data_location(table)}/{partition}/{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=FILE_SCHEMAS[table]), _key(uri), filesystem=fs)
    return uri


def _rows(data: pa.Table, *order: str) -> list[dict]:
    return sorted(data.to_pylist(), key=lambda r: tuple(r[c] for c in order))


def _glue_type(contract_type: str) -> str:
    """The Glue spelling pyiceberg writes for a contract column: Iceberg has no 8/16-bit integers."""
    return contract_type.replace("smallint", "int").replace("tinyint", "int")


# -- tests -----------------------------------------------------------------------------------------------------


def test_glue_commit_replace_time_travel(aws, tmp_path):
    endpoint = aws
    bucket = _bucket(endpoint)
    lakehouse = _glue_lakehouse(bucket, tmp_path)
    fs = _s3fs(endpoint)
    assert lakehouse.data_location("samples") == f"s3://{bucket}/warehouse/samples/data"

    # first commit: two source files, sites and samples in one set
    a_samples, b_samples = _samples("a", ["A1", "A2"]), _samples("b", ["B1"])
    a_sites = _sites("a", "22", [100, 200]) + _sites("a", "X", [300])
    b_sites = _sites("b", "22", [100, 150], alt="G")
    first_files = {
        "sites": [_write(fs, lakehouse, "sites", _sites("a", "22", [100, 200]), "a1"),
                  _write(fs, lakehouse, "sites", _sites("a", "X", [300]), "a1"),
                  _write(fs, lakehouse, "sites", b_sites, "b1")],
        "samples": [_write(fs, lakehouse, "samples", a_samples, "a1"),
                    _write(fs, lakehouse, "samples", b_samples, "b1")],
    }
    first = lakehouse.commit([Change(t, files) for t, files in first_files.items()], operation="ingest")
    assert set(first.snapshots) == {"sites", "samples"}

    # second commit: replace source file "a" only (both of its sites partitions go, one new file comes)
    new_a_samples = _samples("a", ["A9", "A8", "A7"])
    new_a_sites = _sites("a", "22", [500], alt="A")
    second = lakehouse.commit([
        Change("sites", [_write(fs, lakehouse, "sites", new_a_sites, "a2")], {"source_file": "a"}),
        Change("samples", [_write(fs, lakehouse, "samples", new_a_samples, "a2")], {"source_file": "a"}),
    ], operation="ingest", source_file="a")
    assert second.snapshot("samples") != first.snapshot("samples")
    assert second.snapshot("sites") != first.snapshot("sites")

    # current rows: b untouched, a replaced
    assert lakehouse.current_set().commit_id == second.commit_id
    now_samples = lakehouse.read("samples", second.snapshot("samples"))
    assert now_samples.column_names == ["sample_id", "sample_index", "source_path", "source_file"]
    assert _rows(now_samples, "source_file", "sample_index") == new_a_samples + b_samples
    now_sites = lakehouse.read("sites", second.snapshot("sites"))
    assert _rows(now_sites, "source_file", "chromosome", "start") == new_a_sites + b_sites

    # the files of each snapshot are the S3 objects written; b's file is the same object in both sets
    files = lakehouse.files("samples", second.snapshot("samples"))
    assert [(f.path, f.records, f.partition) for f in files] == [
        (f"s3://{bucket}/warehouse/samples/data/source_file=a/a2.parquet", 3, {"source_file": "a"}),
        (first_files["samples"][1], 1, {"source_file": "b"}),
    ]
    assert all(f.bytes == fs.get_file_info(_key(f.path)).size for f in files)
    old_sites = lakehouse.files("sites", first.snapshot("sites"))
    assert sorted(f.path for f in old_sites) == sorted(first_files["sites"])
    assert {tuple(sorted(f.partition.items())) for f in old_sites} == {
        (("chromosome", "22"), ("source_file", "a")), (("chromosome", "X"), ("source_file", "a")),
        (("chromosome", "22"), ("source_file", "b"))}

    # time travel: by a table's snapshot id and by time, the first set and its rows
    assert lakehouse.set_as_of(str(first.snapshot("samples"))).commit_id == first.commit_id
    assert lakehouse.set_as_of(str(second.snapshot("sites"))).commit_id == second.commit_id
    assert lakehouse.set_as_of(first.committed_at.isoformat()).commit_id == first.commit_id
    then = lakehouse.set_as_of(str(first.snapshot("samples")))
    assert _rows(lakehouse.read("samples", then.snapshot("samples")), "source_file", "sample_index") == \
        a_samples + b_samples
    assert _rows(lakehouse.read("sites", then.snapshot("sites")), "source_file", "chromosome", "start") == \
        a_sites + b_sites
    assert [s.commit_id for s in lakehouse.sets()] == [first.commit_id, second.commit_id]

    # history: append, then the replace's delete + append, all published, last one current
    history = lakehouse.history("samples")
    assert [(h["operation"], h["genolake_operation"], h["source_file"], h["rows_added"], h["rows_removed"],
             h["total_rows"]) for h in history] == [
        ("append", "ingest", "", 3, 0, 3), ("delete", "ingest", "a", 0, 2, 1), ("append", "ingest", "a", 3, 0, 4)]
    assert [h["commit_id"] for h in history] == [first.commit_id, second.commit_id, second.commit_id]
    assert [h["current"] for h in history] == [False, False, True]
    assert all(h["published"] for h in history)
    assert history[0]["snapshot_id"] == first.snapshot("samples")
    assert history[-1]["snapshot_id"] == second.snapshot("samples")

    # the commit log's current snapshot records the set, and its rows say what changed
    log = lakehouse.table(COMMIT_LOG.name)
    summary = log.current_snapshot().summary.additional_properties
    assert summary["genolake.commit-id"] == second.commit_id
    assert {k[len(SET_PREFIX):]: int(v) for k, v in summary.items() if k.startswith(SET_PREFIX)} == second.snapshots
    entries = _rows(lakehouse.read(COMMIT_LOG.name, log.current_snapshot().snapshot_id), "committed_at")
    assert [e["commit_id"] for e in entries] == [first.commit_id, second.commit_id]
    assert dict(entries[-1]["snapshots"]) == second.snapshots
    assert entries[-1]["source_file"] == "a" and entries[-1]["operation"] == "ingest"
    assert dict(entries[-1]["rows_removed"]) == {"samples": 2, "sites": 3}
    assert dict(entries[-1]["rows_added"]) == {"samples": 3, "sites": 1}

    # Glue: every contract table is an ICEBERG table in database genolake pointing at the current metadata on
    # S3, with the contract's columns, types and comments
    glue, s3 = _client("glue", endpoint), _client("s3", endpoint)
    assert glue.get_database(Name="genolake")["Database"]["Name"] == "genolake"
    listed = {t["Name"] for page in glue.get_paginator("get_tables").paginate(DatabaseName="genolake")
              for t in page["TableList"]}
    assert listed == {*TABLES, COMMIT_LOG.name}
    for name, contract in [*TABLES.items(), (COMMIT_LOG.name, COMMIT_LOG)]:
        found = glue.get_table(DatabaseName="genolake", Name=name)["Table"]
        params = found["Parameters"]
        assert params["table_type"].upper() == "ICEBERG", name
        assert params["metadata_location"] == lakehouse.table(name).metadata_location, name
        assert params["metadata_location"].startswith(f"s3://{bucket}/warehouse/{name}/metadata/"), name
        s3.head_object(Bucket=bucket, Key=_key(params["metadata_location"]).split("/", 1)[1])
        # pyiceberg writes the table comment as a parameter; Glue's Description stays empty
        assert params["comment"] == contract.description, name
        assert found["StorageDescriptor"]["Location"] == f"s3://{bucket}/warehouse/{name}", name
        columns = found["StorageDescriptor"]["Columns"]
        assert [(c["Name"], c["Type"], c.get("Comment")) for c in columns] == \
            [(c.name, _glue_type(c.type), c.comment) for c in contract.all_columns], name


@pytest.mark.parametrize("endpoint_from", ["env", "properties"])
def test_remove_orphan_files_on_s3(aws, tmp_path, monkeypatch, endpoint_from):
    """Unreferenced files under a table's S3 location go (once old enough); every file any snapshot or metadata
    file refers to stays. 'properties': the S3 endpoint is a catalog property and the environment's S3 endpoint
    is a dead loopback port, so orphan removal must list S3 as the catalog's FileIO does."""
    endpoint = aws
    if endpoint_from == "properties":
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    bucket = _bucket(endpoint)
    extra = {"s3.endpoint": endpoint} if endpoint_from == "properties" else {}
    lakehouse = _glue_lakehouse(bucket, tmp_path, **extra)
    fs = _s3fs(endpoint)

    a1 = _write(fs, lakehouse, "samples", _samples("a", ["A1", "A2"]), "a1")
    b1 = _write(fs, lakehouse, "samples", _samples("b", ["B1"]), "b1")
    first = lakehouse.commit([Change("samples", [a1, b1])], operation="ingest")
    a2 = _write(fs, lakehouse, "samples", _samples("a", ["A9"]), "a2")
    second = lakehouse.commit([Change("samples", [a2], {"source_file": "a"})], operation="ingest", source_file="a")
    # a killed run's data file, and a stray object elsewhere under the table's location
    orphan = _write(fs, lakehouse, "samples", _samples("a", ["Z1"]), "killed-run")
    stray = f"{lakehouse.location('samples')}/metadata/stray.tmp"
    with fs.open_output_stream(_key(stray)) as out:
        out.write(b"not iceberg")

    s3 = _client("s3", endpoint)

    def objects(prefix):
        """Objects under ``prefix``, without the empty ``dir/`` markers pyarrow's S3 delete_file leaves for the
        parent 'directory' of a deleted file (harmless: listed as directories, never read)."""
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {f"s3://{bucket}/{o['Key']}" for page in pages for o in page.get("Contents", [])
                if not (o["Key"].endswith("/") and o["Size"] == 0)}

    before = objects("warehouse/")
    referenced = {f"s3://{p}" for name in [*TABLES, COMMIT_LOG.name]
                  for p in lakehouse._referenced(lakehouse.table(name))}
    assert {a1, b1, a2} <= referenced  # a1 is only in the first snapshot, still reachable
    assert before - referenced == {orphan, stray}

    # young orphans stay (a running writer's files)
    assert all(gone == [] for gone in lakehouse.remove_orphan_files(timedelta(minutes=30)).values())
    assert objects("warehouse/") == before

    # an hour later they are old enough: exactly the two orphans go
    clock = lakehouse_module.time.time
    monkeypatch.setattr(lakehouse_module, "time", types.SimpleNamespace(time=lambda: clock() + 3600,
                                                                       sleep=lakehouse_module.time.sleep))
    removed = lakehouse.remove_orphan_files(timedelta(minutes=30))
    assert sorted(removed["samples"]) == sorted([_key(orphan), _key(stray)])
    assert all(gone == [] for name, gone in removed.items() if name != "samples")
    assert objects("warehouse/") == before - {orphan, stray}

    # both sets still read in full from S3
    assert _rows(lakehouse.read("samples", second.snapshot("samples")), "source_file", "sample_index") == \
        _samples("a", ["A9"]) + _samples("b", ["B1"])
    assert _rows(lakehouse.read("samples", first.snapshot("samples")), "source_file", "sample_index") == \
        _samples("a", ["A1", "A2"]) + _samples("b", ["B1"])
