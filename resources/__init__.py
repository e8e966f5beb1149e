"""Configurable Dagster resources, each with a local face (this machine) and an AWS face.

``resources_for_mode()`` builds the set for the mode chosen by GENOLAKE_MODE (local by default).

Nothing is imported eagerly: ``import resources.lakehouse`` (a plain library) must not load Dagster or Spark, so the
resource classes are imported when the set is built, and ``resources.<Class>`` is resolved on first use.
"""

from __future__ import annotations

import importlib
import os

_LAZY = {"IcebergCatalog": "catalog", "LocalLandingZone": "landing", "DuckDBQueryEngine": "query",
         "SparkResource": "spark", "LocalStorage": "storage"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def resources_for_mode(settings=None) -> dict:
    from genolake_assets.mode import current

    from .catalog import IcebergCatalog
    from .emr import VcfClusterJob
    from .governance import LocalGovernance
    from .landing import LocalLandingZone
    from .query import DuckDBQueryEngine
    from .spark import SparkResource
    from .storage import LocalStorage

    settings = settings or current()
    if settings.mode == "local":
        home = str(settings.home)
        return {
            "storage": LocalStorage(home=home),
            "landing": LocalLandingZone(home=home),
            "catalog": IcebergCatalog(home=home),
            "query_engine": DuckDBQueryEngine(home=home),
            "spark": SparkResource(),
            "vcf_job": VcfClusterJob(),  # disabled: the transform runs in this process's Spark
            "governance": LocalGovernance(home=home),
        }
    return aws_resources()


def aws_resources(environ=None) -> dict:
    """The aws faces, configured from the environment (names match the Terraform outputs). Only settings are
    read here; credentials come from boto3's default chain when a client is first used."""
    from .athena import AthenaQueryEngine
    from .aws import AwsConfigError, AwsSettings
    from .catalog import GlueIcebergCatalog
    from .emr import cluster_job_from_env
    from .governance import LakeFormationGovernance
    from .query import GlueDuckDBQueryEngine
    from .spark import SparkResource
    from .s3_landing import S3LandingZone
    from .s3_storage import S3Storage

    environ = os.environ if environ is None else environ
    aws = AwsSettings.from_env(environ)
    queue = environ.get("GENOLAKE_LANDING_QUEUE_URL") or None
    engine = (environ.get("GENOLAKE_QUERY_ENGINE") or "athena").strip().lower()
    if engine not in ("athena", "duckdb"):
        raise AwsConfigError(f"GENOLAKE_QUERY_ENGINE must be athena (default) or duckdb, got {engine!r}")
    if engine == "duckdb":  # DuckDB in-process over the Glue tables (emulators, small catalogs)
        query_engine = GlueDuckDBQueryEngine(warehouse_uri=aws.warehouse_uri, database=aws.glue_database,
                                             region=aws.region)
    else:
        query_engine = AthenaQueryEngine(database=aws.glue_database, workgroup=aws.athena_workgroup,
                                         results_uri=aws.athena_results_uri, region=aws.region,
                                         warehouse_uri=aws.warehouse_uri)
    return {
        "storage": S3Storage(raw_uri=aws.raw_uri, quarantine_uri=aws.quarantine_uri, region=aws.region),
        "landing": S3LandingZone(landing_uri=aws.landing_uri, queue_url=queue, region=aws.region),
        "catalog": GlueIcebergCatalog(warehouse_uri=aws.warehouse_uri, database=aws.glue_database, region=aws.region),
        "query_engine": query_engine,
        "spark": SparkResource(),
        "vcf_job": cluster_job_from_env(environ, aws.region),
        "governance": LakeFormationGovernance(database=aws.glue_database, region=aws.region),  # EMR Serverless when GENOLAKE_EMR_APPLICATION_ID is set
    }


__all__ = ["resources_for_mode", "aws_resources", "IcebergCatalog", "LocalLandingZone", "DuckDBQueryEngine", "SparkResource", "LocalStorage"]
