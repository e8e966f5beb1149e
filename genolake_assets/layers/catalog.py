"""Catalog layer: each processed table registered in the catalog (database ``genolake``) as its own asset."""


import os
from pathlib import Path

from dagster import AssetKey, AutomationCondition, MaterializeResult, MetadataValue, TableColumn, TableSchema, asset

from genolake_assets.transforms.tables import CALLS, CLINVAR, SAMPLES, SITES, Table
from resources.catalog import LocalCatalog, preview
from resources.storage import LocalStorage

from .common import OWNERS, column_schema, markdown_preview

CATALOGUED = (SITES, CALLS, SAMPLES, CLINVAR)


def partitions_of(storage: LocalStorage, table: Table) -> list[dict]:
    found = []
    for rel in storage.partition_dirs(table.name, len(table.partition_columns)):
        folder = Path(storage.table_location(table.name)) / rel
        files = list(folder.glob("*.parquet"))
        found.append({"partition": rel, "location": str(folder), "files": len(files),
                      "bytes": sum(os.path.getsize(f) for f in files)})
    return found


def register(catalog: LocalCatalog, storage: LocalStorage, table: Table) -> dict:
    """Register ``table`` and return the materialization metadata (row count, schema as catalogued, preview)."""
    parts = partitions_of(storage, table)
    info = catalog.register_table(table, storage.table_location(table.name), parts)
    described = catalog.describe(table.name)
    return {
            "dagster/row_count": info["rows"],
            "dagster/column_schema": TableSchema(
                columns=[TableColumn(name=n, type=t, description=c or "") for n, t, c in described]
            ),
            "table": table.qualified_name,
            "catalog": MetadataValue.path(catalog.path),
            "partitions": info["partitions"],
            "bytes": sum(p["bytes"] for p in parts),
            "preview": markdown_preview(preview(catalog, table)),
    }


def _catalog_asset(table: Table):
    @asset(
        key=["catalog", table.name],
        deps=[AssetKey(["processed", table.name])],
        group_name="catalog",
        kinds={"duckdb", "table"},
        owners=OWNERS,
        description=f"{table.qualified_name} registered in the catalog: typed, commented columns and its "
        f"partitions ({', '.join(c.name for c in table.partition_columns)}). {table.description}",
        metadata={"table": table.qualified_name, "dagster/column_schema": column_schema(table)},
        automation_condition=AutomationCondition.eager(),
    )
    def _asset(catalog: LocalCatalog, storage: LocalStorage) -> MaterializeResult:
        return MaterializeResult(metadata=register(catalog, storage, table))

    return _asset


catalog_assets = [_catalog_asset(t) for t in CATALOGUED]
