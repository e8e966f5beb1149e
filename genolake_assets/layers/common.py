"""Metadata helpers shared by the layers: schemas, previews and row counts in the shape the UI shows."""


import pyarrow as pa
from dagster import MetadataValue, TableColumn, TableSchema

from genolake_assets.transforms.tables import Table

OWNERS = ["team:genomics-data-engineering"]
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


def write_spark_table(df, staging_root: str, table: Table, prefix: str = "run") -> list[str]:
    """Write a Spark DataFrame as new data files of ``table`` under ``staging_root``: one folder per partition
    value, the partition columns kept inside the files (Iceberg's add_files reads them from the files)."""
    import glob
    import uuid

    from pyspark.sql import functions as F

    from genolake_assets.transforms.tables import data_dir

    target = f"{data_dir(staging_root, table.name)}/{prefix}-{uuid.uuid4().hex[:12]}"
    copies = {f"by_{c.name}": F.col(c.name) for c in table.partition_columns}
    if copies:
        df.withColumns(copies).repartition(*copies).write.partitionBy(*copies).parquet(target)
    else:
        df.coalesce(1).write.parquet(target)
    return sorted(glob.glob(f"{target}/**/*.parquet", recursive=True))
