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
