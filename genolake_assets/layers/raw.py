"""Raw layer: each landed file, validated and copied into the immutable raw zone (one partition per file)."""


from dagster import AssetKey, BackfillPolicy, DagsterEventType, Failure, MaterializeResult, MetadataValue, asset

from genolake_assets.jobs import BATCH_FILES
from genolake_assets.partitions import clinvar_releases_partitions, vcf_files_partitions
from genolake_assets.transforms import clinvar, vcf
from genolake_assets.transforms.vcf_validate import VcfRejected, check_header
from resources.interfaces import LandingZone
from resources.landing import sha256_file
from resources.interfaces import Storage

from .common import LOCATION_TAG, OWNERS, without_beta_warning
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
    return MaterializeResult(metadata=_keep(landing, storage, kind, context.partition_key, landed, local, details))


def _keep(landing: LandingZone, storage: Storage, kind: str, key: str, landed, local: str, details: dict) -> dict:
    """Copy an accepted file into the raw zone (a verified copy), release it from landing; its metadata."""
    sha = sha256_file(local)
    name = landed.location.split("/")[-1]
    raw_path = storage.put_raw(kind, key, local, sha, name, landed.location)
    landing.accepted(landed)
    return {"location": landed.location, "raw_path": MetadataValue.path(raw_path), "sha256": sha,
            "bytes": landed.size, **details}


# a backfill of many files (from the UI) runs in batches too: one run per BATCH_FILES partitions
BACKFILL_POLICY = BackfillPolicy.multi_run(max_partitions_per_run=BATCH_FILES)
DEFERRED = "deferred"  # a batch's file left for a run of its own (where it is quarantined with its reason)


def batch_keys(context) -> list[str]:
    """The partitions of this run: one key, or a batch (a partition range over several landed files)."""
    return list(context.partition_keys) if context.has_partition_key_range else [context.partition_key]


def _accept_batch(context, landing: LandingZone, storage: Storage, kind: str, validate) -> MaterializeResult:
    """A batch run's files, each validated and copied like ``_accept``; a file that is not accepted is DEFERRED:
    left in landing, uncopied, for a run of its own (the CLI runs it next; the sensor on its next tick), where it
    is quarantined with its reason and its partition fails. The other files keep flowing."""
    keys = batch_keys(context)
    found = {f.partition_key: f for f in landing.list_files() if f.kind == kind}
    accepted = 0
    for key in keys:
        landed = found.get(key)
        try:
            if landed is None:
                raise Rejected({"message": f"partition {key}: no {kind} file with this key in the landing zone"})
            local = landing.fetch(landed)
            details = validate(local, landed.location)
        except Rejected as exc:
            context.log.warning(f"{exc}: deferred to a run of its own")
            context.add_asset_metadata({"status": DEFERRED, "reason": str(exc)}, partition_key=key)
            continue
        accepted += 1
        context.add_asset_metadata({"status": "accepted",
                                    **_keep(landing, storage, kind, key, landed, local, details)}, partition_key=key)
    if not accepted:
        raise Failure(description=f"none of the batch's {len(keys)} files was accepted; each runs on its own",
                      allow_retries=False)
    return MaterializeResult(metadata={"files": len(keys), "accepted": accepted, "deferred": len(keys) - accepted})


def accepted_in_run(context, raw_key: AssetKey) -> list[str]:
    """The partitions of ``raw_key`` this run's raw step accepted (its per-partition metadata says so)."""
    accepted = set()
    for entry in context.instance.all_logs(context.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        event = entry.asset_materialization
        status = event.metadata.get("status") if event is not None and event.asset_key == raw_key else None
        if getattr(status, "value", None) == "accepted":
            accepted.add(event.partition)
    return [k for k in batch_keys(context) if k in accepted]


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


@without_beta_warning(
    asset,
    key=["raw", "vcf_files"],
    partitions_def=vcf_files_partitions,
    backfill_policy=BACKFILL_POLICY,
    group_name="raw",
    kinds={"vcf", "file"},
    owners=OWNERS,
    description="Landed VCF files (plain, gzip or BGZF; one partition per file), header validated and copied "
    "unchanged into the immutable raw zone with their tabix/CSI index.",
)
def vcf_files(context, landing: LandingZone, storage: Storage) -> MaterializeResult:
    if context.has_partition_key_range and len(batch_keys(context)) > 1:
        return _accept_batch(context, landing, storage, "vcf", validate_vcf)
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
