"""`make demo-aws`: the whole aws mode against a local AWS emulator (a moto server on loopback).

It creates what Terraform would (landing, raw, warehouse and query-result buckets, the Glue database, the Athena
workgroup), uploads the demo files to the landing bucket, lets ``s3_landing_sensor`` find them, runs the ingest
jobs it requests and the publish job in aws mode (S3 zones, Iceberg tables in Glue, local Spark), and prints the
report. Nothing here is a mock: the product code talks to the emulator through ``AWS_ENDPOINT_URL`` exactly as it
would talk to AWS. One substitution, said out loud: moto's Athena accepts queries but does not run SQL, so the
demo's SQL engine is DuckDB over the Glue tables (``GENOLAKE_QUERY_ENGINE=duckdb``); Athena's calls are tested
with seeded results in ``tests/aws/test_athena.py``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

DEMO_BUCKETS = {
    "GENOLAKE_LANDING_URI": "s3://genolake-demo-landing/incoming",
    "GENOLAKE_RAW_URI": "s3://genolake-demo-raw/raw",
    "GENOLAKE_QUARANTINE_URI": "s3://genolake-demo-raw/quarantine",
    "GENOLAKE_WAREHOUSE_URI": "s3://genolake-demo-warehouse/warehouse",
    "GENOLAKE_ATHENA_RESULTS_URI": "s3://genolake-demo-athena/results",
}


def demo_environment(endpoint: str, region: str = "us-east-1") -> dict[str, str]:
    """The aws-mode environment for the emulator: the variables `terraform output` would give, plus the
    endpoint and throwaway keys (moto accepts any)."""
    return {
        **DEMO_BUCKETS,
        "GENOLAKE_MODE": "aws",
        "GENOLAKE_GLUE_DATABASE": "genolake",
        "GENOLAKE_ATHENA_WORKGROUP": "genolake",
        "GENOLAKE_QUERY_ENGINE": "duckdb",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "emulator",
        "AWS_SECRET_ACCESS_KEY": "emulator",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@dataclass
class Emulator:
    endpoint: str
    server: object | None = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def start_emulator() -> Emulator:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return Emulator(f"http://127.0.0.1:{port}", server)


def provision() -> None:
    """What ``terraform apply`` creates, on the emulator: buckets, the Glue database, the Athena workgroup."""
    from resources.aws import AwsSettings, client, split_uri

    settings = AwsSettings.from_env()
    s3 = client("s3")
    for uri in (settings.landing_uri, settings.raw_uri, settings.warehouse_uri, settings.athena_results_uri):
        bucket, _ = split_uri(uri)
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    glue = client("glue")
    try:
        glue.create_database(DatabaseInput={"Name": settings.glue_database,
                                            "Description": "genolake: genomics lakehouse"})
    except glue.exceptions.AlreadyExistsException:
        pass
    athena = client("athena")
    if settings.athena_workgroup not in {w["Name"] for w in athena.list_work_groups()["WorkGroups"]}:
        athena.create_work_group(Name=settings.athena_workgroup, Configuration={
            "ResultConfiguration": {"OutputLocation": settings.athena_results_uri}})
