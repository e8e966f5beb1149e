"""The cluster job entry point (`genolake_assets/spark_jobs/ingest_vcf.py`) launched the way an asset launches it:
through Dagster Pipes, here with `spark-submit` on this machine (PipesSubprocessClient) against the moto server's
S3 instead of EMR Serverless. Its data files, read back from S3, must hold exactly the rows the in-process path
writes for the same file, at the same relative paths; a rejected file comes back as a reason, not as files."""

import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from dagster import AssetExecutionContext, PipesSubprocessClient, asset, materialize

from genolake_assets.transforms.vcf import ingest_vcf
from resources.aws import client

from ..conftest import ROOT, VCF_CYP2D6

pytestmark = pytest.mark.slow
JOB = ROOT / "genolake_assets" / "spark_jobs" / "ingest_vcf.py"
BAD = ROOT / "data" / "edge_cases" / "hts-specs-vcf43" / "failed" / "failed_body_sample_001.vcf"


def _submit(endpoint: str, input_uri: str, source_file: str, source_path: str) -> list[dict]:
    """Materialize an asset that launches the job through Pipes; the job's custom messages."""
    spark_submit = str(Path(sys.executable).with_name("spark-submit"))
    messages = []

    @asset
    def launched(context: AssetExecutionContext, pipes: PipesSubprocessClient):
        run = pipes.run(
            command=[spark_submit, "--master", "local[2]", "--conf", "spark.ui.enabled=false",
                     "--conf", "spark.driver.host=127.0.0.1", str(JOB)],
            context=context,
            extras={"input": input_uri, "warehouse": "s3://job-warehouse/warehouse", "source_file": source_file,
                    "source_path": source_path},
            env={k: v for k, v in os.environ.items() if k.startswith("AWS_")}
            | {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"},
        )
        messages.extend(run.get_custom_messages())
        return run.get_materialize_result()

    result = materialize([launched], resources={"pipes": PipesSubprocessClient()}, raise_on_error=True)
    assert result.success
    return messages


def _rows(paths: list[str], fs=None) -> list[dict]:
    tables = [pq.read_table(p, filesystem=fs) for p in paths]
    data = pa.concat_tables([t.cast(tables[0].schema) for t in tables]) if tables else pa.table({})
    return sorted((tuple(sorted(r.items())) for r in data.to_pylist()), key=repr)


def test_the_pipes_job_writes_what_the_in_process_path_writes(aws, spark, tmp_path):
    s3 = client("s3")
    for bucket in ("job-raw", "job-warehouse"):
        s3.create_bucket(Bucket=bucket)
    for suffix in ("", ".tbi"):
        s3.upload_file(str(VCF_CYP2D6) + suffix, "job-raw", f"raw/vcf/cyp2d6/{VCF_CYP2D6.name}{suffix}")
    key, where = "cyp2d6-key", f"s3://landing/incoming/{VCF_CYP2D6.name}"

    messages = _submit(aws, f"s3://job-raw/raw/vcf/cyp2d6/{VCF_CYP2D6.name}", key, where)
    assert len(messages) == 1 and messages[0]["kind"] == "genolake.ingest_vcf"
    report = messages[0]
    assert report["status"] == "ok" and report["rows"] == {"sites": 653, "calls": 288061, "samples": 2504}

    staging = tmp_path / "in-process"
    stats = ingest_vcf(spark, str(VCF_CYP2D6), str(staging), key, source_path=where)
    assert {t: stats.rows(t) for t in ("sites", "calls", "samples")} == report["rows"]
    s3fs = pafs.S3FileSystem(endpoint_override=aws, scheme="http", access_key="testing", secret_key="testing",
                             region="us-east-1")
    prefix = "s3://job-warehouse/warehouse/"
    assert all(f["path"].startswith(prefix) for f in report["files"])

    def layout(path: str, root: str) -> str:  # <table>/data/source_file=<key>/chromosome=<c>/ (file names are per run)
        return os.path.dirname(os.path.relpath(path, root))

    for table in ("sites", "calls", "samples"):
        theirs = [f["path"] for f in report["files"] if f["table"] == table]
        mine = [f["path"] for f in stats.files if f["table"] == table]
        assert sorted({layout(p[len("s3://"):], "job-warehouse/warehouse") for p in theirs}) == \
            sorted({layout(p, str(staging)) for p in mine}), table
        job_rows = _rows([p[len("s3://"):] for p in theirs], s3fs)
        assert len(job_rows) == report["rows"][table]
        assert job_rows == _rows(mine), table


def test_a_rejected_file_comes_back_with_its_reason(aws, tmp_path):
    s3 = client("s3")
    for bucket in ("job-raw", "job-warehouse"):
        s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(BAD), "job-raw", f"raw/vcf/bad/{BAD.name}")
    messages = _submit(aws, f"s3://job-raw/raw/vcf/bad/{BAD.name}", "bad-key", f"s3://landing/incoming/{BAD.name}")
    assert [m["status"] for m in messages] == ["rejected"]
    rejection = messages[0]["rejection"]
    assert rejection["file"].endswith(BAD.name) and rejection["line"] and rejection["reason"]
    # nothing was written to the warehouse
    assert s3.list_objects_v2(Bucket="job-warehouse").get("KeyCount", 0) == 0
