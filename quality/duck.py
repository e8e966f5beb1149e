"""DuckDB over Parquet files, for the aggregate checks of large tables: the SQL checks (quality/consistency.py) and the
sites/calls reconciliation (quality/reconcile.py) read the files as they lie, streaming, with a memory cap (DuckDB
spills to a temporary folder beyond it), so memory stays flat in file size and nothing is collected. On these
aggregations DuckDB is an order of magnitude quicker than a local Spark (a 12M-row calls table: ~2 s against ~25 s).

A Spark DataFrame that is a plain scan of Parquet files (``spark.read.parquet(...)``, what genolake's checks get for
a run's new data files) is read by DuckDB from its files; any other DataFrame stays on Spark. No dagster import.
"""

from __future__ import annotations

import os
import tempfile
from urllib.parse import unquote, urlparse

MEMORY_LIMIT = os.environ.get("GENOLAKE_DUCKDB_MEMORY", "256MB")  # a cap, not an allocation: DuckDB spills beyond it


def parquet_files(data) -> list[str] | None:
    """The local Parquet files of a Spark DataFrame that is a plain scan of them, else None."""
    if not (hasattr(data, "sparkSession") and hasattr(data, "rdd")):
        return None
    try:
        plan = data._jdf.queryExecution().analyzed()
        if plan.getClass().getSimpleName() != "LogicalRelation":
            return None
        files = list(data.inputFiles())
    except Exception:  # noqa: BLE001 - not a file scan (or a Spark without these internals): stay on Spark
        return None
    paths = []
    for uri in files:
        parsed = urlparse(uri)
        if parsed.scheme not in ("", "file") or not uri.endswith(".parquet"):
            return None
        paths.append(unquote(parsed.path))
    return paths or None


def connect():
    """A DuckDB connection with the memory cap and a temporary folder to spill to (removed with the connection's
    owner: see ``Session``)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")
    return con


class Session:
    """A DuckDB connection whose views are Parquet files (by name); spills go to a temporary folder removed on close."""

    def __init__(self, tables: dict[str, list[str]]):
        self._spill = tempfile.TemporaryDirectory(prefix="genolake-duckdb-")
        self.con = connect()
        self.con.execute(f"SET temp_directory = '{self._spill.name}'")
        for name, paths in tables.items():
            files = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            self.con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{files}], hive_partitioning = false)')

    def close(self) -> None:
        self.con.close()
        self._spill.cleanup()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
