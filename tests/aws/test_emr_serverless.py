"""The processed asset on EMR Serverless through Dagster Pipes, end to end against the moto server.

`genolake upload-job` puts the entry point and the transforms' zip in the jobs bucket; `genolake ingest` in aws
mode (GENOLAKE_EMR_APPLICATION_ID set) lands the VCF in S3, copies it to the raw zone, and the processed asset
starts a job run with PipesEMRServerlessClient, reads the job's report from S3 (PipesS3MessageReader), checks the
files and commits them to the Glue tables. The tables must equal local mode's, row by row.

moto's EMR Serverless records job runs but runs nothing (a run is SUCCESS at once). ``emr_worker`` makes the
emulator run them, as the service would: on StartJobRun it downloads the run's entry point and ``--py-files``
from the emulator's S3, and runs them with ``spark-submit`` (local[2]) in the driver environment the request
carries (``spark.emr-serverless.driverEnv.*``: Pipes' bootstrap), reporting PENDING until the job ends and then
SUCCESS or FAILED. genolake's side (the asset, the Pipes client, boto3) is untouched."""

import os
import shlex
import subprocess
import sys
import tempfile
import threading
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from genolake_assets.aws_demo import demo_environment
from resources.aws import client
from resources.lakehouse import Lakehouse

from ..conftest import ROOT, VCF_CYP2D6
from .test_demo_aws import _env, _genolake, _rows

pytestmark = pytest.mark.slow
BAD = ROOT / "data" / "edge_cases" / "hts-specs-vcf43" / "failed" / "failed_body_sample_001.vcf"
JOBS = "s3://genolake-demo-jobs/emr"
DRIVER_ENV = "spark.emr-serverless.driverEnv."


def _split(uri: str):
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


