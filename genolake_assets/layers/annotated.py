"""Annotated layer: sites joined to the newest ClinVar release (Spark), checked, then committed as an Iceberg table."""

import glob
import uuid
from typing import Optional

from dagster import AssetKey, AutomationCondition, Config, MaterializeResult, asset
from pyspark.sql import functions as F

from genolake_assets.checks import check_specs, gate, staged, table_checks
from genolake_assets.transforms.annotate import annotate
from genolake_assets.transforms.tables import ANNOTATED_VARIANTS, data_dir
from resources.interfaces import Catalog
from resources.lakehouse import Change, CommitSet, Lakehouse
from resources.interfaces import QueryEngine
from resources.spark import SparkResource

from .catalog import register
from .common import OWNERS, column_schema

INPUTS = ("sites", "clinvar")


class AnnotateConfig(Config):
    assembly: str = "GRCh37"
    clinvar_release: Optional[str] = None  # a processed/clinvar partition key; default: the newest committed
    # gx_suite fails when, with a new ClinVar release, the fraction of sites joined drops by more than this
    # (relative to the previous annotation's fraction)
    max_joined_fraction_drop: float = 0.1


def newest_release(lakehouse: Lakehouse, commit_set: CommitSet) -> str | None:
    """The ClinVar release committed last among those the set still holds."""
    present = {f.partition.get("release") for f in lakehouse.files("clinvar", commit_set.snapshot("clinvar"))}
    for recorded in reversed(lakehouse.sets()):
        if recorded.committed_at <= commit_set.committed_at and recorded.source_file in present:
            return recorded.source_file
    return sorted(present)[-1] if present else None


@asset(
    key=["annotated", "annotated_variants"],
    deps=[AssetKey(["catalog", "sites"]), AssetKey(["catalog", "clinvar"])],
    group_name="annotated",
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    description=ANNOTATED_VARIANTS.description + " Uses the newest ClinVar release unless configured.",
    metadata={"table": ANNOTATED_VARIANTS.qualified_name, "dagster/column_schema": column_schema(ANNOTATED_VARIANTS)},
    automation_condition=AutomationCondition.eager(),
    check_specs=check_specs("annotated_variants"),
)
def annotated_variants(context, config: AnnotateConfig, spark: SparkResource, catalog: Catalog,
                       query_engine: QueryEngine):
    lakehouse = catalog.lakehouse()
    lakehouse.ensure_tables()
    inputs = lakehouse.current_set()  # read every input at one recorded set, and say which
    release = config.clinvar_release or newest_release(lakehouse, inputs)
    # local paths Spark can read (downloaded when the warehouse is on S3 and Spark runs locally)
    sites_files = lakehouse.localize([f.path for f in lakehouse.files("sites", inputs.snapshot("sites"))])
    clinvar_files = lakehouse.localize([f.path for f in lakehouse.files("clinvar", inputs.snapshot("clinvar"))
                                        if f.partition.get("release") == release])
    paths, staging = [], lakehouse.staging_root()
    if release and sites_files and clinvar_files:
        session = spark.spark_session
        joined = annotate(session.read.parquet(*sites_files), session.read.parquet(*clinvar_files), config.assembly)
        target = f"{data_dir(staging, ANNOTATED_VARIANTS.name)}/run-{uuid.uuid4().hex[:12]}"
        # one file per chromosome, the partition column kept inside the files (Iceberg reads it from them)
        (joined.withColumn("by_chromosome", F.col("chromosome")).repartition("by_chromosome")
         .write.partitionBy("by_chromosome").parquet(target))
        paths = sorted(glob.glob(f"{target}/**/*.parquet", recursive=True))
    else:
        context.log.warning("nothing to annotate yet: need at least one VCF and one ClinVar release")
    sites_rows = lakehouse.stats("sites", inputs.snapshot("sites"))["rows"]
    previous = _previous(context)
    checks = table_checks("annotated_variants", staged(paths, ANNOTATED_VARIANTS.name, lambda: spark.spark_session),
                          sites_rows=sites_rows,
                          previous_fraction=previous["fraction"] if previous["release"] not in (None, release) else None,
                          max_drop=config.max_joined_fraction_drop)

    def drop():
        lakehouse.delete_files(paths)
        lakehouse.discard_staging(staging)

    yield from gate(checks, "annotated_variants", drop)
    try:
        commit_set = lakehouse.commit([Change(ANNOTATED_VARIANTS.name, lakehouse.publish(paths, staging), {})],
                                      operation="annotate", run_id=context.run_id)
    finally:
        lakehouse.discard_staging(staging)
    metadata = register(catalog, query_engine, ANNOTATED_VARIANTS, commit_set)
    metadata["clinvar_release"] = release or "none"
    metadata["assembly"] = config.assembly
    metadata["input_snapshots"] = {t: inputs.snapshot(t) for t in INPUTS}
    metadata["input_commit_id"] = inputs.commit_id or "none"
    # the gx_suite computed it: sites with at least one ClinVar row / all sites (the next release is compared to it)
    suite = next(r for r in checks if r.check_name == "gx_suite")
    metadata["sites_joined_fraction"] = suite.metadata["joined_fraction"]
    yield MaterializeResult(metadata=metadata)
    yield from checks


def _previous(context) -> dict:
    """The ClinVar release and joined fraction of the last annotation (None before the first)."""
    event = context.instance.get_latest_materialization_event(context.asset_key)
    metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}

    def value(name):
        entry = metadata.get(name)
        return getattr(entry, "value", None)

    return {"release": value("clinvar_release"), "fraction": value("sites_joined_fraction")}
