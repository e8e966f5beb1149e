"""DuckDB views over Iceberg snapshot sets: the local SQL engine (no DuckDB extension needed).

Plain library (no dagster import). Each table ``genolake.<table>`` is a view with explicit casts to the contract's
types over exactly the Parquet data files of the table's snapshot in a recorded set (``Lakehouse.files``), so a
view never shows a file that a commit has not published. The persistent views live in ``<home>/query.duckdb``
and are refreshed at each recorded commit; time travel (``--as-of``) builds the same views in memory over an
older set. ``_catalog.tables`` / ``_catalog.partitions`` / ``_catalog.state`` describe what the views read.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from genolake_assets.transforms.tables import COMMIT_LOG, DATABASE, TABLES, Table

from .lakehouse import CommitSet, Lakehouse, local_path

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
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "array<string>": "VARCHAR[]",
    "array<int>": "INTEGER[]",
    "array<smallint>": "SMALLINT[]",
    "map<string,string>": "MAP(VARCHAR, VARCHAR)",
    "map<string,bigint>": "MAP(VARCHAR, BIGINT)",
}

# Another process holding the DuckDB file (a concurrent commit refreshing it) makes connect() fail; wait for it.
retry_locked = retry(
    retry=retry_if_exception_type(duckdb.IOException),
    wait=wait_exponential(multiplier=0.2, max=5),
    stop=stop_after_delay(120),
    reraise=True,
)


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_sql(table: Table, paths: list[str]) -> str:
    """``SELECT`` with explicit casts over the given Parquet files (or an empty typed relation)."""
    columns = table.all_columns
    if not paths:
        nulls = ", ".join(f'CAST(NULL AS {DUCKDB_TYPES[c.type]}) AS "{c.name}"' for c in columns)
        return f"SELECT {nulls} WHERE false"
    casts = ", ".join(f'CAST("{c.name}" AS {DUCKDB_TYPES[c.type]}) AS "{c.name}"' for c in columns)
    files = ", ".join(quote(local_path(p)) for p in paths)
    # hive_partitioning off: the columns are read from the files, never guessed from key=value folder names
    return f"SELECT {casts} FROM read_parquet([{files}], union_by_name = true, hive_partitioning = false)"


def create_views(con: duckdb.DuckDBPyConnection, lakehouse: Lakehouse, commit_set: CommitSet,
                 shown: dict[str, int | None] | None = None) -> None:
    """(Re)create ``genolake.<table>`` for every table at ``commit_set``. ``shown``: the snapshot id each existing
    view already reads (a view whose table did not change in this set is left as it is)."""
    shown = shown or {}
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}")
    con.execute("CREATE SCHEMA IF NOT EXISTS _catalog")
    con.execute("CREATE TABLE IF NOT EXISTS _catalog.tables (table_name VARCHAR, iceberg_table VARCHAR, "
                "layer VARCHAR, location VARCHAR, description VARCHAR, snapshot_id BIGINT, data_files INTEGER, "
                "rows BIGINT, bytes BIGINT)")
    con.execute("CREATE TABLE IF NOT EXISTS _catalog.partitions (table_name VARCHAR, partition_values VARCHAR, "
                "files INTEGER, rows BIGINT, bytes BIGINT)")
    con.execute("CREATE OR REPLACE TABLE _catalog.state (commit_id VARCHAR, committed_at TIMESTAMP WITH TIME ZONE, "
                "operation VARCHAR, snapshots MAP(VARCHAR, BIGINT))")
    for table in TABLES.values():
        snapshot_id = commit_set.snapshot(table.name)
        if table.name in shown and shown[table.name] == snapshot_id:
            continue
        files = lakehouse.files(table.name, snapshot_id)
        con.execute(f"CREATE OR REPLACE VIEW {table.qualified_name} AS {view_sql(table, lakehouse.localize([f.path for f in files]))}")
        con.execute(f"COMMENT ON VIEW {table.qualified_name} IS {quote(table.description)}")
        for column in table.all_columns:
            con.execute(f'COMMENT ON COLUMN {table.qualified_name}."{column.name}" IS {quote(column.comment)}')
        con.execute("DELETE FROM _catalog.tables WHERE table_name = ?", [table.name])
        con.execute("DELETE FROM _catalog.partitions WHERE table_name = ?", [table.name])
        con.execute("INSERT INTO _catalog.tables VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [table.name, lakehouse.identifier(table.name), table.layer, lakehouse.location(table.name),
                     table.description, snapshot_id, len(files), sum(f.records for f in files),
                     sum(f.bytes for f in files)])
        by_partition: dict[str, list] = {}
        for f in files:
            key = "/".join(f"{k}={v}" for k, v in f.partition.items())
            by_partition.setdefault(key, []).append(f)
        for key, group in sorted(by_partition.items()):
            if key:
                con.execute("INSERT INTO _catalog.partitions VALUES (?, ?, ?, ?, ?)",
                            [table.name, key, len(group), sum(f.records for f in group), sum(f.bytes for f in group)])
    log = lakehouse.table(COMMIT_LOG.name, refresh=False).current_snapshot()
    log_files = lakehouse.files(COMMIT_LOG.name, log.snapshot_id if log is not None else None)
    con.execute(f"CREATE OR REPLACE VIEW {COMMIT_LOG.qualified_name} AS {view_sql(COMMIT_LOG, lakehouse.localize([f.path for f in log_files]))}")
    con.execute(f"COMMENT ON VIEW {COMMIT_LOG.qualified_name} IS {quote(COMMIT_LOG.description)}")
    con.execute("INSERT INTO _catalog.state VALUES (?, ?, ?, MAP(?, ?))",
                [commit_set.commit_id, commit_set.committed_at, commit_set.operation,
                 list(commit_set.snapshots), list(commit_set.snapshots.values())])


class SqlViews:
    """The persistent views of one home (``query.duckdb``)."""

    def __init__(self, home: str):
        self.home = home

    @property
    def path(self) -> str:
        return str(Path(self.home) / "query.duckdb")

    @retry_locked
    def connect(self, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        if not read_only:
            os.makedirs(self.home, exist_ok=True)
        return duckdb.connect(self.path, read_only=read_only)

    def refresh(self, lakehouse: Lakehouse, commit_set: CommitSet) -> None:
        """Bring the views to ``commit_set``: only the tables whose snapshot changed are rebuilt."""
        con = self.connect(read_only=False)
        try:
            try:
                shown = dict(con.execute("SELECT table_name, snapshot_id FROM _catalog.tables").fetchall())
            except duckdb.CatalogException:
                shown = {}
            con.execute("BEGIN TRANSACTION")
            create_views(con, lakehouse, commit_set, shown)
            con.execute("COMMIT")
        finally:
            con.close()

    def state(self) -> str | None:
        """The commit id the persistent views show (None before the first refresh)."""
        if not os.path.exists(self.path):
            return None
        con = self.connect()
        try:
            row = con.execute("SELECT commit_id FROM _catalog.state").fetchone()
            return row[0] if row else None
        except duckdb.CatalogException:
            return None
        finally:
            con.close()


def connect_at(lakehouse: Lakehouse, commit_set: CommitSet) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the views of an older set (time travel)."""
    con = duckdb.connect()
    create_views(con, lakehouse, commit_set)
    return con