class Worker:
    """Runs each EMR Serverless job run started on the emulator with spark-submit, in a thread."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.runs: dict[str, dict] = {}  # job run id -> {"thread", "returncode", "stderr", "params"}

    def start(self, job_run):
        driver = job_run.job_driver["sparkSubmit"]
        record = {"params": driver, "returncode": None, "stderr": ""}
        self.runs[job_run.id] = record
        job_run.state = "PENDING"
        record["thread"] = threading.Thread(target=self._run, args=(job_run, driver, record), daemon=True)
        record["thread"].start()

    def _run(self, job_run, driver, record):
        work = Path(tempfile.mkdtemp(prefix="emr-worker-"))
        s3 = client("s3")

        def download(uri: str) -> str:
            bucket, key = _split(uri)
            target = work / key.rsplit("/", 1)[-1]
            s3.download_file(bucket, key, str(target))
            return str(target)

        args = shlex.split(driver.get("sparkSubmitParameters", ""))
        env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        env.update(PATH=os.environ["PATH"], JAVA_HOME=os.environ.get("JAVA_HOME", ""), SPARK_LOCAL_IP="127.0.0.1",
                   PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, HOME=str(work))
        submit = [str(Path(sys.executable).with_name("spark-submit")), "--master", "local[2]",
                  "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1"]
        i = 0
        while i < len(args):
            if args[i] == "--conf" and args[i + 1].startswith(DRIVER_ENV):
                name, _, value = args[i + 1][len(DRIVER_ENV):].partition("=")
                env[name] = value
            elif args[i] == "--py-files":
                submit += ["--py-files", download(args[i + 1])]
            elif args[i] == "--conf" and not args[i + 1].startswith(("spark.executor.", "spark.dynamicAllocation.")):
                submit += ["--conf", args[i + 1]]  # cluster sizing does not apply to local[2]
            i += 2 if args[i] in ("--conf", "--py-files") else 1
        entry = download(driver["entryPoint"])
        done = subprocess.run([*submit, entry, *driver.get("entryPointArguments", [])], cwd=work, env=env,
                              capture_output=True, text=True, timeout=900)
        record["returncode"], record["stderr"] = done.returncode, done.stderr
        job_run.state = "SUCCESS" if done.returncode == 0 else "FAILED"
        job_run.state_details = None if done.returncode == 0 else done.stderr[-2000:]


@pytest.fixture
def emr_worker(aws, monkeypatch):
    import moto.emrserverless.models as emr

    worker = Worker(aws)
    original = emr.EMRServerlessBackend.start_job_run

    def start_job_run(self, *args, **kwargs):
        job_run = original(self, *args, **kwargs)
        worker.start(job_run)
        return job_run

    monkeypatch.setattr(emr.EMRServerlessBackend, "start_job_run", start_job_run)
    return worker


def test_upload_job_ships_the_entry_point_and_dagster_free_transforms(aws, tmp_path):
    client("s3").create_bucket(Bucket="genolake-demo-jobs")
    done = _genolake("upload-job", "--to", JOBS, env=_env(tmp_path, {k: v for k, v in os.environ.items()
                                                                      if k.startswith("AWS_")}))
    assert f"{JOBS}/ingest_vcf.py" in done.stdout and f"{JOBS}/genolake_job.zip" in done.stdout
    s3 = client("s3")
    entry = s3.get_object(Bucket="genolake-demo-jobs", Key="emr/ingest_vcf.py")["Body"].read()
    assert entry == (ROOT / "genolake_assets" / "spark_jobs" / "ingest_vcf.py").read_bytes()
    archive = zipfile.ZipFile(BytesIO(s3.get_object(Bucket="genolake-demo-jobs", Key="emr/genolake_job.zip")["Body"].read()))
    names = set(archive.namelist())
    assert {"genolake_assets/__init__.py", "genolake_assets/transforms/vcf.py",
            "genolake_assets/spark_jobs/ingest_vcf.py"} <= names
    assert not any(n.startswith(("resources/", "genolake_assets/layers/")) for n in names)
    for name in names:  # what runs on the cluster imports no Dagster (only dagster-pipes)
        text = archive.read(name).decode()
        assert "import dagster\n" not in text and "from dagster import" not in text, name
    # no configuration: one clear line
    env = {k: v for k, v in _env(tmp_path).items() if k != "GENOLAKE_JOBS_URI"}
    failed = subprocess.run([sys.executable, "-m", "genolake_assets.cli", "upload-job"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2 and "GENOLAKE_JOBS_URI" in failed.stderr


def test_processed_on_emr_serverless_equals_local_mode(aws, emr_worker, tmp_path, monkeypatch):
    environment = demo_environment(aws)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    from genolake_assets import aws_demo

    aws_demo.provision()
    client("s3").create_bucket(Bucket="genolake-demo-jobs")
    emr = client("emr-serverless")
    application = emr.create_application(name="genolake", releaseLabel="emr-7.5.0", type="SPARK")["applicationId"]
    settings = {**environment, "GENOLAKE_EMR_APPLICATION_ID": application, "GENOLAKE_JOBS_URI": JOBS,
                "GENOLAKE_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/genolake-emr-job"}
    aws_home, local_home = tmp_path / "aws", tmp_path / "local"
    settings["GENOLAKE_POLICY"] = aws_demo.emulator_policy(tmp_path)  # moto has no data cells filters
    _genolake("upload-job", env=_env(aws_home, settings))

    # a good file and one the job rejects, through the aws mode with the processed step on "EMR Serverless"
    done = subprocess.run([sys.executable, "-m", "genolake_assets.cli", "ingest", str(VCF_CYP2D6), str(BAD)],
                          cwd=ROOT, env=_env(aws_home, settings), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-5000:]  # one file failed: said, exit 1
    assert "ok [1/2]" in done.stderr and "288,061 calls" in done.stderr, done.stderr[:6000]
    assert BAD.name in done.stderr and "rejected" in done.stderr
    _genolake("ingest", str(VCF_CYP2D6), env=_env(local_home))

    runs = emr.list_job_runs(applicationId=application)["jobRuns"]
    assert len(runs) == 2 and len(emr_worker.runs) == 2
    assert all(r["returncode"] == 0 for r in emr_worker.runs.values()), \
        [r["stderr"][-2000:] for r in emr_worker.runs.values()]  # a rejection is a report, not a failed job
    for run in emr_worker.runs.values():
        assert run["params"]["entryPoint"] == f"{JOBS}/ingest_vcf.py"
        assert f"--py-files {JOBS}/genolake_job.zip" in run["params"]["sparkSubmitParameters"]
        assert "spark.emr-serverless.driverEnv.DAGSTER_PIPES_CONTEXT" in run["params"]["sparkSubmitParameters"]
    described = emr.get_job_run(applicationId=application, jobRunId=runs[0]["id"])["jobRun"]
    assert described["state"] == "SUCCESS" and "dagster/run-id" in described["tags"]

    glue = Lakehouse.glue(environment["GENOLAKE_WAREHOUSE_URI"], "genolake", "us-east-1")
    local = Lakehouse.local(str(local_home))
    for name in ("sites", "calls", "samples"):
        files = glue.files(name, glue.current_set().snapshot(name))
        assert files and all(f.path.startswith("s3://genolake-demo-warehouse/warehouse/") for f in files), name
        mine, theirs = _rows(glue, name), _rows(local, name)
        assert len(mine) == len(theirs) > 0, name
        assert mine == theirs, name
    # the rejected file is in the quarantine with its reason, and nothing of it reached a table
    s3 = client("s3")
    quarantined = [o["Key"] for o in s3.list_objects_v2(Bucket="genolake-demo-raw", Prefix="quarantine/")["Contents"]]
    assert any(k.endswith(BAD.name) for k in quarantined) and any("reason" in k for k in quarantined)
    assert not any("failed_body" in (row.get("source_file") or "") for row in _rows(glue, "sites"))
