"""Configurable Dagster resources, each with a local face (this machine) and an AWS face.

``resources_for_mode()`` builds the set for the mode chosen by GENOLAKE_MODE (local by default).
"""

from __future__ import annotations

from genolake_assets.mode import Settings, current

from .catalog import IcebergCatalog
from .landing import LocalLandingZone
from .query import DuckDBQueryEngine
from .spark import SparkResource
from .storage import LocalStorage


def resources_for_mode(settings: Settings | None = None) -> dict:
    settings = settings or current()
    if settings.mode == "local":
        home = str(settings.home)
        return {
            "storage": LocalStorage(home=home),
            "landing": LocalLandingZone(home=home),
            "catalog": IcebergCatalog(home=home),
            "query_engine": DuckDBQueryEngine(home=home),
            "spark": SparkResource(),
        }
    raise NotImplementedError(
        "GENOLAKE_MODE=aws: the S3/Glue/Athena/Lake Formation faces of these resources are not built yet; "
        "use the local mode (unset GENOLAKE_MODE)."
    )


__all__ = ["resources_for_mode", "IcebergCatalog", "LocalLandingZone", "DuckDBQueryEngine", "SparkResource", "LocalStorage"]
