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


class Rejected(Exception):
    """A landed file genolake will not take; the message says why (file, line, expected, found)."""


def _accept(context, landing: LocalLandingZone, storage: LocalStorage, kind: str, validate) -> MaterializeResult:
    """Validate the partition's landed file and copy it into the raw zone, or quarantine it and fail.

    A rejected file is copied to quarantine/ with its reason beside it, then removed from landing: nothing
    is lost, and the other partitions keep flowing.
    """
    landed = _landed(context, landing, kind)
    try:
        details = validate(landed.path)
    except Rejected as exc:
        reason = str(exc)
        target = storage.quarantine(landed.path, landed.location, {"reason": reason, "partition_key": context.partition_key})
        landing.remove(landed)
        raise Failure(
            description=f"{landed.location} rejected: {reason}",
            metadata={"file": landed.location, "reason": reason, "quarantined_to": MetadataValue.path(target)},
            allow_retries=False,
        )
    sha = sha256_file(landed.path)
    name = landed.location.split("/")[-1]
    raw_path = storage.put_raw(kind, context.partition_key, landed.path, sha, name, landed.location)
    return MaterializeResult(
        metadata={"location": landed.location, "raw_path": MetadataValue.path(raw_path), "sha256": sha,
                  "bytes": landed.size, **details}
    )


def validate_vcf(path: str) -> dict:
    try:
        header = vcf.read_header(path)
    except Exception as exc:  # htslib refuses the header: nothing downstream could read it
        raise Rejected(f"not a readable VCF ({type(exc).__name__}: {exc})") from exc
    if not header.fileformat:
        raise Rejected("line 1: expected '##fileformat=VCFv4.x', found no fileformat line")
    return {
        "compression": header.compression,
        "indexed": header.has_index,
        "fileformat": header.fileformat,
        "samples": len(header.samples),
        "contigs": ", ".join(header.contigs[:20]) + (" ..." if len(header.contigs) > 20 else ""),
    }


def validate_clinvar(path: str) -> dict:
    try:
        ignored = clinvar.check_header(path)
    except clinvar.ClinVarFormatError as exc:
        raise Rejected(str(exc)) from exc
    except Exception as exc:
        raise Rejected(f"unreadable ({type(exc).__name__}: {exc})") from exc
    return {"ignored_columns": ", ".join(ignored) or "none"}


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
    return _accept(context, landing, storage, "vcf", validate_vcf)


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
    return _accept(context, landing, storage, "clinvar", validate_clinvar)
