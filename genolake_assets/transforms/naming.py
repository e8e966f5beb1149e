"""Names shared by every layer: chromosome spelling and safe partition keys."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

VCF_SUFFIXES = (".vcf.gz", ".vcf.bgz", ".vcf", ".bcf")
CLINVAR_SUFFIXES = (".txt.gz", ".txt", ".tsv.gz", ".tsv")
INDEX_SUFFIXES = (".tbi", ".csi")


def normalize_chromosome(contig: str) -> str:
    """Spell a contig the way ClinVar does: ``chr22`` -> ``22``, ``chrX`` -> ``X``, ``chrM``/``M`` -> ``MT``."""
    name = contig.strip()
    if name[:3].lower() == "chr":
        name = name[3:]
    upper = name.upper()
    if upper in ("M", "MT"):
        return "MT"
    if upper in ("X", "Y"):
        return upper
    return name


def file_kind(name: str) -> str | None:
    """'vcf', 'clinvar', 'index' (a sidecar) or None for a file genolake does not take."""
    lower = PurePosixPath(name).name.lower()
    if lower.endswith(INDEX_SUFFIXES):
        return "index"
    if lower.endswith(VCF_SUFFIXES):
        return "vcf"
    if "variant_summary" in lower and lower.endswith(CLINVAR_SUFFIXES):
        return "clinvar"
    return None


def _stem(name: str) -> str:
    lower = name.lower()
    for suffix in VCF_SUFFIXES + CLINVAR_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def partition_key(location: str) -> str:
    """A Dagster-safe dynamic partition key for a landed file.

    Dagster keys must avoid ``/ | , [ ]`` and similar; we keep the readable stem (sanitised, capped at 60
    characters) and add a short hash of the full location (path or S3 key), so two files with the same
    name in different folders never share a key. The full location is kept in run tags and metadata.
    """
    name = PurePosixPath(location).name
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", _stem(name)).strip("._-")[:60] or "file"
    digest = hashlib.sha1(location.encode("utf-8")).hexdigest()[:8]
    return f"{stem}-{digest}"
