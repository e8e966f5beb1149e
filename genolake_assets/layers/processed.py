"""Processed layer: Iceberg tables parsed from the raw zone, one Dagster partition per landed file.

Spark tasks write each file's Parquet data files under the tables' data folders; after the blocking checks pass
on exactly those files, one commit replaces the file's rows in sites, calls and samples (one Iceberg transaction
per table, recorded as one snapshot set), so re-materializing a file replaces exactly its rows.
"""

from dagster import (AssetKey, AssetMaterialization, AssetSpec, Failure, MaterializeResult, MetadataValue, asset,
                     multi_asset)

from genolake_assets.checks import (batch_check_result, check_specs, describe, gate, staged, table_checks,
                                    vcf_file_checks)
from genolake_assets.partitions import clinvar_releases_partitions, vcf_files_partitions
from genolake_assets.transforms import clinvar as clinvar_transform
from genolake_assets.transforms.tables import CALLS, CLINVAR, SAMPLES, SITES, Table
from genolake_assets.transforms.vcf import ingest_vcf
from genolake_assets.transforms.vcf_validate import VcfRejected
from resources.emr import VcfClusterJob
from resources.interfaces import Catalog, LandingZone, Storage
from resources.lakehouse import Change, CommitSet, Lakehouse
from resources.spark import SparkResource

from .common import OWNERS, column_schema, iceberg_metadata, markdown_preview, without_beta_warning
from .quarantine import reject
from .raw import BACKFILL_POLICY, accepted_in_run, batch_keys, warnings_metadata

VCF_TABLES = (SITES, CALLS, SAMPLES)


def _spec(table: Table, upstream: str) -> AssetSpec:
    return AssetSpec(
        key=["processed", table.name],
        deps=[AssetKey(["raw", upstream])],
        group_name="processed",
        kinds={"spark", "iceberg"},
        owners=OWNERS,
        description=table.description,
        partitions_def=vcf_files_partitions if upstream == "vcf_files" else clinvar_releases_partitions,
        metadata={"table": table.qualified_name, "dagster/column_schema": column_schema(table)},
        # a batch records a materialization for each file it committed, none for those it deferred
        skippable=True,
    )


