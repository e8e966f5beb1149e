"""The SQL engine over the catalog. Local face: DuckDB reading the catalog file (read-only)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
from dagster import ConfigurableResource

from .catalog import _retry_locked


class CatalogMissing(RuntimeError):
    pass


class DuckDBQueryEngine(ConfigurableResource):
    home: str

    @property
    def path(self) -> str:
        return str(Path(self.home) / "catalog.duckdb")

    @_retry_locked
    def _connect(self) -> duckdb.DuckDBPyConnection:
        if not Path(self.path).exists():
            raise CatalogMissing(
                f"no catalog at {self.path}: run `genolake ingest <files>` (or `make demo`) first"
            )
        return duckdb.connect(self.path, read_only=True)

    def query(self, sql: str, parameters: list | None = None) -> pa.Table:
        con = self._connect()
        try:
            return con.sql(sql, params=parameters or None).to_arrow_table()
        finally:
            con.close()
