"""aws mode's configuration and the three failures users meet first, each a one-line message that says what to
fix: a missing variable, an unreachable endpoint, a denied call. Plus the cross-machine commit lock on S3."""

import os
import socket
import subprocess
import sys
import threading
import time

import boto3
import pytest

from resources.aws import ENV, AwsConfigError, AwsError, AwsSettings, aws_errors, client
from resources.s3_lock import LockTimeout, S3Lease

from ..conftest import ROOT

FULL = {
    "GENOLAKE_LANDING_URI": "s3://landing-bkt/incoming",
    "GENOLAKE_RAW_URI": "s3://raw-bkt/raw",
    "GENOLAKE_QUARANTINE_URI": "s3://raw-bkt/quarantine",
    "GENOLAKE_WAREHOUSE_URI": "s3://warehouse-bkt/warehouse",
    "GENOLAKE_GLUE_DATABASE": "genolake",
    "GENOLAKE_ATHENA_WORKGROUP": "genolake",
    "GENOLAKE_ATHENA_RESULTS_URI": "s3://results-bkt/athena",
    "AWS_REGION": "eu-west-1",
}


def test_settings_from_the_terraform_output_names():
    settings = AwsSettings.from_env(FULL)
    assert settings.warehouse_uri == "s3://warehouse-bkt/warehouse" and settings.region == "eu-west-1"
    assert set(ENV.values()) == set(FULL)


@pytest.mark.parametrize("missing", sorted(FULL))
def test_a_missing_variable_is_named(missing):
    env = {k: v for k, v in FULL.items() if k != missing}
    with pytest.raises(AwsConfigError) as caught:
        AwsSettings.from_env(env)
    assert missing in str(caught.value)
    assert [v for v in FULL if v in str(caught.value)] == [missing]  # only the missing one


def test_the_emr_serverless_job_is_optional_and_complete_when_asked_for():
    from resources import aws_resources

    assert not aws_resources(FULL)["vcf_job"].enabled  # no application: the transform runs in the asset's Spark
    emr = {"GENOLAKE_EMR_APPLICATION_ID": "00abc", "GENOLAKE_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::1:role/job",
           "GENOLAKE_JOBS_URI": "s3://jobs-bkt/emr"}
    job = aws_resources({**FULL, **emr})["vcf_job"]
    assert job.enabled and job.region == "eu-west-1"
    params = job.start_job_run_params("f-1234")
    assert params["jobDriver"]["sparkSubmit"]["entryPoint"] == "s3://jobs-bkt/emr/ingest_vcf.py"
    assert params["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"].startswith(
        "--py-files s3://jobs-bkt/emr/genolake_job.zip")
    for missing in ("GENOLAKE_EMR_EXECUTION_ROLE_ARN", "GENOLAKE_JOBS_URI"):
        with pytest.raises(AwsConfigError) as caught:
            aws_resources({**FULL, **{k: v for k, v in emr.items() if k != missing}})
        assert missing in str(caught.value) and "GENOLAKE_EMR_APPLICATION_ID" in str(caught.value)


def test_a_uri_that_is_not_s3_is_refused():
    with pytest.raises(AwsConfigError, match="GENOLAKE_RAW_URI='/tmp/raw'"):
        AwsSettings.from_env({**FULL, "GENOLAKE_RAW_URI": "/tmp/raw"})


def test_the_code_location_names_the_missing_variable(tmp_path):
    """Loading the Dagster definitions in aws mode without the workgroup fails with the variable's name, and no
    credentials are needed to get that far (nothing calls AWS at import time)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GENOLAKE_"))}
    env.update({k: v for k, v in FULL.items() if k != "GENOLAKE_ATHENA_WORKGROUP"},
               GENOLAKE_MODE="aws", GENOLAKE_HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true")
    done = subprocess.run([sys.executable, "-c", "import genolake_assets.definitions"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "GENOLAKE_ATHENA_WORKGROUP" in done.stderr.strip().splitlines()[-1]


def test_the_code_location_loads_in_aws_mode_without_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GENOLAKE_"))}
    env.update(FULL, GENOLAKE_MODE="aws", GENOLAKE_HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    code = ("from genolake_assets.definitions import defs\n"
            "print(sorted(s.name for s in defs.sensors))\n"
            "print(type(defs.resources['storage']).__name__, type(defs.resources['query_engine']).__name__)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "'s3_landing_sensor'" in done.stdout and "'landing_sensor'" not in done.stdout
    assert "S3Storage AthenaQueryEngine" in done.stdout


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once closed


def test_an_unreachable_endpoint_is_named(monkeypatch, tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(AwsError) as caught:
        S3Lease("s3://warehouse-bkt/_genolake/commit.lock", timeout_seconds=1).acquire()
    message = str(caught.value)
    assert url in message and "commit lock" in message and "AWS_ENDPOINT_URL" in message


def test_a_denied_call_says_so(monkeypatch, tmp_path):
    """moto with IAM enforcement on: a user without S3 permissions is denied, and the message names the call."""
    from moto import mock_aws
    from moto.core import set_initial_no_auth_action_count

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    @set_initial_no_auth_action_count(3)  # create_user, create_access_key, create_bucket
    @mock_aws
    def scenario():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="analyst")
        key = iam.create_access_key(UserName="analyst")["AccessKey"]
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="warehouse-bkt")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        with pytest.raises(AwsError) as caught:
            with aws_errors("listing the landing zone s3://warehouse-bkt/"):
                client("s3").list_objects_v2(Bucket="warehouse-bkt")
        return str(caught.value)

    message = scenario()
    assert "access denied" in message and "ListObjectsV2" in message and "s3://warehouse-bkt/" in message


def test_the_commit_lock_is_exclusive_across_holders(aws):
    client("s3").create_bucket(Bucket="warehouse-bkt")
    uri = "s3://warehouse-bkt/_genolake/commit.lock"
    inside, overlaps = [], []

    def worker(n):
        with S3Lease(uri, poll_seconds=0.05):
            if inside:
                overlaps.append(n)
            inside.append(n)
            time.sleep(0.2)
            inside.remove(n)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
    # released: the object is gone
    assert client("s3").list_objects_v2(Bucket="warehouse-bkt").get("KeyCount", 0) == 0


def test_a_dead_holders_lease_is_taken_over_after_it_expires(aws):
    client("s3").create_bucket(Bucket="warehouse-bkt")
    uri = "s3://warehouse-bkt/_genolake/commit.lock"
    dead = S3Lease(uri, ttl_seconds=1)
    dead.acquire()  # never released: its process "died"
    with pytest.raises(LockTimeout, match="still held"):
        S3Lease(uri, timeout_seconds=0.3, poll_seconds=0.1).acquire()
    time.sleep(1.2)
    started = time.monotonic()
    with S3Lease(uri, timeout_seconds=10, poll_seconds=0.1) as lease:
        assert lease.holder() == lease._owner
    assert time.monotonic() - started < 5
    dead.release()  # the dead holder coming back must not delete the new holder's lease (none now, and no error)
