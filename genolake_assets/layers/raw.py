"""Raw layer: each landed file, validated and copied into the immutable raw zone (one partition per file)."""


from dagster import Failure, MaterializeResult, MetadataValue, asset

from genolake_assets.partitions import clinvar_releases_partitions, vcf_files_partitions
from genolake_assets.transforms import clinvar, vcf
from genolake_assets.transforms.vcf_validate import VcfRejected, check_header
from resources.interfaces import LandingZone
from resources.landing import sha256_file
from resources.interfaces import Storage

from .common import LOCATION_TAG, OWNERS
from .quarantine import reject


def _landed(context, landing: LandingZone, kind: str):
    key = context.partition_key
    tagged = context.run.tags.get(LOCATION_TAG)  # the sensor's full location (S3 key): no listing needed
    landed = (landing.find(tagged) if tagged else None) or landing.find(key)
    if landed is None or landed.kind != kind or landed.partition_key != key:
        wanted = tagged or "(unknown location)"
        raise Failure(
            description=f"partition {key}: no {kind} file with this key in the landing zone ({wanted}); "
            "land the file again to re-ingest it",
            allow_retries=False,
        )
    return landed


class Rejected(Exception):
    """A landed file genolake will not take: ``details`` holds file, line, reason, expected, found, message."""

    def __init__(self, details: dict):
        super().__init__(details["message"])
        self.details = details


def _accept(context, landing: LandingZone, storage: Storage, kind: str, validate) -> MaterializeResult:
    """Validate the partition's landed file and copy it into the raw zone, or quarantine it and fail."""
    landed = _landed(context, landing, kind)
    local = landing.fetch(landed)  # a local copy htslib can read (the file itself in local mode)
    try:
        details = validate(local, landed.location)
    except Rejected as exc:
        reject(context, landing, storage, kind, local, landed.location, exc.details)
    sha = sha256_file(local)
    name = landed.location.split("/")[-1]
    raw_path = storage.put_raw(kind, context.partition_key, local, sha, name, landed.location)  # verified copy
    landing.accepted(landed)
    return MaterializeResult(
        metadata={"location": landed.location, "raw_path": MetadataValue.path(raw_path), "sha256": sha,
                  "bytes": landed.size, **details}
    )


def warnings_metadata(warnings) -> MetadataValue:
    items = warnings.items() if isinstance(warnings, dict) else ((w, 1) for w in warnings)
    lines = [f"- {w}" + (f" (x{n})" if n > 1 else "") for w, n in items]
    return MetadataValue.md("\n".join(lines) or "none")


def validate_vcf(path: str, location: str) -> dict:
    try:
        checked = check_header(path, location)
        header = vcf.read_header(path)
    except VcfRejected as exc:
        raise Rejected(exc.to_dict()) from exc
    except Exception as exc:  # htslib refuses a header our checks let through
        raise Rejected({"file": location, "reason": f"htslib cannot read the header ({exc})",
                        "message": f"{location}: htslib cannot read the header ({exc})"}) from exc
    return {
        "compression": header.compression,
        "indexed": header.has_index,
        "fileformat": header.fileformat,
        "samples": len(checked.samples),
        "contigs": ", ".join(header.contigs[:20]) + (" ..." if len(header.contigs) > 20 else ""),
        "warnings": warnings_metadata(checked.warnings),
    }


def validate_clinvar(path: str, location: str) -> dict:
    try:
        ignored = clinvar.check_header(path, location)
    except clinvar.ClinVarFormatError as exc:
        raise Rejected({"file": location, "line": 1, "reason": str(exc), "message": str(exc)}) from exc
    except Exception as exc:
        message = f"{location}: unreadable ({type(exc).__name__}: {exc})"
        raise Rejected({"file": location, "reason": message, "message": message}) from exc
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
def vcf_files(context, landing: LandingZone, storage: Storage) -> MaterializeResult:
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
def clinvar_releases(context, landing: LandingZone, storage: Storage) -> MaterializeResult:
    return _accept(context, landing, storage, "clinvar", validate_clinvar)
