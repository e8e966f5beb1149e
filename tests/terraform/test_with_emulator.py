"""terraform apply against a moto server on loopback, then genolake's aws mode pointed at the outputs.

The outputs ARE the aws mode's environment: `AwsSettings.from_env` and `aws_resources` take them as they are, and
`genolake_env` evaluated by a shell gives the same variables. Then one file is landed through the S3 landing zone
and its S3 event notification read back from the queue Terraform created (queue mode). What the emulator lacks is
switched off by tests/terraform/emulator.tfvars (README "Terraform"); everything else is created as on AWS and
inspected here: KMS rotation, bucket encryption, versioning, public access blocks, access logging, lifecycle
rules, the Glue database, the Lake Formation settings (named admins, no default permissions), the registered
warehouse location, the LF-tag, and one IAM role per governance role at exactly the policy's principal ARN.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from genolake_assets.transforms.tables import CLASSIFICATIONS
from governance.model import POLICY_PATH, load_policy
from resources.aws import AwsSettings

from .conftest import EMULATOR_REGION as REGION
from .test_static import ENV_OUTPUTS

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def applied(emulator_apply):
    outputs = emulator_apply.wait()
    return {"outputs": outputs, "seconds": emulator_apply.seconds, "endpoint": emulator_apply.endpoint,
            "policy": emulator_apply.policy}


@pytest.fixture
def on_emulator(applied, monkeypatch, tmp_path):
    """boto3 (and genolake's clients) pointed at the emulator, without resetting it."""
    moto_endpoint = applied["endpoint"]
    for name, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "emulator",
                        "AWS_SECRET_ACCESS_KEY": "emulator", "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                        "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    import boto3

    return lambda service: boto3.client(service, region_name=REGION, endpoint_url=moto_endpoint)


def environment(outputs: dict) -> dict[str, str]:
    return {name: outputs[name] for name in ENV_OUTPUTS if outputs.get(name)}


def test_the_outputs_are_the_aws_mode_environment(applied):
    outputs = applied["outputs"]
    prefix = f"genolake-123456789012-{REGION}"
    settings = AwsSettings.from_env(outputs)
    assert settings == AwsSettings(
        landing_uri=f"s3://{prefix}-landing/incoming", raw_uri=f"s3://{prefix}-raw/raw",
        quarantine_uri=f"s3://{prefix}-quarantine/quarantine", warehouse_uri=f"s3://{prefix}-processed/warehouse",
        glue_database="genolake", athena_workgroup="genolake",
        athena_results_uri=f"s3://{prefix}-athena-results/results/genolake", region=REGION)
    assert outputs["GENOLAKE_LANDING_QUEUE_URL"].endswith("/123456789012/genolake-landing")
    # the EMR Serverless application is off on the emulator: the three variables are empty, so the VCF transform
    # runs in-process (with it on they are the application id, the job role and s3://<prefix>-scripts/jobs)
    assert [outputs[n] for n in ("GENOLAKE_EMR_APPLICATION_ID", "GENOLAKE_EMR_EXECUTION_ROLE_ARN", "GENOLAKE_JOBS_URI")] == ["", "", ""]


def test_genolake_env_exports_the_outputs(applied):
    exported = applied["outputs"]["genolake_env"]
    shell = subprocess.run(["bash", "-c", 'eval "$EXPORTS"; env -0'], env={"EXPORTS": exported, "PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True, check=True)
    seen = dict(line.split("=", 1) for line in shell.stdout.split("\0") if "=" in line)
    expected = {**environment(applied["outputs"]), "GENOLAKE_MODE": "aws"}
    assert {k: v for k, v in seen.items() if k in expected or k.startswith("GENOLAKE_")} == expected
    assert len(exported.strip().splitlines()) == len(expected)


def test_aws_mode_resources_from_the_outputs(applied, on_emulator):
    from resources import aws_resources

    env = environment(applied["outputs"])
    resources = aws_resources({**env, "GENOLAKE_MODE": "aws"})
    assert resources["landing"].landing_uri == env["GENOLAKE_LANDING_URI"]
    assert resources["landing"].queue_url == env["GENOLAKE_LANDING_QUEUE_URL"]
    assert resources["catalog"].database == "genolake" and resources["storage"].raw_uri == env["GENOLAKE_RAW_URI"]
    assert not resources["vcf_job"].enabled


def test_a_landed_file_is_announced_on_the_queue(applied, on_emulator, tmp_path):
    from resources.s3_landing import S3LandingZone

    outputs = applied["outputs"]
    zone = S3LandingZone(landing_uri=outputs["GENOLAKE_LANDING_URI"], queue_url=outputs["GENOLAKE_LANDING_QUEUE_URL"],
                         region=REGION)
    sample = tmp_path / "terraform_probe.vcf.gz"
    sample.write_bytes(b"not really a vcf")
    landed = zone.land(str(sample))
    assert [f.key for f in zone.list_files()] == [landed.key] == ["incoming/terraform_probe.vcf.gz"]
    # outside the landing prefix: no notification (the notification filters on incoming/)
    bucket = zone.bucket
    on_emulator("s3").put_object(Bucket=bucket, Key="elsewhere/other.vcf.gz", Body=b"x")
    messages = zone.receive(10)
    keys = [obj.key for message in messages for obj in message.objects]
    assert keys == ["incoming/terraform_probe.vcf.gz"]
    zone.delete([m.receipt_handle for m in messages])


def test_storage_is_encrypted_versioned_private_logged_and_expires(applied, on_emulator):
    s3, kms = on_emulator("s3"), on_emulator("kms")
    key_arn = applied["outputs"]["kms_key_arn"]
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    prefix = f"genolake-123456789012-{REGION}"
    zones = ("landing", "raw", "processed", "quarantine", "athena-results", "scripts")
    for zone in zones:
        bucket = f"{prefix}-{zone}"
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        logging = s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]
        assert logging == {"TargetBucket": f"{prefix}-access-logs", "TargetPrefix": f"{zone}/"}
        rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
        assert rules["noncurrent-versions-and-incomplete-uploads"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
        expiry = {"quarantine": 90, "athena-results": 7}.get(zone)
        assert (rules[f"expire-{zone}"]["Expiration"]["Days"] if expiry else None) == expiry
        assert (f"expire-{zone}" in rules) == bool(expiry)
    entry = s3.get_object(Bucket=f"{prefix}-scripts", Key="jobs/ingest_vcf.py")["Body"].read()
    assert entry == (Path(__file__).resolve().parents[2] / "genolake_assets/spark_jobs/ingest_vcf.py").read_bytes()


def test_lake_formation_in_force(applied, on_emulator):
    lf, glue = on_emulator("lakeformation"), on_emulator("glue")
    settings = lf.get_data_lake_settings()["DataLakeSettings"]
    admins = {a["DataLakePrincipalIdentifier"] for a in settings["DataLakeAdmins"]}
    assert applied["outputs"]["runner_role_arn"] == "arn:aws:iam::123456789012:role/genolake-dagster-runner"
    assert applied["outputs"]["runner_role_arn"] in admins
    # IAM_ALLOWED_PRINCIPALS gets nothing on new databases and tables: Lake Formation grants decide
    assert settings.get("CreateDatabaseDefaultPermissions", []) == []
    assert settings.get("CreateTableDefaultPermissions", []) == []
    assert lf.get_lf_tag(TagKey="classification")["TagValues"] == sorted(CLASSIFICATIONS)
    registered = {r["ResourceArn"]: r.get("RoleArn") for r in lf.list_resources()["ResourceInfoList"]}
    assert registered == {f"arn:aws:s3:::genolake-123456789012-{REGION}-processed/warehouse":
                          applied["outputs"]["lakeformation_registration_role_arn"]}
    database = glue.get_database(Name="genolake")["Database"]
    assert database["LocationUri"] == applied["outputs"]["GENOLAKE_WAREHOUSE_URI"]


def test_one_iam_role_per_governance_role_at_the_policy_principal(applied, on_emulator):
    iam = on_emulator("iam")
    principals = {name: role.principal for name, role in load_policy(applied["policy"]).roles.items()}
    assert set(principals) == set(load_policy(POLICY_PATH).roles)
    assert applied["outputs"]["governance_role_arns"] == principals
    for principal in principals.values():
        assert iam.get_role(RoleName=principal.rsplit("/", 1)[1])["Role"]["Arn"] == principal


def test_landing_queue_outlives_a_sensor_tick_and_has_a_dead_letter_queue(applied, on_emulator):
    sqs = on_emulator("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=applied["outputs"]["GENOLAKE_LANDING_QUEUE_URL"],
                                          AttributeNames=["All"])["Attributes"]
    assert int(attributes["VisibilityTimeout"]) == 120
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":genolake-landing-dlq") and int(redrive["maxReceiveCount"]) == 10
    assert attributes["KmsMasterKeyId"] == applied["outputs"]["kms_key_arn"]


def test_apply_took(applied):
    # informative (-s shows it): the provider waits for S3 lifecycle rules and SQS attributes to settle (~55 s, ~25 s)
    print(f"terraform apply on the emulator: {applied['seconds']:.0f} s (in the background of the other tests)")
    assert applied["seconds"] < 300
