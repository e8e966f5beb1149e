"""Storage zones: raw (immutable copies of landed files), quarantine, and the Parquet warehouse.

Local face: folders under GENOLAKE_HOME. Table data is written to a staging folder first and then committed
by swapping whole partition folders, so a failed or killed run never leaves half a partition published.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from dagster import ConfigurableResource


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalStorage(ConfigurableResource):
    home: str

    # -- zones -------------------------------------------------------------------------------------------
    @property
    def raw_root(self) -> Path:
        return Path(self.home) / "raw"

    @property
    def quarantine_root(self) -> Path:
        return Path(self.home) / "quarantine"

    @property
    def warehouse(self) -> Path:
        return Path(self.home) / "warehouse"

    def table_location(self, table: str) -> str:
        return str(self.warehouse / table)

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

    # -- warehouse: staging and commit ---------------------------------------------------------------------
    # Writers stage whole partition folders, then ``commit`` swaps them in. The swap is logged first in a
    # journal (warehouse/_commits/<id>.json); ``recover`` replays an unfinished journal forward, so a process
    # killed at any point leaves each table as it was before the run (killed while staging) or as it is after
    # it (killed while committing, once recovered). Every write and every read through the CLI recovers first.

    @property
    def _commits(self) -> Path:
        return self.warehouse / "_commits"

    @contextmanager
    def staging(self) -> Iterator[str]:
        """A private staging folder for one write; removed afterwards unless a journal still needs it."""
        self.recover()
        path = self.warehouse / "_staging" / f"{os.getpid()}-{uuid.uuid4().hex}"
        path.mkdir(parents=True, exist_ok=True)
        try:
            yield str(path)
        finally:
            if not self._journaled(str(path)):
                shutil.rmtree(path, ignore_errors=True)

    def commit(self, staging: str, folders: list[str]) -> None:
        """Publish staged folders (``table`` or ``table/partition``) together: all of them or, after a crash, all
        of them once ``recover`` runs. A folder that was not staged removes the published one (no rows left)."""
        moves = [{"folder": f, "staged": (Path(staging) / f).exists()} for f in folders]
        journal = {"staging": staging, "trash": str(self.warehouse / "_trash" / uuid.uuid4().hex), "moves": moves}
        self._commits.mkdir(parents=True, exist_ok=True)
        path = self._commits / f"{uuid.uuid4().hex}.json"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as handle:
            json.dump(journal, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        self._apply(journal)
        path.unlink()
        shutil.rmtree(journal["trash"], ignore_errors=True)

    def _apply(self, journal: dict) -> None:
        """Idempotent: each step checks what is already done, so replaying a journal is safe."""
        trash = Path(journal["trash"])
        for number, move in enumerate(journal["moves"]):
            staged = Path(journal["staging"]) / move["folder"]
            final = self.warehouse / move["folder"]
            if move["staged"] and not staged.exists():
                continue  # already swapped in
            if final.exists():
                (trash / str(number)).parent.mkdir(parents=True, exist_ok=True)
                os.replace(final, trash / str(number))
            if move["staged"]:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, final)

    def _journaled(self, staging: str) -> bool:
        if not self._commits.exists():
            return False
        return any(json.loads(p.read_text()).get("staging") == staging for p in self._commits.glob("*.json"))

    def recover(self) -> list[str]:
        """Finish commits a killed process left half done; drop staging folders of processes that are gone."""
        finished = []
        if self._commits.exists():
            for path in sorted(self._commits.glob("*.json")):
                journal = json.loads(path.read_text())
                self._apply(journal)
                path.unlink()
                shutil.rmtree(journal["trash"], ignore_errors=True)
                shutil.rmtree(journal["staging"], ignore_errors=True)
                finished.append(path.name)
            for tmp in self._commits.glob("*.tmp"):  # a journal never completed: its commit never started
                tmp.unlink()
        staging_root = self.warehouse / "_staging"
        if staging_root.exists():
            for folder in staging_root.iterdir():
                pid = folder.name.split("-", 1)[0]
                if pid.isdigit() and not _alive(int(pid)) and not self._journaled(str(folder)):
                    shutil.rmtree(folder, ignore_errors=True)
        return finished

    def commit_partition(self, staging: str, table: str, partition_dir: str) -> None:
        self.commit(staging, [f"{table}/{partition_dir}"])

    def commit_table(self, staging: str, table: str) -> None:
        self.commit(staging, [table])

    def parquet_files(self, table: str) -> list[str]:
        root = self.warehouse / table
        return sorted(str(p) for p in root.rglob("*.parquet")) if root.exists() else []

    def partition_dirs(self, table: str, depth: int) -> list[str]:
        """Published partition folders of a table, relative to the table (``source_file=x/chromosome=22``)."""
        root = self.warehouse / table
        if not root.exists() or depth == 0:
            return []
        pattern = "/".join(["*=*"] * depth)
        return sorted(str(p.relative_to(root)) for p in root.glob(pattern) if p.is_dir())
