"""Raw layer: each landed file, validated and copied into the immutable raw zone (one partition per file)."""


from dagster import Failure, MaterializeResult, MetadataValue, asset

from genolake_assets.partitions import clinvar_releases_partitions, vcf_files_partitions
from genolake_assets.transforms import clinvar, vcf
from resources.landing import LandedFile, LocalLandingZone, sha256_file
from resources.storage import LocalStorage

from .common import LOCATION_TAG, OWNERS


def _landed(context, landing: LocalLandingZone, kind: str) -> LandedFile:
    key = context.partition_key
    landed = landing.find(key)
    if landed is None or landed.kind != kind:
        wanted = context.run.tags.get(LOCATION_TAG, "(unknown location)")
        raise Failure(
            description=f"partition {key}: no {kind} file with this key in the landing zone ({wanted}); "
            "land the file again to re-ingest it",
            allow_retries=False,
        )
    return landed


def _reject(context, landing: LocalLandingZone, storage: LocalStorage, landed: LandedFile, reason: str):
    """Quarantine the file (copy, reason beside it, then remove from landing) and fail this partition."""
    target = storage.quarantine(landed.path, landed.location, {"reason": reason, "partition_key": context.partition_key})
    landing.remove(landed)
    raise Failure(
        description=f"{landed.location} rejected: {reason}",
        metadata={"file": landed.location, "reason": reason, "quarantined_to": MetadataValue.path(target)},
        allow_retries=False,
    )


@asset(
    key=["raw", "vcf_files"],
    partitions_def=vcf_files_partitions,
    group_name="raw",
    kinds={"vcf", "file"},
    owners=OWNERS,
    description="Landed VCF files (plain, gzip or BGZF; one partition per file), header validated and copied "
    "unchanged into the immutable raw zone with their tabix/CSI index.",
)
def vcf_files(context, landing: LocalLandingZone, storage: LocalStorage) -> MaterializeResult:
    landed = _landed(context, landing, "vcf")
    try:
        header = vcf.read_header(landed.path)
    except Exception as exc:  # htslib refuses the header: nothing downstream could read it
        _reject(context, landing, storage, landed, f"not a readable VCF ({type(exc).__name__}: {exc})")
    if not header.fileformat:
        _reject(context, landing, storage, landed, "line 1: expected '##fileformat=VCFv4.x', found no fileformat line")
    sha = sha256_file(landed.path)
    raw_path = storage.put_raw("vcf", context.partition_key, landed.path, sha, landed.location.split("/")[-1], landed.location)
    return MaterializeResult(
        metadata={
            "location": landed.location,
            "raw_path": MetadataValue.path(raw_path),
            "sha256": sha,
            "bytes": landed.size,
            "compression": header.compression,
            "indexed": header.has_index,
            "fileformat": header.fileformat,
            "samples": len(header.samples),
            "contigs": ", ".join(header.contigs[:20]) + (" ..." if len(header.contigs) > 20 else ""),
        }
    )


@asset(
    key=["raw", "clinvar_releases"],
    partitions_def=clinvar_releases_partitions,
    group_name="raw",
    kinds={"clinvar", "file"},
    owners=OWNERS,
    description="Landed ClinVar variant_summary releases (one partition per file), header validated and copied "
    "unchanged into the immutable raw zone.",
)
def clinvar_releases(context, landing: LocalLandingZone, storage: LocalStorage) -> MaterializeResult:
    landed = _landed(context, landing, "clinvar")
    try:
        ignored = clinvar.check_header(landed.path)
    except clinvar.ClinVarFormatError as exc:
        _reject(context, landing, storage, landed, str(exc))
    except Exception as exc:
        _reject(context, landing, storage, landed, f"unreadable ({type(exc).__name__}: {exc})")
    sha = sha256_file(landed.path)
    raw_path = storage.put_raw("clinvar", context.partition_key, landed.path, sha, landed.location.split("/")[-1], landed.location)
    return MaterializeResult(
        metadata={
            "location": landed.location,
            "raw_path": MetadataValue.path(raw_path),
            "sha256": sha,
            "bytes": landed.size,
            "ignored_columns": ", ".join(ignored) or "none",
        }
    )
