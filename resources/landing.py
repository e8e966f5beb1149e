"""The landing zone: where files arrive. Local face: a folder watched by the sensor."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .interfaces import LandingZone

from genolake_assets.transforms.naming import file_kind, partition_key


@dataclass(frozen=True)
class LandedFile:
    location: str  # path relative to the landing folder (the S3 key in aws mode)
    path: str  # a local path readable by htslib
    size: int
    mtime: float
    kind: str  # vcf | clinvar

    @property
    def partition_key(self) -> str:
        return partition_key(self.location)


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class LocalLandingZone(LandingZone):
    home: str

    @property
    def root(self) -> Path:
        return Path(self.home) / "landing"

    def list_files(self) -> list[LandedFile]:
        """Landed input files (VCF and ClinVar), sidecar indexes and unknown files left out, in path order."""
        root = self.root
        if not root.exists():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue  # partial uploads and editor files
                kind = file_kind(name)
                if kind not in ("vcf", "clinvar"):
                    continue
                full = os.path.join(dirpath, name)
                stat = os.stat(full)
                found.append(LandedFile(os.path.relpath(full, root), full, stat.st_size, stat.st_mtime, kind))
        return found

    def find(self, key: str) -> LandedFile | None:
        """The landed file with this partition key or location (path relative to the landing folder)."""
        for landed in self.list_files():
            if key in (landed.partition_key, landed.location):
                return landed
        return None

    def fetch(self, landed: LandedFile) -> str:
        return landed.path

    def land(self, source: str, name: str | None = None) -> LandedFile:
        """Copy a file (and its .tbi/.csi index) into the landing folder, as an upload would."""
        import shutil

        src = Path(source).resolve()
        target = self.root / (name or src.name)
        kind = file_kind(target.name)
        if kind not in ("vcf", "clinvar"):
            raise ValueError(f"{src}: not a VCF (.vcf, .vcf.gz, .vcf.bgz) or ClinVar variant_summary file")
        self.root.mkdir(parents=True, exist_ok=True)
        if src != target.resolve():
            tmp = target.with_name("." + target.name + ".part")
            shutil.copyfile(src, tmp)
            for suffix in (".tbi", ".csi"):
                if Path(str(src) + suffix).exists():
                    shutil.copyfile(str(src) + suffix, str(target) + suffix)
            os.replace(tmp, target)
        stat = target.stat()
        return LandedFile(os.path.relpath(target, self.root), str(target), stat.st_size, stat.st_mtime, kind)

    def remove(self, landed: LandedFile) -> None:
        for path in (landed.path, landed.path + ".tbi", landed.path + ".csi"):
            if os.path.exists(path):
                os.remove(path)
