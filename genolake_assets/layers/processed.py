"""Processed layer: Parquet tables parsed from the raw zone, one Dagster partition per landed file.

Each partition is written to a staging folder and committed by swapping its ``source_file=<key>`` (or
``release=<key>``) folder, so re-materializing a file replaces exactly its rows.
"""


import pyarrow.dataset as ds
from dagster import AssetKey, AssetSpec, Failure, MaterializeResult, MetadataValue, asset, multi_asset

from genolake_assets.checks import clinvar_check, failed, processed_check_specs, vcf_partition_checks
from genolake_assets.partitions import clinvar_releases_partitions, vcf_files_partitions
from genolake_assets.transforms import clinvar as clinvar_transform
from genolake_assets.transforms.tables import CALLS, CLINVAR, SAMPLES, SITES, Table
from genolake_assets.transforms.vcf import ingest_vcf
from genolake_assets.transforms.vcf_validate import VcfRejected
from resources.landing import LocalLandingZone
from resources.spark import SparkResource
from resources.storage import LocalStorage

from .common import OWNERS, column_schema, markdown_preview
from .quarantine import reject
from .raw import warnings_metadata

VCF_TABLES = (SITES, CALLS, SAMPLES)


def _spec(table: Table, upstream: str) -> AssetSpec:
    return AssetSpec(
        key=["processed", table.name],
        deps=[AssetKey(["raw", upstream])],
        group_name="processed",
        kinds={"spark", "parquet"},
        owners=OWNERS,
        description=table.description,
        partitions_def=vcf_files_partitions if upstream == "vcf_files" else clinvar_releases_partitions,
        metadata={"table": table.qualified_name, "dagster/column_schema": column_schema(table)},
    )


def partition_metadata(storage: LocalStorage, table: Table, partition_dir: str, rows: int, files: list[dict]) -> dict:
    location = f"{storage.table_location(table.name)}/{partition_dir}"
    preview = ds.dataset(location, format="parquet", partitioning="hive").head(10) if rows else None
    return {
        "dagster/row_count": rows,
        "dagster/column_schema": column_schema(table),
        "table": table.qualified_name,
        "location": MetadataValue.path(location),
        "files": len(files),
        "bytes": sum(f["bytes"] for f in files),
        "chromosomes": ", ".join(sorted({f["chromosome"] for f in files if f.get("chromosome")})) or "-",
        "preview": markdown_preview(preview) if preview is not None else MetadataValue.md("_no rows_"),
    }


@multi_asset(
    name="processed_vcf",
    specs=[_spec(t, "vcf_files") for t in VCF_TABLES],
    partitions_def=vcf_files_partitions,
    check_specs=[spec for t in VCF_TABLES for spec in processed_check_specs(t.name)],
    can_subset=False,
)
def processed_vcf(context, spark: SparkResource, storage: LocalStorage, landing: LocalLandingZone):
    """Parse one raw VCF with htslib inside Spark tasks (one per tabix region) into sites, calls and samples.

    A record genolake will not take rejects the whole file: it is quarantined with the reason and nothing of
    it is published.
    """
    key = context.partition_key
    path = storage.current_raw("vcf", key)
    source = storage.raw_source("vcf", key)
    with storage.staging() as staging:
        try:
            stats = ingest_vcf(spark.spark_session, path, staging, key, source_path=source["location"])
        except VcfRejected as exc:
            reject(context, landing, storage, "vcf", path, source["location"], exc.to_dict(), raw_key=key)
        n_samples = stats.rows("samples")
        checks = vcf_partition_checks(spark.spark_session, staging, key, n_samples)
        if failed(checks):
            raise Failure(
                description=f"{source['location']}: not published, blocking checks failed: " + "; ".join(failed(checks)),
                allow_retries=False,
            )
        # sites, calls and samples of the file are swapped in together
        storage.commit(staging, [f"{table.name}/source_file={key}" for table in VCF_TABLES])
        storage.mark_published("vcf", key)
    context.log.info(
        f"{source['location']}: {stats.rows('sites')} sites, {stats.rows('calls')} calls, "
        f"{stats.rows('samples')} samples in {stats.regions} region(s)"
    )
    for table in VCF_TABLES:
        files = [f for f in stats.files if f["table"] == table.name]
        metadata = partition_metadata(storage, table, f"source_file={key}", stats.rows(table.name), files)
        metadata["source"] = source["location"]
        if table is SITES:
            metadata["regions"] = stats.regions
            metadata["warnings"] = warnings_metadata(stats.warnings)
        yield MaterializeResult(asset_key=AssetKey(["processed", table.name]), metadata=metadata)
    yield from checks


@asset(
    key=["processed", "clinvar"],
    deps=[AssetKey(["raw", "clinvar_releases"])],
    partitions_def=clinvar_releases_partitions,
    group_name="processed",
    kinds={"arrow", "parquet"},
    owners=OWNERS,
    description=CLINVAR.description,
    metadata={"table": CLINVAR.qualified_name, "dagster/column_schema": column_schema(CLINVAR)},
    check_specs=processed_check_specs("clinvar"),
)
def clinvar(context, storage: LocalStorage, landing: LocalLandingZone):
    key = context.partition_key
    path = storage.current_raw("clinvar", key)
    source = storage.raw_source("clinvar", key)
    with storage.staging() as staging:
        try:
            files = clinvar_transform.write_release(path, staging, key, source["location"])
        except clinvar_transform.ClinVarFormatError as exc:
            reject(context, landing, storage, "clinvar", path, source["location"], exc.to_dict(), raw_key=key)
        check = clinvar_check(ds.dataset(f"{staging}/clinvar", format="parquet", partitioning="hive").to_table().to_pandas())
        if not check.passed:
            raise Failure(description=f"{source['location']}: not published, blocking checks failed: "
                          + "; ".join(failed([check])), allow_retries=False)
        storage.commit_partition(staging, "clinvar", f"release={key}")
        storage.mark_published("clinvar", key)
    rows = sum(f["rows"] for f in files)
    metadata = partition_metadata(storage, CLINVAR, f"release={key}", rows, files)
    metadata["source"] = source["location"]
    yield MaterializeResult(metadata=metadata)
    yield check
