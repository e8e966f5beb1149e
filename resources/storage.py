"""Storage zones: raw (immutable copies of landed files) and quarantine (rejected files with their reason).

Local face: folders under GENOLAKE_HOME. The warehouse (table data) belongs to the Iceberg catalog
(``resources.catalog``): its commits are what publish data, not this module.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

from .interfaces import Storage


class LocalStorage(Storage):
    home: str

    # -- zones -------------------------------------------------------------------------------------------
    @property
    def raw_root(self) -> Path:
        return Path(self.home) / "raw"

    @property
    def quarantine_root(self) -> Path:
        return Path(self.home) / "quarantine"

    # -- raw zone ----------------------------------------------------------------------------------------
    def put_raw(self, kind: str, key: str, source: str, sha256: str, name: str, location: str) -> str:
        """Copy a landed file (and its index) into ``raw/<kind>/<key>/<sha256[:16]>/``; never overwrite."""
        version_dir = self.raw_root / kind / key / sha256[:16]
        target = version_dir / name
        if not target.exists():
            version_dir.mkdir(parents=True, exist_ok=True)
            tmp = version_dir / ("." + name + ".part")
            shutil.copyfile(source, tmp)
            for suffix in (".tbi", ".csi"):
                if os.path.exists(source + suffix):
                    shutil.copyfile(source + suffix, str(target) + suffix)
            os.replace(tmp, target)
            (version_dir / "SOURCE.json").write_text(json.dumps(
                {"location": location, "sha256": sha256, "name": name,
                 "copied_at": datetime.now(timezone.utc).isoformat()}, indent=2) + "\n")
        (self.raw_root / kind / key / "CURRENT").write_text(str(target.relative_to(self.raw_root / kind / key)) + "\n")
        return str(target)

    def mark_published(self, kind: str, key: str) -> None:
        """Record that the current raw version of a partition has been parsed and committed to the warehouse."""
        (Path(self.current_raw(kind, key)).parent / "PUBLISHED").touch()

    def is_published(self, kind: str, key: str, sha256: str) -> bool:
        """True when this exact content (by sha256) of the partition is already in the warehouse."""
        try:
            current = Path(self.current_raw(kind, key)).parent
        except FileNotFoundError:
            return False
        return current.name == sha256[:16] and (current / "PUBLISHED").exists()

    def retire_raw(self, kind: str, key: str) -> None:
        """Drop the current raw version of a rejected file (its copy is in quarantine/)."""
        try:
            current = Path(self.current_raw(kind, key)).parent
        except FileNotFoundError:
            return
        (current.parent / "CURRENT").unlink(missing_ok=True)
        shutil.rmtree(current, ignore_errors=True)

    def quarantine_count(self) -> int:
        root = self.quarantine_root
        return sum(1 for _ in root.rglob("*.reason.json")) if root.exists() else 0

    def raw_source(self, kind: str, key: str) -> dict:
        """Where the current raw copy came from: location (landing path or S3 key), sha256, name."""
        return json.loads((Path(self.current_raw(kind, key)).parent / "SOURCE.json").read_text())

    def current_raw(self, kind: str, key: str) -> str:
        pointer = self.raw_root / kind / key / "CURRENT"
        if not pointer.exists():
            raise FileNotFoundError(f"no raw copy for {kind} partition {key!r}: materialize raw/{kind} first")
        return str(self.raw_root / kind / key / pointer.read_text().strip())

    # -- quarantine --------------------------------------------------------------------------------------
    def quarantine(self, source: str, location: str, reason: dict) -> str:
        """Copy a rejected file (and index) to ``quarantine/`` with ``<name>.reason.json`` beside it."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        folder = self.quarantine_root / f"{stamp}-{uuid.uuid4().hex[:6]}"  # never overwrite an earlier rejection
        folder.mkdir(parents=True, exist_ok=True)
        name = Path(location).name
        target = folder / name
        shutil.copyfile(source, target)
        for suffix in (".tbi", ".csi"):
            if os.path.exists(source + suffix):
                shutil.copyfile(source + suffix, str(target) + suffix)
        record = {"file": location, "quarantined_at": stamp, **reason}
        (folder / (name + ".reason.json")).write_text(json.dumps(record, indent=2) + "\n")
        return str(target)
