"""The catalog: database ``genolake`` with one entry per table, its typed columns, comments and partitions.

Local face: a DuckDB file (``catalog.duckdb``). Each table is a view over its Parquet folder with explicit
casts, so the declared types hold whatever the files say; ``_catalog.partitions`` lists the partition folders
registered, like Glue partitions.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from genolake_assets.transforms.tables import DATABASE, Table

DUCKDB_TYPES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "array<string>": "VARCHAR[]",
    "array<int>": "INTEGER[]",
    "array<smallint>": "SMALLINT[]",
    "map<string,string>": "MAP(VARCHAR, VARCHAR)",
}

# Another process holding the DuckDB file (a concurrent run) makes connect() fail; wait for it.
_retry_locked = retry(
    retry=retry_if_exception_type(duckdb.IOException),
    wait=wait_exponential(multiplier=0.2, max=5),
    stop=stop_after_delay(120),
    reraise=True,
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_sql(table: Table, location: str, has_files: bool) -> str:
    """``SELECT`` with explicit casts over the table's Parquet files (or an empty typed relation)."""
    casts = ", ".join(f'CAST("{c.name}" AS {DUCKDB_TYPES[c.type]}) AS "{c.name}"' for c in table.all_columns)
    if not has_files:
        nulls = ", ".join(f'CAST(NULL AS {DUCKDB_TYPES[c.type]}) AS "{c.name}"' for c in table.all_columns)
        return f"SELECT {nulls} WHERE false"
    hive_types = ", ".join(f"'{c.name}': {DUCKDB_TYPES[c.type]}" for c in table.partition_columns)
    options = "hive_partitioning = true, union_by_name = true"
    if table.partition_columns:
        options += f", hive_types = {{{hive_types}}}"
    glob = os.path.join(location, "**", "*.parquet")
    return f"SELECT {casts} FROM read_parquet({_quote(glob)}, {options})"


class LocalCatalog(ConfigurableResource):
    home: str

    @property
    def path(self) -> str:
        return str(Path(self.home) / "catalog.duckdb")

    @_retry_locked
    def _connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        Path(self.home).mkdir(parents=True, exist_ok=True)
        return duckdb.connect(self.path, read_only=read_only)

    def register_table(self, table: Table, location: str, partitions: list[dict] | None = None) -> dict:
        """Create or replace ``genolake.<table>`` over ``location`` and record its partitions."""
        has_files = any(Path(location).rglob("*.parquet")) if Path(location).exists() else False
        con = self._connect()
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}")
            con.execute("CREATE SCHEMA IF NOT EXISTS _catalog")
            con.execute(
                "CREATE TABLE IF NOT EXISTS _catalog.tables (table_name VARCHAR PRIMARY KEY, layer VARCHAR, "
                "location VARCHAR, description VARCHAR, registered_at TIMESTAMP)"
            )
            con.execute(
                "CREATE TABLE IF NOT EXISTS _catalog.partitions (table_name VARCHAR, partition_values VARCHAR, "
                "location VARCHAR, files INTEGER, bytes BIGINT, registered_at TIMESTAMP)"
            )
            con.execute(f"CREATE OR REPLACE VIEW {table.qualified_name} AS {view_sql(table, location, has_files)}")
            con.execute(f"COMMENT ON VIEW {table.qualified_name} IS {_quote(table.description)}")
            for column in table.all_columns:
                con.execute(f'COMMENT ON COLUMN {table.qualified_name}."{column.name}" IS {_quote(column.comment)}')
            con.execute("DELETE FROM _catalog.tables WHERE table_name = ?", [table.name])
            con.execute(
                "INSERT INTO _catalog.tables VALUES (?, ?, ?, ?, now())",
                [table.name, table.layer, location, table.description],
            )
            con.execute("DELETE FROM _catalog.partitions WHERE table_name = ?", [table.name])
            for part in partitions or []:
                con.execute(
                    "INSERT INTO _catalog.partitions VALUES (?, ?, ?, ?, ?, now())",
                    [table.name, part["partition"], part["location"], part["files"], part["bytes"]],
                )
            con.execute("COMMIT")
            rows = con.execute(f"SELECT count(*) FROM {table.qualified_name}").fetchone()[0]
        finally:
            con.close()
        return {"table": table.qualified_name, "rows": rows, "partitions": len(partitions or [])}

    def describe(self, table: str) -> list[tuple[str, str, str]]:
        """(column, type, comment) as the catalog holds them."""
        con = self._connect(read_only=True)
        try:
            return con.execute(
                "SELECT column_name, data_type, comment FROM duckdb_columns() "
                "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
                [DATABASE, table],
            ).fetchall()
        finally:
            con.close()


def _preview_sql(table: Table, limit: int) -> str:
    return f"SELECT * FROM {table.qualified_name} LIMIT {int(limit)}"


def preview(catalog: LocalCatalog, table: Table, limit: int = 10):
    con = catalog._connect(read_only=True)
    try:
        return con.sql(_preview_sql(table, limit)).to_arrow_table()
    finally:
        con.close()
