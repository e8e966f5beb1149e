"""Rejected files: copied to quarantine/ with their reason, removed from landing, shown in the UI.

Every rejection (at the raw step for a bad header, at the processed step for a bad record) goes through
``reject``: the file is copied to ``quarantine/<time>/`` with ``<file>.reason.json`` beside it, removed from
the landing zone, its raw copy (if any) retired, and a materialization of ``raw/quarantine`` records the file and
reason so it shows in the UI. Then the partition fails with the same reason; other partitions keep flowing.
"""

from typing import NoReturn, Optional

from dagster import AssetKey, AssetMaterialization, AssetSpec, Failure, MetadataValue

from resources.interfaces import LandingZone
from resources.landing import sha256_file
from resources.interfaces import Storage

from .common import OWNERS

QUARANTINE_KEY = AssetKey(["raw", "quarantine"])

quarantine_spec = AssetSpec(
    QUARANTINE_KEY,
    group_name="raw",
    kinds={"file"},
    owners=OWNERS,
    description="Landed files genolake rejected, kept in quarantine/ with a JSON reason beside each (file, line, "
    "expected, found). Each materialization is one rejected file; fix the file and land it again to ingest it.",
)


def reject(context, landing: LandingZone, storage: Storage, kind: str, source_path: str, location: str,
           details: dict, raw_key: Optional[str] = None) -> NoReturn:
    message = details.get("message") or details.get("reason", "rejected")
    target = storage.quarantine(source_path, location, {**details, "partition_key": context.partition_key, "kind": kind})
    sha = sha256_file(source_path)
    landed = landing.find(location) or landing.find(context.partition_key)
    if landed is not None and landed.location == location and sha256_file(landing.fetch(landed)) == sha:
        landing.remove(landed)  # a newer upload under the same name stays for its own run
    if raw_key is not None:
        storage.retire_raw(kind, raw_key)
    context.log_event(
        AssetMaterialization(
            asset_key=QUARANTINE_KEY,
            description=message,
            metadata={
                "file": location,
                "partition_key": context.partition_key,
                "line": details.get("line") or "-",
                "reason": message,
                "quarantined_to": MetadataValue.path(target),
                "quarantined_files": storage.quarantine_count(),
            },
        )
    )
    raise Failure(
        description=f"rejected: {message}",  # the message names the file
        metadata={"file": location, "reason": message, "quarantined_to": MetadataValue.path(target)},
        allow_retries=False,
    )
