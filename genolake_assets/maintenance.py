"""Upkeep of the Iceberg tables: the ``maintenance`` job (also ``genolake maintain``).

Compacts each partition of many small data files into one (so a table of thousands of landed files stays quick to
plan and read), expires snapshots older than a configured age (each table keeps its newest N and whatever the current snapshot
set reads), then removes orphan files: data files written by runs that were killed or failed before their
commit, and files only expired snapshots referred to. What was removed is recorded as an observation of each
``catalog/<table>`` asset, so it shows on the asset's page in the UI.
"""

from datetime import timedelta

from dagster import AssetKey, AssetObservation, Config, OpExecutionContext, ScheduleDefinition, job, op

from genolake_assets.transforms.tables import TABLES
from resources.interfaces import Catalog


class MaintainConfig(Config):
    snapshot_max_age_hours: float = 7 * 24  # expire snapshots older than this ...
    retain_last: int = 10  # ... but always keep each table's newest N
    orphan_min_age_hours: float = 24  # files younger than this may belong to a run still writing
    compact_min_files: int = 2  # rewrite each partition holding at least this many data files into one (0: never)


@op(description="Compact small files, expire old snapshots and remove orphan files of every table")
def expire_and_remove_orphans(context: OpExecutionContext, config: MaintainConfig, catalog: Catalog):
    lakehouse = catalog.lakehouse()
    lakehouse.ensure_tables()
    report = lakehouse.maintain(timedelta(hours=config.snapshot_max_age_hours), config.retain_last,
                                timedelta(hours=config.orphan_min_age_hours), config.compact_min_files)
    for name, outcome in report.items():
        removed = outcome["orphan_files"]
        metadata = {
            "partitions_compacted": outcome["partitions_compacted"],
            "files_rewritten": outcome["files_rewritten"],
            "expired_snapshots": outcome["expired_snapshots"],
            "orphan_files_removed": outcome["orphan_files_removed"],
            "removed": "\n".join(removed[:50]) + (f"\n... and {len(removed) - 50} more" if len(removed) > 50 else ""),
            "snapshot_max_age_hours": config.snapshot_max_age_hours,
            "retain_last": config.retain_last,
        }
        if name in TABLES and TABLES[name].layer == "processed":
            context.log_event(AssetObservation(asset_key=AssetKey(["catalog", name]), metadata=metadata))
        elif name in TABLES:
            key = [TABLES[name].layer, name]  # annotated, qc, reports: the asset key is layer/table
            context.log_event(AssetObservation(asset_key=AssetKey(key), metadata=metadata))
        context.log.info(f"{name}: {outcome['expired_snapshots']} snapshot(s) expired, "
                         f"{outcome['orphan_files_removed']} orphan file(s) removed")
    return report


@job(description="Iceberg upkeep: expire old snapshots (keeping the newest N per table) and remove orphan files "
     "left by killed or failed runs. Configurable in the launchpad (MaintainConfig).")
def maintenance():
    expire_and_remove_orphans()


maintenance_schedule = ScheduleDefinition(
    job=maintenance, cron_schedule="0 3 * * *", name="nightly_maintenance",
    description="Nightly Iceberg upkeep at 03:00 (turn it on in the UI).",
)
