"""Metadata helpers shared by the layers: schemas, previews and row counts in the shape the UI shows."""


import pyarrow as pa
from dagster import MetadataValue, TableColumn, TableSchema

from genolake_assets.transforms.tables import Table

OWNERS = ["team:genomics-data-engineering"]


def without_beta_warning(decorator, **kwargs):
    """``decorator(**kwargs)``, made and applied without Dagster's BetaWarning (the batch backfill policy is still
    labelled beta)."""
    import warnings

    from dagster import BetaWarning

    def apply(fn):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BetaWarning)
            return decorator(**kwargs)(fn)

    return apply
LOCATION_TAG = "genolake/location"
SHA_TAG = "genolake/sha256"


def column_schema(table: Table) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn(name=c.name, type=c.type, description=c.comment)
            for c in table.all_columns
        ]
    )


def iceberg_metadata(lakehouse, commit_set, table: Table) -> dict:
    """What the UI shows of a table's Iceberg state in the set a materialization committed or read."""
    stats = lakehouse.stats(table.name, commit_set.snapshot(table.name))
    return {
        "iceberg_table": stats["iceberg_table"],
        "snapshot_id": str(stats["snapshot_id"]) if stats["snapshot_id"] is not None else "none",
        "table_data_files": stats["data_files"],
        "table_rows": stats["rows"],
        "table_bytes": stats["bytes"],
        "commit_id": commit_set.commit_id or "none",
    }


def markdown_preview(data: pa.Table, limit: int = 10) -> MetadataValue:
    return MetadataValue.md(to_markdown(data.slice(0, limit)))


def to_markdown(data: pa.Table) -> str:
    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    names = data.column_names
    lines = ["| " + " | ".join(names) + " |", "|" + "|".join("---" for _ in names) + "|"]
    for row in data.to_pylist():
        lines.append("| " + " | ".join(cell(row[n]) for n in names) + " |")
    return "\n".join(lines)


SMALL_WRITE_ROWS = 200_000  # below this many input rows a derived table is written by one Spark task


def write_spark_table(df, staging_root: str, table: Table, prefix: str = "run",
                      fingerprints: dict[str, str] | None = None, small: bool = False) -> list[str]:
    """Write a Spark DataFrame as new data files of ``table`` under ``staging_root``: one folder per partition
    value, the partition columns kept inside the files (Iceberg's add_files reads them from the files).
    ``fingerprints`` (source_file -> fingerprint, see ``Lakehouse.plan_increment``) adds a last folder level
    ``by_input=<fingerprint>`` recording which inputs each file was computed from. ``small``: computed and
    written by one task (no shuffle: Spark's per-stage costs dominate a few small files)."""
    import glob
    import uuid

    from pyspark.sql import functions as F

    from genolake_assets.transforms.tables import data_dir
    from resources.lakehouse import FINGERPRINT_DIR

    target = f"{data_dir(staging_root, table.name)}/{prefix}-{uuid.uuid4().hex[:12]}"
    copies = {f"by_{c.name}": F.col(c.name) for c in table.partition_columns}
    if fingerprints is not None:
        lookup = df.sparkSession.createDataFrame(sorted(fingerprints.items()),
                                                 schema=f"_fp_source_file string, {FINGERPRINT_DIR} string")
        df = df.join(F.broadcast(lookup), df["source_file"] == lookup["_fp_source_file"], "left") \
            .drop("_fp_source_file")
        copies[FINGERPRINT_DIR] = F.col(FINGERPRINT_DIR)
    if copies:
        df = df.withColumns(copies)
        # an increment (a few files) is written by one task: no shuffle; a large one is spread by partition
        df = df.coalesce(1) if small else df.repartition(*copies)
        df.write.partitionBy(*copies).parquet(target)
    else:
        df.coalesce(1).write.parquet(target)
    return sorted(glob.glob(f"{target}/**/*.parquet", recursive=True))


def write_arrow_table(data: pa.Table, staging_root: str, table: Table, prefix: str = "run",
                      fingerprints: dict[str, str] | None = None) -> list[str]:
    """``write_spark_table`` for a small Arrow table (a few files' increment, computed in this process): the same
    folders (``by_<column>=<value>/``, then ``by_input=<fingerprint>``), one file per partition, the contract's
    columns and types inside."""
    import os
    import uuid

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from genolake_assets.transforms.tables import data_dir
    from quality.schemas import arrow_type
    from resources.lakehouse import FINGERPRINT_DIR

    schema = pa.schema([pa.field(c.name, arrow_type(c.type)) for c in table.all_columns])  # optional, as Spark writes
    data = data.select(schema.names).cast(schema)
    target = f"{data_dir(staging_root, table.name)}/{prefix}-{uuid.uuid4().hex[:12]}"
    names = [c.name for c in table.partition_columns]
    groups = data.group_by(names).aggregate([]).to_pylist() if names else [{}]
    paths = []
    for number, group in enumerate(groups):
        part = data
        for name, value in group.items():
            part = part.filter(pc.is_null(part[name]) if value is None else pc.equal(part[name], value))
        folders = [f"by_{name}={value}" for name, value in group.items()]
        if fingerprints is not None:
            folders.append(f"{FINGERPRINT_DIR}={fingerprints[group['source_file']]}")
        path = os.path.join(target, *folders, f"part-{number:05d}.parquet")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pq.write_table(part, path, compression="zstd")
        paths.append(path)
    return sorted(paths)


def increment_rows(lakehouse, inputs, table: str, keys) -> int:
    """Rows of ``table`` in the partitions ``keys`` at the set (from the manifests, no data read)."""
    keys = set(keys)
    return sum(f.records for f in lakehouse.files(table, inputs.snapshot(table)) if f.partition.get("source_file") in keys)


def increment_metadata(increment) -> dict:
    shown = ", ".join(increment.compute[:20]) + (" ..." if len(increment.compute) > 20 else "")
    return {"files_computed": len(increment.compute), "files_unchanged": increment.unchanged,
            "files_removed": len(set(increment.remove) - set(increment.compute)),
            "full_recompute": increment.full, "computed": shown or "none"}


def commit_increment(lakehouse, table: str, increment, paths: list[str], staging: str, operation: str, run_id):
    """Commit an increment's new files of ``table`` (staged under ``staging``) as one recorded set, or nothing when
    the increment is empty; the staging folder is discarded either way. Returns the set the table is now read at."""
    if increment.empty:
        lakehouse.discard_staging(staging)
        return lakehouse.current_set()
    try:
        return lakehouse.commit([lakehouse.increment_change(table, increment, lakehouse.publish(paths, staging))],
                                operation=operation, run_id=run_id)
    finally:
        lakehouse.discard_staging(staging)
