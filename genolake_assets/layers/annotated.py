"""Annotated layer: sites joined to the latest ClinVar release (Spark), published and catalogued."""


from pathlib import Path
from typing import Optional

from dagster import AssetKey, AutomationCondition, Config, MaterializeResult, asset

from genolake_assets.transforms.annotate import annotate
from genolake_assets.transforms.tables import ANNOTATED_VARIANTS
from resources.catalog import LocalCatalog
from resources.spark import SparkResource
from resources.storage import LocalStorage

from .catalog import register
from .common import OWNERS, column_schema


class AnnotateConfig(Config):
    assembly: str = "GRCh37"
    clinvar_release: Optional[str] = None  # a processed/clinvar partition key; default: the newest committed


def newest_release(storage: LocalStorage) -> str | None:
    root = Path(storage.table_location("clinvar"))
    releases = [p for p in root.glob("release=*") if p.is_dir()] if root.exists() else []
    if not releases:
        return None
    return max(releases, key=lambda p: (p.stat().st_mtime, p.name)).name.split("=", 1)[1]


@asset(
    key=["annotated", "annotated_variants"],
    deps=[AssetKey(["catalog", "sites"]), AssetKey(["catalog", "clinvar"])],
    group_name="annotated",
    kinds={"spark", "parquet"},
    owners=OWNERS,
    description=ANNOTATED_VARIANTS.description + " Uses the newest ClinVar release unless configured.",
    metadata={"table": ANNOTATED_VARIANTS.qualified_name, "dagster/column_schema": column_schema(ANNOTATED_VARIANTS)},
    automation_condition=AutomationCondition.eager(),
)
def annotated_variants(context, config: AnnotateConfig, spark: SparkResource, storage: LocalStorage,
                       catalog: LocalCatalog) -> MaterializeResult:
    release = config.clinvar_release or newest_release(storage)
    with storage.staging() as staging:
        if release and storage.parquet_files("sites"):
            session = spark.spark_session
            sites = session.read.option("basePath", storage.table_location("sites")).parquet(storage.table_location("sites"))
            release_dir = f"{storage.table_location('clinvar')}/release={release}"
            clinvar = (
                session.read.option("basePath", storage.table_location("clinvar")).parquet(release_dir)
            )
            joined = annotate(sites, clinvar, config.assembly)
            joined.coalesce(1).write.partitionBy("chromosome").parquet(f"{staging}/annotated_variants")
        else:
            context.log.warning("nothing to annotate yet: need at least one VCF and one ClinVar release")
        storage.commit_table(staging, "annotated_variants")
    metadata = register(catalog, storage, ANNOTATED_VARIANTS)
    metadata["clinvar_release"] = release or "none"
    metadata["assembly"] = config.assembly
    return MaterializeResult(metadata=metadata)
