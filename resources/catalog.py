"""The catalog: every warehouse table is an Apache Iceberg table in database ``genolake``.

Local face: pyiceberg's SQL catalog on SQLite (``<home>/catalog.db``), data files under ``<home>/warehouse``;
after each commit the SQL engine's views (``<home>/query.duckdb``) are refreshed to the new snapshot set.
The commit protocol, time travel and upkeep are in ``resources.lakehouse`` (no dagster import there).
"""

from __future__ import annotations

from functools import lru_cache

from dagster import ConfigurableResource

from .lakehouse import Lakehouse
from .sql_views import SqlViews


@lru_cache(maxsize=8)
def local_lakehouse(home: str) -> Lakehouse:
    """One Lakehouse per home and process (it caches loaded tables); views refreshed at each commit."""
    views = SqlViews(home)
    return Lakehouse.local(home, on_commit=lambda lakehouse, commit_set: views.refresh(lakehouse, commit_set))


class IcebergCatalog(ConfigurableResource):
    """Iceberg tables and their commit log; ``lakehouse()`` gives the plain-library object."""

    home: str

    def lakehouse(self) -> Lakehouse:
        return local_lakehouse(self.home)
