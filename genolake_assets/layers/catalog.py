"""Catalog layer: each table as the catalog and the SQL engine serve it (one asset per table).

The processed assets commit to the Iceberg tables; this layer makes sure the SQL engine's views show the newest
recorded snapshot set and reports the table's Iceberg state (table, snapshot id, data files, rows, bytes),
its columns as the engine types them, its partitions and a preview.
"""

from dagster import AssetKey, AutomationCondition, MaterializeResult, MetadataValue, TableColumn, TableSchema, asset

from genolake_assets.transforms.tables import CALLS, CLINVAR, SAMPLES, SITES, Table
from resources.interfaces import Catalog
from resources.lakehouse import CommitSet
from resources.interfaces import QueryEngine

from .common import OWNERS, column_schema, iceberg_metadata, markdown_preview

CATALOGUED = (SITES, CALLS, SAMPLES, CLINVAR)


def register(catalog: Catalog, engine: QueryEngine, table: Table,
             commit_set: CommitSet | None = None) -> dict:
    """Metadata of ``table`` in ``commit_set`` (default: the newest): Iceberg state, schema, partitions, preview."""
    lakehouse = catalog.lakehouse()
    lakehouse.ensure_tables()
    commit_set = commit_set or lakehouse.current_set()
    described = engine.describe(table.name, commit_set)  # columns as the engine types them
    files = lakehouse.files(table.name, commit_set.snapshot(table.name))
    partitions = {tuple(f.partition.items()) for f in files if f.partition}
    preview = engine.query_at(f"SELECT * FROM {table.qualified_name} LIMIT 10", None, commit_set)
    info = iceberg_metadata(lakehouse, commit_set, table)
    return {
        "dagster/row_count": info["table_rows"],
        "dagster/column_schema": TableSchema(columns=[
            TableColumn(name=name, type=kind, description=comment or "") for name, kind, comment in described]),
        "table": table.qualified_name,
        **info,
        "location": MetadataValue.path(lakehouse.location(table.name)),
        "partitions": len(partitions),
        "preview": markdown_preview(preview),
    }


def _catalog_asset(table: Table):
    @asset(
        key=["catalog", table.name],
        deps=[AssetKey(["processed", table.name])],
        group_name="catalog",
        kinds={"iceberg", "duckdb", "table"},
        owners=OWNERS,
        description=f"{table.qualified_name} as the catalog serves it: an Iceberg table (partitioned by "
        f"{', '.join(c.name for c in table.partition_columns)}) read by the SQL engine at the newest "
        f"recorded snapshot set. {table.description}",
        metadata={"table": table.qualified_name, "dagster/column_schema": column_schema(table)},
        automation_condition=AutomationCondition.eager(),
    )
    def _asset(catalog: Catalog, query_engine: QueryEngine) -> MaterializeResult:
        return MaterializeResult(metadata=register(catalog, query_engine, table))

    return _asset


catalog_assets = [_catalog_asset(t) for t in CATALOGUED]
