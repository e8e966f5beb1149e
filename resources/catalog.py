"""The catalog: every warehouse table is an Apache Iceberg table in database ``genolake``.

Local face: pyiceberg's SQL catalog on SQLite (``<home>/catalog.db``), data files under ``<home>/warehouse``;
after each commit the SQL engine's views (``<home>/query.duckdb``) are refreshed to the new snapshot set.
The commit protocol, time travel and upkeep are in ``resources.lakehouse`` (no dagster import there).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

from .interfaces import Catalog

from .lakehouse import Lakehouse
from .sql_views import SqlViews


@lru_cache(maxsize=8)
def local_lakehouse(home: str) -> Lakehouse:
    """One Lakehouse per home and process (it caches loaded tables); views refreshed at each commit."""
    views = SqlViews(home)
    return Lakehouse.local(home, on_commit=lambda lakehouse, commit_set: views.refresh(lakehouse, commit_set))


class IcebergCatalog(Catalog):
    """Iceberg tables and their commit log; ``lakehouse()`` gives the plain-library object."""

    home: str

    def lakehouse(self) -> Lakehouse:
        return local_lakehouse(self.home)


@lru_cache(maxsize=8)
def glue_lakehouse(warehouse_uri: str, database: str, region: str | None) -> Lakehouse:
    """One Lakehouse per Glue database and process; commits serialised across machines by an S3 lease."""
    from .s3_lock import S3Lease

    lock = S3Lease(f"{warehouse_uri.rstrip('/')}/_genolake/commit.lock", region=region)
    return Lakehouse.glue(warehouse_uri.rstrip("/"), database, region, lock=lock)


class GlueIcebergCatalog(Catalog):
    """aws face: the same Iceberg tables registered in the Glue Data Catalog, data and metadata in the warehouse
    bucket. Clients honour AWS_ENDPOINT_URL (a moto server in tests)."""

    warehouse_uri: str
    database: str
    region: Optional[str] = None

    def lakehouse(self) -> Lakehouse:
        return glue_lakehouse(self.warehouse_uri, self.database, self.region)