def role_connection(lakehouse: Lakehouse, commit_set: CommitSet, grants: dict) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that holds only one role's views, for its queries (``genolake query --role``).

    ``grants``: table name -> ``governance.grants.Grant`` of the role (SELECT grants only). Each
    ``genolake.<table>`` is the role's projection (its columns, its row filter) over exactly the Parquet data files
    of the table's snapshot in ``commit_set``; nothing else is in the database. File access is then limited to
    those files (``allowed_paths`` + ``enable_external_access = false``; no extension can be installed or
    loaded) and the configuration is locked, so a query the SQL checker let through by mistake still cannot read
    another file, another table, another role's rows or a setting. A file the role's views read can still be read
    whole by a table function if the checker missed one: the checker (``governance.local.check_query``) is the
    first guard, this connection the second."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        views: list[tuple[str, str]] = []
        paths: list[str] = []
        for name, grant in sorted(grants.items()):
            table = TABLES[name]
            files = lakehouse.localize([f.path for f in lakehouse.files(name, commit_set.snapshot(name))])
            paths += files
            shown = [c for c in table.column_names if grant.columns is None or c in grant.columns]  # table order
            columns = ", ".join(f'"{c}"' for c in shown)
            where = f" WHERE {grant.row_filter}" if grant.row_filter else ""
            views.append((name, f"SELECT {columns} FROM ({view_sql(table, files)}) AS {name}{where}"))
        con.execute("SET allowed_paths = ?", [sorted(set(paths))] if paths else [[]])
        con.execute("SET enable_external_access = false")
        con.execute("SET allow_community_extensions = false")
        con.execute(f"CREATE SCHEMA {DATABASE}")
        for name, sql in views:
            con.execute(f'CREATE VIEW {DATABASE}."{name}" AS {sql}')
        con.execute(f"USE {DATABASE}")
        con.execute("SET lock_configuration = true")
    except Exception:
        con.close()
        raise
    return con
