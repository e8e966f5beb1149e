"""Catalog layer: each table as the catalog and the SQL engine serve it (one asset per table).

The processed assets commit to the Iceberg tables; this layer makes sure the SQL engine's views show the newest
recorded snapshot set and reports the table's Iceberg state (table, snapshot id, data files, rows, bytes),
its columns as the engine types them, its partitions and a preview.
"""

from dagster import AssetKey, AutomationCondition, MaterializeResult, MetadataValue, TableColumn, TableSchema, asset

from genolake_assets.transforms.tables import CALLS, CLINVAR, SAMPLES, SITES, Table
from resources.catalog import IcebergCatalog
from resources.lakehouse import CommitSet
from resources.query import DuckDBQueryEngine

from .common import OWNERS, column_schema, iceberg_metadata, markdown_preview

CATALOGUED = (SITES, CALLS, SAMPLES, CLINVAR)


def register(catalog: IcebergCatalog, engine: DuckDBQueryEngine, table: Table,
             commit_set: CommitSet | None = None) -> dict:
    """Metadata of ``table`` in ``commit_set`` (default: the newest): Iceberg state, schema, partitions, preview."""
    lakehouse = catalog.lakehouse()
    lakehouse.ensure_tables()
    commit_set = commit_set or lakehouse.current_set()
    described = engine.query_at(
        "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
        "ORDER BY column_index", ["genolake", table.name], commit_set)
    partitions = engine.query_at("SELECT count(*) AS n FROM _catalog.partitions WHERE table_name = ?",
                                 [table.name], commit_set)
    preview = engine.query_at(f"SELECT * FROM {table.qualified_name} LIMIT 10", None, commit_set)
    info = iceberg_metadata(lakehouse, commit_set, table)
    return {
        "dagster/row_count": info["table_rows"],
        "dagster/column_schema": TableSchema(columns=[
            TableColumn(name=r["column_name"], type=r["data_type"], description=r["comment"] or "")
            for r in described.to_pylist()]),
        "table": table.qualified_name,
        **info,
        "location": MetadataValue.path(lakehouse.location(table.name)),
        "partitions": partitions["n"][0].as_py(),
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
    def _asset(catalog: IcebergCatalog, query_engine: DuckDBQueryEngine) -> MaterializeResult:
        return MaterializeResult(metadata=register(catalog, query_engine, table))

    return _asset


catalog_assets = [_catalog_asset(t) for t in CATALOGUED]