def _first_rows(paths: list[str], n: int):
    """The first ``n`` rows of a run's data files, reading one small batch of the first file that has rows (a
    dataset's head() reads ahead several files' batches: ~600 MB on a cohort file's calls)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=n):
            return pa.Table.from_batches([batch])
    return None


def partition_metadata(lakehouse: Lakehouse, commit_set: CommitSet, table: Table, files: list[dict],
                       iceberg: dict | None = None) -> dict:
    """A file's partition as the UI shows it; ``iceberg``: the table's Iceberg figures, when already read."""
    rows = sum(f["rows"] for f in files)
    paths = [f["path"] for f in files]
    preview = _first_rows(paths, 10) if rows else None
    return {
        "dagster/row_count": rows,
        "dagster/column_schema": column_schema(table),
        "table": table.qualified_name,
        "location": MetadataValue.path(lakehouse.data_location(table.name)),
        "files": len(files),
        "bytes": sum(f["bytes"] for f in files),
        "chromosomes": ", ".join(sorted({f["chromosome"] for f in files if f.get("chromosome")})) or "-",
        **(iceberg if iceberg is not None else iceberg_metadata(lakehouse, commit_set, table)),
        "preview": markdown_preview(preview) if preview is not None else MetadataValue.md("_no rows_"),
    }


@without_beta_warning(
    multi_asset,
    name="processed_vcf",
    specs=[_spec(t, "vcf_files") for t in VCF_TABLES],
    partitions_def=vcf_files_partitions,
    check_specs=[spec for t in VCF_TABLES for spec in check_specs(t.name)],
    can_subset=False,
    backfill_policy=BACKFILL_POLICY,
)
def processed_vcf(context, spark: SparkResource, storage: Storage, landing: LandingZone,
                  catalog: Catalog, vcf_job: VcfClusterJob):
    """Parse one raw VCF with htslib inside Spark tasks (one per tabix region) into sites, calls and samples:
    in this process's Spark (a file of at most 4 MiB by the same task function in this process, no Spark job), or
    as an EMR Serverless job run through Dagster Pipes when one is configured (the same transform; the job
    reports its files and this asset checks and commits them). A run over a partition range is a batch (see
    ``_processed_vcf_batch``).

    A record genolake will not take rejects the whole file: it is quarantined with the reason and nothing of
    it is committed.
    """
    if context.has_partition_key_range and len(batch_keys(context)) > 1:
        lakehouse = catalog.lakehouse()
        lakehouse.ensure_tables()
        yield from _processed_vcf_batch(context, spark, storage, lakehouse, vcf_job)
        return
    key = context.partition_key
    source = storage.raw_source("vcf", key)
    lakehouse = catalog.lakehouse()
    lakehouse.ensure_tables()
    if vcf_job.enabled:
        yield from _processed_vcf_on_cluster(context, spark, storage, landing, lakehouse, vcf_job, key, source)
        return
    path = storage.current_raw("vcf", key)
    staging = lakehouse.staging_root()  # the warehouse itself locally; a local folder uploaded on commit on S3
    try:
        try:
            stats = ingest_vcf(lambda: spark.spark_session, path, staging, key, source_path=source["location"])
        except VcfRejected as exc:
            reject(context, landing, storage, "vcf", path, source["location"], exc.to_dict(), raw_key=key)
        files = {t.name: [f for f in stats.files if f["table"] == t.name] for t in VCF_TABLES}
        paths = {name: [f["path"] for f in found] for name, found in files.items()}
        checks = yield from _gate(spark, paths, paths, stats.rows("samples"), source, lakehouse.delete_files)
        published = {name: lakehouse.publish(found, staging) for name, found in paths.items()}
        yield from _commit(context, storage, lakehouse, key, source, files, published, stats.regions,
                           stats.warnings, checks)
    finally:
        lakehouse.discard_staging(staging)


def _processed_vcf_batch(context, spark, storage, lakehouse, vcf_job):
    """A batch: each file the raw step accepted is parsed (its own Spark job, one session) and checked on its own
    files, exactly as alone; the files that pass are committed together (one snapshot per table, one recorded
    set); a file rejected by a record or a blocking check is DEFERRED (its staged files dropped, nothing of it
    committed) to a run of its own, where it is quarantined with its reason. Each committed file gets its own
    materialization (rows, files, preview, warnings); each check's result sums up the batch's files."""
    if vcf_job.enabled:
        raise Failure(description="batched ingest runs in this process's Spark; with EMR Serverless each file runs "
                      "on its own (one job per file)", allow_retries=False)
    keys = accepted_in_run(context, AssetKey(["raw", "vcf_files"]))
    staging = lakehouse.staging_root()
    done, deferred, results = {}, {}, {}
    try:
        for key in keys:
            source = storage.raw_source("vcf", key)
            try:
                stats = ingest_vcf(lambda: spark.spark_session, storage.current_raw("vcf", key), staging, key,
                                   source_path=source["location"])
            except VcfRejected as exc:
                deferred[key] = exc.to_dict().get("message") or str(exc)
                continue
            files = {t.name: [f for f in stats.files if f["table"] == t.name] for t in VCF_TABLES}
            paths = {name: [f["path"] for f in found] for name, found in files.items()}
            checks = vcf_file_checks(paths, stats.rows("samples"), lambda: spark.spark_session)
            failures = describe(checks)
            if failures:
                lakehouse.delete_files([p for group in paths.values() for p in group])
                deferred[key] = "blocking checks failed: " + "; ".join(failures)
                continue
            done[key] = (source, files, stats)
            for check in checks:
                results.setdefault((tuple(check.asset_key.path), check.check_name), []).append((key, check))
        if not done:
            raise Failure(description=f"no file of the batch of {len(keys)} passed; each runs on its own: "
                          + "; ".join(f"{k}: {m}" for k, m in deferred.items()), allow_retries=False)
        published = {t.name: lakehouse.publish([f["path"] for key in done for f in done[key][1][t.name]], staging)
                     for t in VCF_TABLES}
    finally:
        lakehouse.discard_staging(staging)
    commit_set = lakehouse.commit([Change(t.name, published[t.name], {"source_file": list(done)}) for t in VCF_TABLES],
                                  operation="ingest", run_id=context.run_id, source_file=",".join(done))
    for key in done:
        storage.mark_published("vcf", key)
    for key, reason in deferred.items():
        context.log.warning(f"partition {key}: {reason}; deferred to a run of its own")
    context.log.info(f"batch of {len(keys)} file(s): {len(done)} committed, {len(deferred)} deferred; "
                     f"{commit_set.describe()}")
    # one materialization per committed file's partition (the outputs are skippable: a deferred file gets none
    # here; its own run records what happened to it)
    for table in VCF_TABLES:
        iceberg = iceberg_metadata(lakehouse, commit_set, table)
        for key, (source, files, stats) in done.items():
            metadata = partition_metadata(lakehouse, commit_set, table, files[table.name], iceberg)
            metadata.update({"status": "committed", "source": source["location"], "batch_files": len(keys)})
            if table is SITES:
                metadata["regions"] = stats.regions
                metadata["warnings"] = warnings_metadata(stats.warnings)
            context.log_event(AssetMaterialization(asset_key=AssetKey(["processed", table.name]), partition=key,
                                                   metadata=metadata))
    for (asset_path, name), per_file in results.items():
        yield batch_check_result(asset_path, name, per_file)


def _gate(spark, paths: dict, local_paths: dict, n_samples: int, source: dict, drop):
    """The checks on a file's new data files (read from ``local_paths``); when a blocking one fails, the results
    are recorded, the files dropped and the step fails: nothing is committed. Returns the results otherwise."""
    checks = vcf_file_checks(local_paths, n_samples, lambda: spark.spark_session)
    yield from gate(checks, source["location"], lambda: drop([p for group in paths.values() for p in group]))
    return checks


def _processed_vcf_on_cluster(context, spark, storage, landing, lakehouse, vcf_job, key, source):
    report = vcf_job.run(context, input_uri=storage.raw_uri_of("vcf", key), warehouse=lakehouse.warehouse,
                         source_file=key, source_path=source["location"])
    if report.get("status") == "rejected":
        path = storage.current_raw("vcf", key)  # a local copy to quarantine (the job read the raw object)
        reject(context, landing, storage, "vcf", path, source["location"], report["rejection"], raw_key=key)
    files = {t.name: [f for f in report["files"] if f["table"] == t.name] for t in VCF_TABLES}
    uris = {name: [f["path"] for f in found] for name, found in files.items()}
    # the checks read the job's files here (downloaded once; a cohort-scale gate belongs in the job: see README)
    local = {name: lakehouse.localize(found) for name, found in uris.items()}
    checks = yield from _gate(spark, uris, local, report["rows"]["samples"], source, lakehouse.delete_files)
    localized = {name: [{**f, "path": p} for f, p in zip(files[name], local[name])] for name in files}
    yield from _commit(context, storage, lakehouse, key, source, localized, uris, report["regions"],
                       report.get("warnings") or {}, checks)


def _commit(context, storage, lakehouse, key, source, files, published, regions, warnings, checks):
    commit_set = lakehouse.commit([Change(t.name, published[t.name], {"source_file": key}) for t in VCF_TABLES],
                                  operation="ingest", run_id=context.run_id, source_file=key)
    storage.mark_published("vcf", key)
    rows = {name: sum(f["rows"] for f in found) for name, found in files.items()}
    context.log.info(
        f"{source['location']}: {rows['sites']} sites, {rows['calls']} calls, "
        f"{rows['samples']} samples in {regions} region(s); {commit_set.describe()}"
    )
    for table in VCF_TABLES:
        metadata = partition_metadata(lakehouse, commit_set, table, files[table.name])
        metadata["source"] = source["location"]
        if table is SITES:
            metadata["regions"] = regions
            metadata["warnings"] = warnings_metadata(warnings)
        yield MaterializeResult(asset_key=AssetKey(["processed", table.name]), metadata=metadata)
    yield from checks


@asset(
    key=["processed", "clinvar"],
    deps=[AssetKey(["raw", "clinvar_releases"])],
    partitions_def=clinvar_releases_partitions,
    group_name="processed",
    kinds={"arrow", "iceberg"},
    owners=OWNERS,
    description=CLINVAR.description,
    metadata={"table": CLINVAR.qualified_name, "dagster/column_schema": column_schema(CLINVAR)},
    check_specs=check_specs("clinvar"),
)
def clinvar(context, spark: SparkResource, storage: Storage, landing: LandingZone, catalog: Catalog):
    key = context.partition_key
    path = storage.current_raw("clinvar", key)
    source = storage.raw_source("clinvar", key)
    lakehouse = catalog.lakehouse()
    lakehouse.ensure_tables()
    staging = lakehouse.staging_root()
    try:
        files = clinvar_transform.write_release(path, staging, key, source["location"])
    except clinvar_transform.ClinVarFormatError as exc:
        lakehouse.discard_staging(staging)
        reject(context, landing, storage, "clinvar", path, source["location"], exc.to_dict(), raw_key=key)
    paths = [f["path"] for f in files]
    # a whole release (millions of rows) is checked on Spark, a subset in this process
    checks = table_checks("clinvar", staged(paths, "clinvar", lambda: spark.spark_session))

    def drop():
        lakehouse.delete_files(paths)
        lakehouse.discard_staging(staging)

    yield from gate(checks, source["location"], drop)
    try:
        commit_set = lakehouse.commit([Change("clinvar", lakehouse.publish(paths, staging), {"release": key})],
                                      operation="ingest", run_id=context.run_id, source_file=key)
        metadata = partition_metadata(lakehouse, commit_set, CLINVAR, files)
    finally:
        lakehouse.discard_staging(staging)
    storage.mark_published("clinvar", key)
    metadata["source"] = source["location"]
    yield MaterializeResult(metadata=metadata)
    yield from checks
