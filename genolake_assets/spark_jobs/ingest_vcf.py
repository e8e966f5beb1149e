"""Ingest one VCF as a cluster job: the same transform as the in-process path, reporting back through Pipes.

    spark-submit genolake_assets/spark_jobs/ingest_vcf.py \
        --input s3://raw-bucket/raw/vcf/<key>/<sha16>/<name>.vcf.gz --warehouse s3://warehouse-bucket/warehouse \
        --source-file <partition key> --source-path s3://landing-bucket/incoming/<name>.vcf.gz

Launched from Dagster (``PipesEMRServerlessClient``, or ``PipesSubprocessClient`` with spark-submit locally), the
arguments can come as Pipes extras instead (``input``, ``warehouse``, ``source_file``, ``source_path``). The job:

1. copies the input (and its .tbi/.csi) from S3 to the driver's disk and ships it to the executors with
   ``SparkContext.addFile``, so htslib reads a local file on every node;
2. runs ``transforms.vcf.ingest_vcf`` (one Spark task per region) into a local staging folder;
3. uploads the Parquet files under ``<warehouse>/<table>/data/...`` (the same relative paths the in-process path
   commits) and reports them, with rows, regions and warnings, as one Pipes custom message; a rejected file is
   reported with its reason (file, line, expected, found) for the asset to quarantine it.

It never commits: the asset that launched it validates the files and commits them to Iceberg in one snapshot
set, exactly as for the in-process path. S3 I/O goes through pyarrow's S3 filesystem, which honours
``AWS_ENDPOINT_URL`` (a moto server in the tests).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

import pyarrow.fs as pafs

MESSAGE = "genolake.ingest_vcf"  # resources/emr.py reads reports of this kind
INDEX_SUFFIXES = (".tbi", ".csi")


def _fs(uri: str):
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    return pafs.FileSystem.from_uri(uri)


def stage_input(uri: str, folder: str) -> str:
    """A local copy of ``uri`` (and its index) in ``folder``."""
    fs, path = _fs(uri)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, os.path.basename(path))
    for suffix in ("", *INDEX_SUFFIXES):
        if suffix and fs.get_file_info(path + suffix).type != pafs.FileType.File:
            continue
        pafs.copy_files(path + suffix, target + suffix, source_filesystem=fs,
                        destination_filesystem=pafs.LocalFileSystem())
    return target


def upload(files: list[dict], staging: str, warehouse: str) -> list[dict]:
    """Copy each staged data file to the same relative path under ``warehouse``; the file records with their
    final location."""
    fs, base = _fs(warehouse.rstrip("/"))
    local = pafs.LocalFileSystem()
    out = []
    for record in files:
        relative = os.path.relpath(record["path"], staging).replace(os.sep, "/")
        pafs.copy_files(record["path"], f"{base}/{relative}", source_filesystem=local, destination_filesystem=fs)
        out.append({**record, "path": f"{warehouse.rstrip('/')}/{relative}"})
    return out


def run(spark, input_uri: str, warehouse: str, source_file: str, source_path: str | None = None) -> dict:
    """Ingest ``input_uri`` into data files under ``warehouse``; the report the job sends through Pipes."""
    from genolake_assets.transforms.vcf import ingest_vcf
    from genolake_assets.transforms.vcf_validate import VcfRejected

    work = tempfile.mkdtemp(prefix="genolake-job-")
    try:
        local = stage_input(input_uri, os.path.join(work, "input"))
        if spark.sparkContext.master.split("[")[0] != "local":  # executors on other nodes need their own copy
            for suffix in ("", *INDEX_SUFFIXES):
                if os.path.exists(local + suffix):
                    spark.sparkContext.addFile(local + suffix)
        staging = os.path.join(work, "staging")
        try:
            stats = ingest_vcf(spark, local, staging, source_file, source_path=source_path or input_uri)
        except VcfRejected as exc:
            return {"status": "rejected", "source_file": source_file, "rejection": exc.to_dict()}
        files = upload(stats.files, staging, warehouse)
        return {
            "status": "ok",
            "source_file": source_file,
            "regions": stats.regions,
            "rows": {t: stats.rows(t) for t in ("sites", "calls", "samples")},
            "files": files,
            "warnings": stats.warnings,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def message_writer():
    """S3 when the launcher reads messages from a bucket (``PipesS3MessageReader``: EMR Serverless), else Pipes'
    default (a file or stdout: ``PipesSubprocessClient``)."""
    from dagster_pipes import PipesDefaultMessageWriter, PipesEnvVarParamsLoader, PipesS3MessageWriter

    loader = PipesEnvVarParamsLoader()
    if loader.is_dagster_pipes_process() and "bucket" in loader.load_messages_params():
        import boto3  # on the EMR image; honours AWS_ENDPOINT_URL

        return PipesS3MessageWriter(client=boto3.client("s3"), interval=5)
    return PipesDefaultMessageWriter()


def main(argv: list[str] | None = None) -> int:
    from dagster_pipes import open_dagster_pipes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("input", "warehouse", "source-file", "source-path"):
        parser.add_argument(f"--{name}")
    args = parser.parse_args(argv)
    with open_dagster_pipes(message_writer=message_writer()) as pipes:
        def arg(name: str):
            value = getattr(args, name.replace("-", "_"))
            extras = pipes.extras if isinstance(pipes.extras, dict) else {}  # a mock outside Dagster
            if value is None:
                value = extras.get(name.replace("-", "_"))
            return value

        missing = [n for n in ("input", "warehouse", "source-file") if not arg(n)]
        if missing:
            parser.error("missing " + ", ".join(f"--{n}" for n in missing))
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName(f"genolake-ingest-{arg('source-file')}").getOrCreate()
        report = run(spark, arg("input"), arg("warehouse"), arg("source-file"), arg("source-path"))
        pipes.report_custom_message({"kind": MESSAGE, **report})
        if report["status"] == "rejected":
            pipes.log.warning(report["rejection"].get("message") or report["rejection"].get("reason", "rejected"))
        else:
            pipes.log.info(f"{arg('input')}: " + ", ".join(f"{n:,} {t}" for t, n in report["rows"].items())
                           + f" in {report['regions']} region(s), {len(report['files'])} files")
        spark.stop()
        return 0  # a rejection is an answer (the asset quarantines the file), not a job failure


if __name__ == "__main__":
    sys.exit(main())
