"""The SQL engine over the catalog. Local face: DuckDB views over the Iceberg tables' current snapshot set
(``<home>/query.duckdb``, refreshed at each commit), or over an older set for ``--as-of``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pyarrow as pa

from .interfaces import QueryEngine

from .catalog import local_lakehouse
from .lakehouse import CommitSet
from .sql_views import SqlViews, connect_at


class CatalogMissing(RuntimeError):
    pass


class DuckDBQueryEngine(QueryEngine):
    home: str

    def lakehouse(self):
        if not (Path(self.home) / "catalog.db").exists():
            raise CatalogMissing(
                f"no catalog at {Path(self.home) / 'catalog.db'}: run `genolake ingest <files>` (or `make demo`) first"
            )
        return local_lakehouse(self.home)

    def current_set(self) -> CommitSet:
        return self.lakehouse().current_set()

    def query_at(self, sql: str, parameters: list | None, commit_set: CommitSet) -> pa.Table:
        """Run ``sql`` over the tables exactly as ``commit_set`` recorded them."""
        lakehouse = self.lakehouse()
        views = SqlViews(self.home)
        if commit_set.commit_id is not None and views.state() == commit_set.commit_id:
            con = views.connect(read_only=True)  # the persistent views show this set already
        elif commit_set == lakehouse.current_set():
            views.refresh(lakehouse, commit_set)  # a commit's refresh did not finish (killed run): catch up
            con = views.connect(read_only=True)
        else:
            con = connect_at(lakehouse, commit_set)
        try:
            return con.sql(sql, params=parameters or None).to_arrow_table()
        finally:
            con.close()

    def describe(self, table: str, commit_set: CommitSet) -> list[tuple[str, str, str | None]]:
        """(name, type, comment) of a table's columns as DuckDB serves them."""
        found = self.query_at(
            "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
            "ORDER BY column_index", ["genolake", table], commit_set)
        return [(r["column_name"], r["data_type"], r["comment"]) for r in found.to_pylist()]


class GlueDuckDBQueryEngine(QueryEngine):
    """aws face for small catalogs and emulators: DuckDB in this process over the Glue catalog's Iceberg tables at
    the recorded snapshot set (their data files downloaded once per process). Same SQL, types and answers as the
    local engine. Athena (``resources.athena``) is the aws default; ``make demo-aws`` uses this engine because the
    emulator's Athena accepts queries but does not execute SQL."""

    warehouse_uri: str
    database: str
    region: Optional[str] = None

    def lakehouse(self):
        from .catalog import glue_lakehouse

        return glue_lakehouse(self.warehouse_uri, self.database, self.region)

    def query_at(self, sql: str, parameters: list | None, commit_set: CommitSet) -> pa.Table:
        con = connect_at(self.lakehouse(), commit_set)
        try:
            return con.sql(sql, params=parameters or None).to_arrow_table()
        finally:
            con.close()

    def describe(self, table: str, commit_set: CommitSet) -> list[tuple[str, str, str | None]]:
        return DuckDBQueryEngine.describe(self, table, commit_set)  # same SQL over the same kind of views
