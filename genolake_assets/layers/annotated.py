"""Annotated layer: sites joined to the newest ClinVar release (Spark; in this process for a few files' sites), checked,
then committed as an Iceberg table."""

from typing import Optional

from dagster import AssetKey, AutomationCondition, Config, MaterializeResult, asset

from genolake_assets.checks import check_specs, gate, read_arrow, staged, table_checks
from genolake_assets.transforms.annotate import annotate, annotate_arrow
from genolake_assets.transforms.tables import ANNOTATED_VARIANTS
from resources.interfaces import Catalog
from resources.lakehouse import CommitSet, Increment, Lakehouse
from resources.interfaces import QueryEngine
from resources.spark import SparkResource

from .catalog import register
from .common import (SMALL_WRITE_ROWS, OWNERS, column_schema, commit_increment, increment_metadata, increment_rows,
                     write_arrow_table, write_spark_table)

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
    # by landed file: a new file annotates its own sites; a new release (or assembly) annotates every file again
    increment = lakehouse.plan_increment(ANNOTATED_VARIANTS.name, inputs, ["sites"],
                                         params=f"clinvar={release}|assembly={config.assembly}")
    computed = set(increment.compute)
    # local paths Spark can read (downloaded when the warehouse is on S3 and Spark runs locally)
    sites_files = lakehouse.localize([f.path for f in lakehouse.files("sites", inputs.snapshot("sites"))
                                      if f.partition.get("source_file") in computed])
    clinvar_files = lakehouse.localize([f.path for f in lakehouse.files("clinvar", inputs.snapshot("clinvar"))
                                        if f.partition.get("release") == release])
    paths, staging = [], lakehouse.staging_root()
    if release and sites_files and clinvar_files:
        if increment_rows(lakehouse, inputs, "sites", increment.compute) < SMALL_WRITE_ROWS:
            # a few files' sites: joined in this process (no Spark job, no JVM on the live path to the report)
            joined = annotate_arrow(read_arrow(sites_files, "sites"), clinvar_files, config.assembly)
            paths = write_arrow_table(joined, staging, ANNOTATED_VARIANTS, fingerprints=increment.fingerprints)
        else:
            session = spark.spark_session
            joined = annotate(session.read.parquet(*sites_files), session.read.parquet(*clinvar_files),
                              config.assembly)
            paths = write_spark_table(joined, staging, ANNOTATED_VARIANTS, fingerprints=increment.fingerprints)
    elif not release or not clinvar_files:
        context.log.warning("nothing to annotate yet: need at least one VCF and one ClinVar release")
        increment = Increment([], [], {}, full=bool(lakehouse.files(ANNOTATED_VARIANTS.name,
                                                                     inputs.snapshot(ANNOTATED_VARIANTS.name))))
    sites_rows = increment_rows(lakehouse, inputs, "sites", increment.compute)
    previous = _previous(context)
    release_changed = previous["release"] not in (None, release)
    checks = table_checks("annotated_variants", staged(paths, ANNOTATED_VARIANTS.name, lambda: spark.spark_session),
                          sites_rows=sites_rows,
                          # a new release is compared to the last one when it annotated every file
                          previous_fraction=previous["fraction"] if release_changed and increment.compute
                          and not increment.unchanged else None,
                          max_drop=config.max_joined_fraction_drop)

    def drop():
        lakehouse.delete_files(paths)
        lakehouse.discard_staging(staging)

    yield from gate(checks, "annotated_variants", drop)
    commit_set = commit_increment(lakehouse, ANNOTATED_VARIANTS.name, increment, paths, staging, "annotate",
                                  context.run_id)
    metadata = register(catalog, query_engine, ANNOTATED_VARIANTS, commit_set)
    metadata["clinvar_release"] = release or "none"
    metadata["assembly"] = config.assembly
    metadata["input_snapshots"] = {t: inputs.snapshot(t) for t in INPUTS}
    metadata["input_commit_id"] = inputs.commit_id or "none"
    metadata.update(increment_metadata(increment))
    # the gx_suite computed it: sites with at least one ClinVar row / the sites annotated. A run that annotated
    # every file records it for the next release to be compared to; an increment keeps the last whole figure.
    suite = next(r for r in checks if r.check_name == "gx_suite")
    whole = not increment.unchanged and bool(increment.compute)
    metadata["sites_joined_fraction"] = (suite.metadata["joined_fraction"] if whole or previous["fraction"] is None
                                         else previous["fraction"])
    metadata["increment_joined_fraction"] = suite.metadata["joined_fraction"]
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
