"""Spark at scale: the VCF transform as an EMR Serverless job run, launched and read back through Dagster Pipes.

``VcfClusterJob`` is the resource the processed asset asks where to run the transform. Unconfigured (local mode, or
aws mode without ``GENOLAKE_EMR_APPLICATION_ID``) it is disabled and the asset runs the transform in its own Spark.
Configured, ``run`` starts ``<jobs>/ingest_vcf.py`` on the EMR Serverless application with ``PipesEMRServerlessClient``
(Dagster's context goes in through the driver's environment, the job's messages come back through S3 under
``<jobs>/pipes/``) and returns the job's report: rows, files (already on S3 under the warehouse), warnings, or the
rejection. The asset validates and commits those files exactly as it does its own.

``job_archive`` / ``upload_job`` put the job where the application reads it (``genolake upload-job``): the entry
point and a zip of the transform packages (``--py-files``). The packages import no Dagster; the job needs only
``dagster-pipes``, pyarrow, numpy and cyvcf2 on the cluster image (README: Run on AWS).
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from dagster import ConfigurableResource, Failure

from .aws import aws_errors, client, split_uri

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINT = ROOT / "genolake_assets" / "spark_jobs" / "ingest_vcf.py"
ARCHIVE = "genolake_job.zip"
# what the job imports from this repository (no Dagster, no resources): the transforms and the entry point's package
PACKAGES = ("genolake_assets/__init__.py", "genolake_assets/transforms", "genolake_assets/spark_jobs")
MESSAGE = "genolake.ingest_vcf"  # the custom message kind the entry point reports (spark_jobs/ingest_vcf.py)


def job_archive() -> bytes:
    """The zip the job gets with ``--py-files``: the transform packages, byte-for-byte as in this checkout."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in PACKAGES:
            path = ROOT / entry
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*.py"))
            for file in files:
                info = zipfile.ZipInfo(file.relative_to(ROOT).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, file.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def upload_job(jobs_uri: str, region: str | None = None) -> dict[str, str]:
    """Upload the entry point and the archive under ``jobs_uri``; their URIs."""
    bucket, prefix = split_uri(jobs_uri, "GENOLAKE_JOBS_URI")
    s3 = client("s3", region)
    uploaded = {}
    for name, body in (("ingest_vcf.py", ENTRY_POINT.read_bytes()), (ARCHIVE, job_archive())):
        key = f"{prefix}/{name}" if prefix else name
        with aws_errors(f"uploading s3://{bucket}/{key}"):
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        uploaded[name] = f"s3://{bucket}/{key}"
    return uploaded


def _pipes_client(**kwargs):
    """A ``PipesEMRServerlessClient`` for messages through S3 (the job writes them with PipesS3MessageWriter; the
    reader polls the bucket for the whole session). The stock client only wires CloudWatch after the run and warns,
    wrongly here, that no messages will arrive; its post-run step is not needed with an S3 reader, so it is skipped."""
    from dagster_aws.pipes import PipesEMRServerlessClient

    class PipesEMRServerlessS3Client(PipesEMRServerlessClient):
        def _read_messages(self, context, session, response):
            return None

    return PipesEMRServerlessS3Client(**kwargs)


class VcfClusterJob(ConfigurableResource):
    """Where the VCF transform runs: in the asset's own Spark (``application_id`` empty) or as an EMR Serverless
    job run (``GENOLAKE_EMR_APPLICATION_ID``, ``GENOLAKE_EMR_EXECUTION_ROLE_ARN``, ``GENOLAKE_JOBS_URI``)."""

    application_id: str = ""
    execution_role_arn: str = ""
    jobs_uri: str = ""  # s3://bucket/prefix holding ingest_vcf.py and genolake_job.zip (genolake upload-job)
    region: str = ""
    spark_submit_parameters: str = ("--conf spark.executor.cores=4 --conf spark.executor.memory=16g "
                                    "--conf spark.dynamicAllocation.maxExecutors=50")
    poll_interval: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.application_id)

    def _uri(self, name: str) -> str:
        return f"{self.jobs_uri.rstrip('/')}/{name}"

    def start_job_run_params(self, source_file: str) -> dict:
        """The StartJobRun request (Pipes adds its tags and the driver's environment)."""
        bucket, prefix = split_uri(self.jobs_uri, "GENOLAKE_JOBS_URI")
        return {
            "applicationId": self.application_id,
            "executionRoleArn": self.execution_role_arn,
            "name": f"genolake-ingest-{source_file}"[:256],
            "jobDriver": {"sparkSubmit": {
                "entryPoint": self._uri("ingest_vcf.py"),
                "sparkSubmitParameters": f"--py-files {self._uri(ARCHIVE)} {self.spark_submit_parameters}".strip(),
            }},
            "configurationOverrides": {"monitoringConfiguration": {"s3MonitoringConfiguration": {
                "logUri": f"s3://{bucket}/{prefix + '/' if prefix else ''}logs/"}}},
        }

    def run(self, context, *, input_uri: str, warehouse: str, source_file: str, source_path: str) -> dict:
        """Run the job for one raw VCF and return its report (``status`` ok with rows/files/warnings, or
        rejected with the reason)."""
        import warnings

        from dagster_aws.pipes import PipesS3MessageReader

        bucket, _ = split_uri(self.jobs_uri, "GENOLAKE_JOBS_URI")
        region = self.region or None
        pipes = _pipes_client(
            client=client("emr-serverless", region),
            message_reader=PipesS3MessageReader(bucket=bucket, client=client("s3", region),
                                                interval=min(self.poll_interval, 10.0)),
            poll_interval=self.poll_interval,
        )
        extras = {"input": input_uri, "warehouse": warehouse, "source_file": source_file, "source_path": source_path}
        with aws_errors(f"running the ingest job on EMR Serverless application {self.application_id}"), \
                warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*expected_writer_count.*")  # dagster's own preview API
            invocation = pipes.run(context=context, start_job_run_params=self.start_job_run_params(source_file),
                                   extras=extras)
        reports = [m for m in invocation.get_custom_messages() if isinstance(m, dict) and m.get("kind") == MESSAGE]
        if not reports:
            raise Failure(description=f"{source_path}: the EMR Serverless job for {source_file} finished without "
                                      f"reporting its files (logs under {self._uri('logs/')})", allow_retries=True)
        return reports[-1]


def cluster_job_from_env(environ=None, region: str | None = None) -> VcfClusterJob:
    """``VcfClusterJob`` from the environment: disabled unless ``GENOLAKE_EMR_APPLICATION_ID`` is set, and then the
    role and the jobs location are required (one message naming what is missing)."""
    from .aws import AwsConfigError

    environ = os.environ if environ is None else environ
    application = (environ.get("GENOLAKE_EMR_APPLICATION_ID") or "").strip()
    if not application:
        return VcfClusterJob()
    wanted = ("GENOLAKE_EMR_EXECUTION_ROLE_ARN", "GENOLAKE_JOBS_URI")
    missing = [name for name in wanted if not (environ.get(name) or "").strip()]
    if missing:
        raise AwsConfigError(f"GENOLAKE_EMR_APPLICATION_ID is set: the ingest job also needs {', '.join(missing)} "
                             "(from `terraform output`, see README 'Run on AWS')")
    split_uri(environ["GENOLAKE_JOBS_URI"].strip(), "GENOLAKE_JOBS_URI")
    return VcfClusterJob(application_id=application, execution_role_arn=environ["GENOLAKE_EMR_EXECUTION_ROLE_ARN"].strip(),
                         jobs_uri=environ["GENOLAKE_JOBS_URI"].strip(), region=region or "")
