"""Apache Iceberg tables for every warehouse table, and the commit protocol that keeps them consistent.

Plain library (no dagster import): the Dagster resources wrap it, the CLI and the benchmark use it directly.

* Tables are created from the table contracts (``transforms/tables.py``): Iceberg schema with column docs, identity
  partition spec, sort order on ``start`` where lookups go by position. A column added to a contract is added to
  the existing table (schema evolution); nothing is ever dropped.
* Catalogs: ``Lakehouse.local(home)`` is pyiceberg's SQL catalog on SQLite (``<home>/catalog.db``) with data
  files under ``<home>/warehouse/<table>/``; ``Lakehouse.glue(...)`` is the Glue Data Catalog with data files in
  the warehouse bucket. Both honour the same protocol.
* Writers (Spark tasks, pyarrow) write Parquet files under ``data_location(table)`` themselves; ``commit``
  registers them. One Iceberg transaction per table: delete the rows being replaced (a landed file's
  ``source_file`` partition, or everything) and add the new files.
* Iceberg has no multi-table transactions, so a change that spans tables (a VCF's sites, calls and samples) is
  made visible as a *snapshot set*: under a short commit lock the tables are committed in a fixed order, then one
  row is appended to the ``commit_log`` table whose snapshot carries the snapshot id of every table. Readers
  (the SQL views, the report, time travel) read the tables at the ids of the newest recorded set, never at the
  tables' heads, so they never see a file's sites without its calls and samples. A process killed between table
  commits leaves heads that no set records; the next commit rolls them back (``repair``) and logs that.
* Each table commit also keeps Iceberg's optimistic concurrency: a commit that finds its table moved (another
  engine writing to it) is retried by pyiceberg (``commit.retry.num-retries``) and validated again.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.fs as pafs

from genolake_assets.transforms.tables import COMMIT_LOG, DATABASE, TABLES, Table, data_dir

# pyiceberg warns for every dictionary-encoded column it reads ("Iceberg does not have a dictionary type"):
# genolake writes dictionary-encoded strings on purpose (they are plain strings in Parquet's logical schema).
logging.getLogger("pyiceberg.io.pyarrow").setLevel(logging.ERROR)

SET_PREFIX = "genolake.snapshot."
COMMIT_ID = "genolake.commit-id"
RUN_ID = "genolake.run-id"
OPERATION = "genolake.operation"
SOURCE_FILE = "genolake.source-file"
# Test hook: seconds to wait after staging each table's change but before committing it (all tables but the
# first of a set). Lets a test kill a real run between two table commits, or commit to a table under it.
PAUSE_ENV = "GENOLAKE_COMMIT_PAUSE_SECONDS"

TABLE_PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    "commit.retry.num-retries": "10",
    "commit.retry.min-wait-ms": "50",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
    # every commit adds a manifest; once 16 pile up they are merged into one, so planning a table after thousands
    # of commits reads a bounded number of manifests, not one per commit
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "16",
}


class LakehouseError(RuntimeError):
    pass


# -- contracts -> Iceberg ------------------------------------------------------------------------------------


def _iceberg_type(kind: str, ids: Iterator[int]):
    from pyiceberg import types as T

    scalar = {
        "string": T.StringType, "bigint": T.LongType, "int": T.IntegerType, "smallint": T.IntegerType,
        "tinyint": T.IntegerType, "double": T.DoubleType, "float": T.FloatType, "boolean": T.BooleanType,
        "date": T.DateType, "timestamp": T.TimestamptzType,
    }
    if kind in scalar:
        return scalar[kind]()  # Iceberg has no 8/16-bit integers: smallint/tinyint are int (the views cast back)
    if kind.startswith("array<"):
        return T.ListType(next(ids), _iceberg_type(kind[6:-1], ids), element_required=False)
    if kind.startswith("map<"):
        key, value = kind[4:-1].split(",", 1)
        return T.MapType(next(ids), _iceberg_type(key, ids), next(ids), _iceberg_type(value, ids), value_required=False)
    raise ValueError(f"no Iceberg type for contract type {kind!r}")


def iceberg_schema(table: Table):
    """The contract as an Iceberg schema. Every field is optional: required-ness is enforced by the quality
    checks, because Spark writes every column as optional and Iceberg would refuse such files."""
    from itertools import count

    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField

    columns = table.all_columns
    ids = count(len(columns) + 1)
    return Schema(*[NestedField(i, c.name, _iceberg_type(c.type, ids), required=False, doc=c.comment)
                    for i, c in enumerate(columns, start=1)])


def partition_spec(table: Table, schema):
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import IdentityTransform

    return PartitionSpec(*[
        PartitionField(schema.find_field(c.name).field_id, 1000 + i, IdentityTransform(), c.name)
        for i, c in enumerate(table.partition_columns)
    ])


def sort_order(table: Table, schema):
    from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortField, SortOrder
    from pyiceberg.transforms import IdentityTransform

    names = [n for n in table.sort_columns if n in table.column_names]
    if not names:
        return UNSORTED_SORT_ORDER
    return SortOrder(*[SortField(source_id=schema.find_field(n).field_id, transform=IdentityTransform()) for n in names])


# -- commit sets ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitSet:
    """A consistent state of the lakehouse: the snapshot id of every table (absent = no rows yet)."""

    commit_id: str | None
    committed_at: datetime | None
    operation: str
    snapshots: dict[str, int] = field(default_factory=dict)
    run_id: str | None = None
    source_file: str | None = None

    def snapshot(self, table: str) -> int | None:
        return self.snapshots.get(table)

    def describe(self) -> str:
        when = self.committed_at.isoformat(timespec="seconds") if self.committed_at else "-"
        return f"commit {self.commit_id or '-'} ({self.operation}, {when})"


EMPTY = CommitSet(None, None, "empty")


@dataclass(frozen=True)
class Change:
    """One table's part of a commit: remove rows (None = none, {} = all, {column: value} = that partition,
    {column: [values]} = those partitions), then add ``files`` (Parquet files already written under the table's
    data location)."""

    table: str
    files: list[str]
    remove: dict | list | None = None
    properties: dict | None = None  # table properties set in the same transaction


@dataclass(frozen=True)
class DataFile:
    path: str
    records: int
    bytes: int
    partition: dict


FINGERPRINT_DIR = "by_input"
EMPTY_PARTITIONS = "genolake.empty-partitions"  # table property: {partition key: fingerprint} computed with no rows
_FINGERPRINT = re.compile(r"/by_input=([0-9a-f]+)/")


@dataclass(frozen=True)
class Increment:
    """What ``Lakehouse.plan_increment`` found: the partitions to compute (with their fingerprints), those to
    remove before adding the new files, and whether the whole table is rebuilt (``full``: remove every row)."""

    compute: list[str]
    remove: list[str]
    fingerprints: dict[str, str]
    full: bool = False
    unchanged: int = 0
    keys: tuple = ()  # every partition key of the inputs

    def removal(self, column: str = "source_file") -> dict | None:
        """``Change.remove`` for this increment."""
        if self.full:
            return {}
        return {column: list(self.remove)} if self.remove else None

    @property
    def empty(self) -> bool:
        return not self.compute and not self.remove and not self.full


def _uri(path: str) -> str:
    return path if "://" in path else "file://" + os.path.abspath(path)


def local_path(uri: str) -> str:
    return uri[len("file://"):] if uri.startswith("file://") else uri


class Lakehouse:
    def __init__(self, catalog, warehouse: str, lock=None, namespace: str = DATABASE, on_commit=None):
        self.catalog = catalog
        self.warehouse = warehouse.rstrip("/")
        self.namespace = namespace
        self.lock = lock if lock is not None else nullcontext()
        self.on_commit = on_commit  # called with the new CommitSet after each recorded set (e.g. refresh views)
        self._tables: dict[str, object] = {}

    # -- construction --------------------------------------------------------------------------------------
    @classmethod
    def local(cls, home: str, on_commit=None) -> "Lakehouse":
        from filelock import FileLock
        from pyiceberg.catalog.sql import SqlCatalog

        os.makedirs(os.path.join(home, "warehouse"), exist_ok=True)
        lock = FileLock(os.path.join(home, "catalog.lock"), timeout=600)
        # SqlCatalog creates its tables when it opens: two processes on a fresh home must not race. A lock of its
        # own, not the commit lock: opening the catalog (a reader, the UI) never waits for a commit in progress.
        with FileLock(os.path.join(home, "catalog-open.lock"), timeout=600):
            catalog = SqlCatalog(
                "genolake",
                uri=f"sqlite:///{os.path.abspath(home)}/catalog.db",
                warehouse=_uri(os.path.join(home, "warehouse")),
            )
        # Several processes share the SQLite file (concurrent runs, the CLI, the UI): wait for a busy database
        # instead of failing after SQLite's default 5 s.
        from sqlalchemy import create_engine

        catalog.engine = create_engine(f"sqlite:///{os.path.abspath(home)}/catalog.db", connect_args={"timeout": 120})
        return cls(catalog, _uri(os.path.join(home, "warehouse")), lock=lock, on_commit=on_commit)

    @classmethod
    def glue(cls, warehouse: str, database: str = DATABASE, region: str | None = None, lock=None,
             on_commit=None, **properties) -> "Lakehouse":
        """The Glue Data Catalog; every client honours AWS_ENDPOINT_URL (and _GLUE/_S3) as botocore does."""
        from pyiceberg.catalog.glue import GlueCatalog

        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        props = {"glue.region": region, "s3.region": region, **properties}
        glue_endpoint = os.environ.get("AWS_ENDPOINT_URL_GLUE") or os.environ.get("AWS_ENDPOINT_URL")
        s3_endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if glue_endpoint:
            props.setdefault("glue.endpoint", glue_endpoint)
        if s3_endpoint:
            props.setdefault("s3.endpoint", s3_endpoint)
        catalog = GlueCatalog("genolake", **{k: v for k, v in props.items() if v is not None})
        return cls(catalog, warehouse, lock=lock, namespace=database, on_commit=on_commit)

    # -- tables --------------------------------------------------------------------------------------------
    def identifier(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def location(self, name: str) -> str:
        return f"{self.warehouse}/{name}"

    @property
    def root(self) -> str:
        """The warehouse root as writers take it (a local path for file:// warehouses): table data goes to
        ``<root>/<table>/data/`` (``transforms.tables.data_dir``)."""
        return local_path(self.warehouse)

    def data_location(self, name: str) -> str:
        return data_dir(self.root, name)

    # -- where writers write -------------------------------------------------------------------------------
    @property
    def remote(self) -> bool:
        """True for an object-store warehouse (s3://): writers stage files locally and ``publish`` uploads them."""
        return "://" in self.root

    def staging_root(self) -> str:
        """The root a writer writes new data files under (``<root>/<table>/data/...``): the warehouse itself when
        it is a local folder, else a fresh local staging folder whose files ``publish`` uploads."""
        if not self.remote:
            return self.root
        import tempfile

        return tempfile.mkdtemp(prefix="genolake-staging-")

    def publish(self, paths: list[str], staging_root: str) -> list[str]:
        """The warehouse locations of files written under ``staging_root`` (uploaded first when remote, at the
        same relative path, so the partition folders and unique file names are kept)."""
        if not self.remote or os.path.abspath(staging_root) == os.path.abspath(self.root):
            return list(paths)
        fs, base = _filesystem(self.table(COMMIT_LOG.name, refresh=False), self.warehouse)
        local = pafs.LocalFileSystem()
        out = []
        for path in paths:
            relative = os.path.relpath(path, staging_root).replace(os.sep, "/")
            pafs.copy_files(path, f"{base}/{relative}", source_filesystem=local, destination_filesystem=fs)
            out.append(f"{self.warehouse}/{relative}")
        return out

    def discard_staging(self, staging_root: str) -> None:
        if self.remote and os.path.abspath(staging_root) != os.path.abspath(self.root):
            import shutil

            shutil.rmtree(staging_root, ignore_errors=True)

    def delete_files(self, uris: list[str]) -> None:
        """Remove data files that will not be committed (failed checks, a rejected file): local paths or URIs."""
        for uri in uris:
            fs, path = _filesystem(self.table(COMMIT_LOG.name, refresh=False), uri)
            try:
                fs.delete_file(path)
            except FileNotFoundError:
                pass

    def localize(self, uris: list[str]) -> list[str]:
        """Local paths for data files (a local-mode Spark cannot read s3://): downloaded once per process."""
        if not self.remote:
            return [local_path(u) for u in uris]
        import tempfile

        if getattr(self, "_cache", None) is None:
            self._cache = tempfile.mkdtemp(prefix="genolake-cache-")
        fs, _ = _filesystem(self.table(COMMIT_LOG.name, refresh=False), self.warehouse)
        out = []
        for uri in uris:
            _, path = _filesystem(self.table(COMMIT_LOG.name, refresh=False), uri)
            target = os.path.join(self._cache, _normal(uri))
            if not os.path.exists(target):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                pafs.copy_files(path, target + ".part", source_filesystem=fs,
                                destination_filesystem=pafs.LocalFileSystem())
                os.replace(target + ".part", target)
            out.append(target)
        return out

    def _contract(self, name: str) -> Table:
        if name == COMMIT_LOG.name:
            return COMMIT_LOG
        if name not in TABLES:
            raise LakehouseError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")
        return TABLES[name]

    def table(self, name: str, refresh: bool = True):
        """The Iceberg table for a contract, created (or evolved to the contract's columns) on first use."""
        if name in self._tables:
            table = self._tables[name]
            return table.refresh() if refresh else table
        contract = self._contract(name)
        from pyiceberg.exceptions import NoSuchTableError

        try:  # a read first: creating is a write, and readers should not contend for the catalog's lock
            table = self.catalog.load_table(self.identifier(name))
        except NoSuchTableError:
            table = None
        schema = iceberg_schema(contract)
        if table is None and not self.catalog.namespace_exists(self.namespace):
            self.catalog.create_namespace_if_not_exists(self.namespace, {"comment": "genolake: genomics lakehouse"})
        table = table or self.catalog.create_table_if_not_exists(
            self.identifier(name), schema, location=self.location(name),
            partition_spec=partition_spec(contract, schema), sort_order=sort_order(contract, schema),
            properties={**TABLE_PROPERTIES, "comment": contract.description},
        )
        missing = [c for c in contract.all_columns if c.name not in {f.name for f in table.schema().fields}]
        if missing:  # schema evolution: a column added to the contract is added to the table
            with table.update_schema() as update:
                update.union_by_name(iceberg_schema(contract))
        spec_names = [f.name for f in table.spec().fields]
        wanted = [c.name for c in contract.partition_columns]
        if set(spec_names) != set(wanted) and set(spec_names) <= set(wanted):
            # partition evolution: a partition column added to the contract (files written before keep their
            # spec; readers take each file's partition values by its own spec)
            with table.update_spec() as update:
                for name in wanted:
                    if name not in spec_names:
                        update.add_identity(name)
        stale = {k: v for k, v in TABLE_PROPERTIES.items() if k != "format-version" and table.properties.get(k) != v}
        if stale:  # a table created by an older genolake takes today's properties (once)
            with table.transaction() as tx:
                tx.set_properties(stale)
        self._tables[name] = table
        return table

    def ensure_tables(self, names: Iterable[str] | None = None) -> None:
        for name in names or [*TABLES, COMMIT_LOG.name]:
            self.table(name, refresh=False)

    # -- reading sets --------------------------------------------------------------------------------------
    def current_set(self) -> CommitSet:
        log = self.table(COMMIT_LOG.name)
        snapshot = log.current_snapshot()
        return _set_from_summary(snapshot) if snapshot is not None else EMPTY

    def sets(self) -> list[CommitSet]:
        """Every recorded set still in the commit log's history, oldest first."""
        log = self.table(COMMIT_LOG.name)
        found = [_set_from_summary(s) for s in log.snapshots() if _props(s).get(COMMIT_ID)]
        return sorted(found, key=lambda s: s.committed_at)

    def set_as_of(self, as_of: str) -> CommitSet:
        """The set to read for ``--as-of``: a snapshot id of any table (the first set that contains it) or an
        ISO time (the newest set recorded at or before it)."""
        sets = self.sets()
        text = as_of.strip()
        if text.lstrip("-").isdigit():
            wanted = int(text)
            for found in sets:
                if wanted in found.snapshots.values():
                    return found
            raise LakehouseError(f"--as-of {text}: no recorded snapshot set contains snapshot {text} "
                                 f"(see `genolake history <table>`; expired snapshots cannot be read)")
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise LakehouseError(f"--as-of {text!r}: expected a snapshot id or an ISO time such as "
                                 f"2026-11-23T10:00:00Z") from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        earlier = [s for s in sets if s.committed_at <= when]
        if not earlier:
            first = sets[0].committed_at.isoformat(timespec="seconds") if sets else "never"
            raise LakehouseError(f"--as-of {text}: nothing was committed at or before that time (first commit: {first})")
        return earlier[-1]

    def files(self, name: str, snapshot_id: int | None) -> list[DataFile]:
        """Data files of ``name`` at ``snapshot_id`` (None: the table had no rows in that set)."""
        if snapshot_id is None:
            return []
        table = self._knowing(name, snapshot_id)
        tasks = list(table.scan(snapshot_id=snapshot_id).plan_files())
        if any(t.delete_files for t in tasks):
            raise LakehouseError(f"{self.identifier(name)} has delete files (written by another engine): "
                                 "genolake's readers expect copy-on-write tables")
        out, specs = [], table.specs()
        for task in tasks:
            part = task.file.partition
            spec = specs.get(task.file.spec_id, table.spec())
            names = [f.name for f in spec.fields]
            values = {n: part[i] for i, n in enumerate(names)} if names else {}
            out.append(DataFile(task.file.file_path, task.file.record_count, task.file.file_size_in_bytes, values))
        return sorted(out, key=lambda f: f.path)

    # -- incremental derived tables ------------------------------------------------------------------------------
    def plan_increment(self, target: str, inputs: CommitSet, sources: Iterable[str], params: str = "",
                       column: str = "source_file") -> "Increment":
        """Which partitions (``column`` values, one per landed file) of the derived table ``target`` must be
        computed from the tables ``sources`` read at ``inputs``, and which removed, so that adding a file costs
        O(that file).

        A partition's *fingerprint* hashes the names of its data files in every source (names are unique per
        write: new content, a replaced file or a compaction gives new names) and ``params`` (thresholds, the
        ClinVar release: a change recomputes every partition). Writers put it in the derived files' path
        (``.../by_input=<fingerprint>/...``, see ``FINGERPRINT_DIR``), so it survives snapshot expiry. A partition
        is computed when its fingerprint differs from the derived files'; derived partitions whose source is gone
        are removed. Derived files without a fingerprint (written before) make the whole table recomputed."""
        import hashlib
        from collections import defaultdict

        names: dict[str, list[str]] = defaultdict(list)
        for source in sources:
            for f in self.files(source, inputs.snapshot(source)):
                key = f.partition.get(column)
                if key is not None:
                    names[key].append(f"{source}/{os.path.basename(f.path)}")
        want = {key: hashlib.sha1("\n".join([params, *sorted(v)]).encode()).hexdigest()[:16]
                for key, v in names.items()}
        have: dict[str, set] = defaultdict(set)
        full = False
        for f in self.files(target, inputs.snapshot(target)):
            found = _FINGERPRINT.search(f.path)
            key = f.partition.get(column)
            if found is None or key is None:
                full = True
                break
            have[key].add(found.group(1))
        if full:
            return Increment(sorted(want), [], want, full=True, keys=tuple(sorted(want)))
        empty = self._empty_partitions(target)  # computed before, with no rows (no files to carry a fingerprint)
        compute = sorted(k for k, fp in want.items() if have.get(k) != {fp} and not (k not in have and empty.get(k) == fp))
        remove = sorted((set(have) - set(want)) | (set(compute) & set(have)))
        return Increment(compute, remove, {k: want[k] for k in compute}, unchanged=len(want) - len(compute),
                         keys=tuple(sorted(want)))

    def _empty_partitions(self, target: str) -> dict[str, str]:
        import json

        return json.loads(self.table(target, refresh=False).properties.get(EMPTY_PARTITIONS, "{}"))

    def increment_change(self, target: str, increment: "Increment", files: list[str],
                         column: str = "source_file") -> Change:
        """The commit of an increment of ``target``: remove the recomputed and gone partitions, add ``files``, and
        remember the partitions computed with no rows (a file without ClinVar matches, without samples), so they are
        not computed again while their inputs stay the same."""
        import json
        from urllib.parse import unquote

        written = {unquote(m.group(1)) for f in files for m in [re.search(rf"/by_{column}=([^/]+)/", f)] if m}
        keep = set(increment.keys)
        empty = {k: v for k, v in self._empty_partitions(target).items() if k in keep and k not in increment.compute}
        empty.update({k: increment.fingerprints[k] for k in increment.compute if k not in written})
        properties = {EMPTY_PARTITIONS: json.dumps(empty, sort_keys=True, separators=(",", ":"))}
        return Change(target, files, increment.removal(column), properties)

    def _knowing(self, name: str, snapshot_id: int):
        """The table with metadata that knows ``snapshot_id`` (the cached metadata may predate another process's
        commit: a scan of a snapshot it does not know would silently find no files)."""
        table = self.table(name, refresh=False)
        if table.snapshot_by_id(snapshot_id) is None:
            table = self.table(name)
            if table.snapshot_by_id(snapshot_id) is None:
                raise LakehouseError(f"snapshot {snapshot_id} of {self.identifier(name)} no longer exists "
                                     "(expired by maintenance)")
        return table

    def read(self, name: str, snapshot_id: int | None, row_filter=None) -> pa.Table:
        """Rows of ``name`` at a snapshot, as Arrow with the contract's column order."""
        if snapshot_id is None:
            from pyiceberg.io.pyarrow import schema_to_pyarrow

            return schema_to_pyarrow(self.table(name, refresh=False).schema()).empty_table()
        scan = self._knowing(name, snapshot_id).scan(snapshot_id=snapshot_id,
                                                     **({"row_filter": row_filter} if row_filter is not None else {}))
        data = scan.to_arrow()
        return data.cast(pa.schema([f.with_type(_plain(f.type)) for f in data.schema]))

    def stats(self, name: str, snapshot_id: int | None) -> dict:
        files = self.files(name, snapshot_id)
        return {"iceberg_table": self.identifier(name), "snapshot_id": snapshot_id, "data_files": len(files),
                "rows": sum(f.records for f in files), "bytes": sum(f.bytes for f in files)}

    def history(self, name: str) -> list[dict]:
        """Snapshots of a table, oldest first: time, operation, the run that wrote them, rows added/removed,
        and whether a recorded set exposed it (a rolled-back partial commit never was)."""
        table = self.table(name)
        published = set()  # every snapshot some recorded set reads, and their ancestors
        for recorded in self.sets():
            snapshot_id = recorded.snapshot(name)
            if snapshot_id is not None and snapshot_id not in published and table.snapshot_by_id(snapshot_id):
                published |= {s.snapshot_id for s in _chain(table, table.snapshot_by_id(snapshot_id), None)}
        current = table.current_snapshot()
        rows = []
        for snap in sorted(table.snapshots(), key=lambda s: (s.timestamp_ms, s.sequence_number or 0)):
            summary = snap.summary or {}
            props = summary.additional_properties if hasattr(summary, "additional_properties") else {}
            rows.append({
                "snapshot_id": snap.snapshot_id,
                "parent_id": snap.parent_snapshot_id,
                "committed_at": datetime.fromtimestamp(snap.timestamp_ms / 1000, timezone.utc),
                "operation": summary.operation.value if summary else "",
                "genolake_operation": props.get(OPERATION, ""),
                "source_file": props.get(SOURCE_FILE, ""),
                "commit_id": props.get(COMMIT_ID, ""),
                "run_id": props.get(RUN_ID, ""),
                "rows_added": _count(snap, "added-records"),
                "rows_removed": _count(snap, "deleted-records"),
                "total_rows": _count(snap, "total-records"),
                "current": current is not None and snap.snapshot_id == current.snapshot_id,
                "published": snap.snapshot_id in published,
            })
        return rows

    # -- writing -------------------------------------------------------------------------------------------
    def commit(self, changes: list[Change], operation: str, run_id: str | None = None,
               source_file: str | None = None) -> CommitSet:
        """Commit ``changes`` (in the given order, one Iceberg transaction per table) and record them as one set."""
        with self._locked():
            self._repair()
            return self._commit_locked(changes, operation, run_id, source_file)

    def _commit_locked(self, changes: list[Change], operation: str, run_id: str | None,
                       source_file: str | None) -> CommitSet:
        commit_id = uuid.uuid4().hex
        props = {COMMIT_ID: commit_id, OPERATION: operation, RUN_ID: run_id or "", SOURCE_FILE: source_file or ""}
        pause = float(os.environ.get(PAUSE_ENV) or 0)
        added, removed = {}, {}
        for number, change in enumerate(changes):
            table = self.table(change.table)
            before = table.current_snapshot()
            tx = table.transaction()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Delete operation did not match any records")
                where = _removal(change.remove) if before is not None else None
                if where is not None:
                    tx.delete(where, snapshot_properties=props)
                if change.properties:
                    tx.set_properties(change.properties)
                if change.files:
                    # file names are unique per run: no need to scan the whole table for duplicates (keeps
                    # a commit O(its files), not O(table))
                    tx.add_files([_uri(f) for f in change.files], snapshot_properties=props,
                                 check_duplicate_files=False)
                if number and pause:
                    time.sleep(pause)
                tx.commit_transaction()
            after = table.current_snapshot()
            mine = [s for s in _chain(table, after, before) if _props(s).get(COMMIT_ID) == commit_id]
            added[change.table] = sum(_count(s, "added-records") for s in mine)
            removed[change.table] = sum(_count(s, "deleted-records") for s in mine)
        return self._record(commit_id, operation, run_id, source_file, added, removed)

    @contextmanager
    def _locked(self):
        with self.lock:
            yield

    def _heads(self) -> dict[str, int]:
        heads = {}
        for name in TABLES:
            snap = self.table(name).current_snapshot()
            if snap is not None:
                heads[name] = snap.snapshot_id
        return heads

    def _record(self, commit_id, operation, run_id, source_file, added, removed) -> CommitSet:
        heads = self._heads()
        now = datetime.now(timezone.utc)
        row = pa.table({
            "commit_id": [commit_id], "committed_at": pa.array([now], pa.timestamp("us", tz="UTC")),
            "operation": [operation], "run_id": [run_id], "source_file": [source_file],
            "changed": pa.array([sorted(set(added) | set(removed))], pa.list_(pa.string())),
            "snapshots": pa.array([list(heads.items())], pa.map_(pa.string(), pa.int64())),
            "rows_added": pa.array([list(added.items())], pa.map_(pa.string(), pa.int64())),
            "rows_removed": pa.array([list(removed.items())], pa.map_(pa.string(), pa.int64())),
        })
        summary = {COMMIT_ID: commit_id, OPERATION: operation, RUN_ID: run_id or "", SOURCE_FILE: source_file or "",
                   "genolake.committed-at": now.isoformat(),
                   **{SET_PREFIX + name: str(snapshot_id) for name, snapshot_id in heads.items()}}
        log = self.table(COMMIT_LOG.name)
        log.append(row.cast(_arrow_schema(log)), snapshot_properties=summary)
        recorded = CommitSet(commit_id, now, operation, heads, run_id, source_file)
        if self.on_commit is not None:
            self.on_commit(self, recorded)
        return recorded

    def repair(self) -> list[str]:
        with self._locked():
            return self._repair()

    def _repair(self) -> list[str]:
        """Roll back table heads that no recorded set contains: the commits of a run that died between its
        table commits (the lock guarantees no live run is between commits now). Records a 'repair' set."""
        current = self.current_set()
        rolled = []
        for name in TABLES:
            table = self.table(name)
            head = table.current_snapshot()
            expected = current.snapshot(name)
            if head is None or head.snapshot_id == expected:
                continue
            chain = _chain(table, head, table.snapshot_by_id(expected) if expected is not None else None)
            foreign = [s.snapshot_id for s in chain if not _props(s).get(COMMIT_ID)]
            if foreign:
                raise LakehouseError(
                    f"{self.identifier(name)}: snapshots {foreign} were committed by another writer on top of an "
                    f"unfinished genolake commit; roll the table back to snapshot {expected} by hand")
            if expected is not None:
                table.manage_snapshots().rollback_to_snapshot(expected).commit()
            else:
                from pyiceberg.expressions import AlwaysTrue

                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Delete operation did not match any records")
                    table.delete(AlwaysTrue(), snapshot_properties={COMMIT_ID: "repair", OPERATION: "repair"})
            ids = ", ".join(str(s.snapshot_id) for s in chain)
            rolled.append(f"{name}: rolled back snapshot(s) {ids} of unfinished commit "
                          f"{', '.join(sorted({_props(s).get(COMMIT_ID, '?') for s in chain}))}")
        if rolled:
            self._record(uuid.uuid4().hex, "repair", None, None, {}, {})
        return rolled

    # -- upkeep --------------------------------------------------------------------------------------------
    def expire_snapshots(self, older_than: timedelta, retain_last: int) -> dict[str, int]:
        """Expire each table's snapshots older than ``older_than``, keeping its newest ``retain_last`` and every
        snapshot the current set reads."""
        cutoff = datetime.now(timezone.utc) - older_than
        expired = {}
        with self._locked():
            current = self.current_set()
            for name in [*TABLES, COMMIT_LOG.name]:
                table = self.table(name)
                snaps = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
                keep = {s.snapshot_id for s in snaps[-max(retain_last, 1):]}
                keep |= {r.snapshot_id for r in table.metadata.refs.values()}
                keep |= {current.snapshot(name)} - {None}
                old = [s.snapshot_id for s in snaps if s.snapshot_id not in keep
                       and datetime.fromtimestamp(s.timestamp_ms / 1000, timezone.utc) < cutoff]
                if old:
                    table.maintenance.expire_snapshots().by_ids(old).commit()
                expired[name] = len(old)
        return expired

    def remove_orphan_files(self, older_than: timedelta) -> dict[str, list[str]]:
        """Delete files under each table's location that no snapshot or metadata file refers to (data files of
        killed runs, leftovers of expired snapshots), if older than ``older_than`` (a running writer's files
        are young)."""
        cutoff = time.time() - older_than.total_seconds()
        removed = {}
        with self._locked():
            for name in [*TABLES, COMMIT_LOG.name]:
                table = self.table(name)
                referenced = self._referenced(table)
                fs, root = _filesystem(table, self.location(name))
                try:
                    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
                except FileNotFoundError:
                    infos = []
                gone = []
                for info in infos:
                    if info.type != pafs.FileType.File:
                        continue
                    mtime = info.mtime.timestamp() if info.mtime else 0
                    if _normal(info.path) in referenced or mtime > cutoff:
                        continue
                    fs.delete_file(info.path)
                    gone.append(info.path)
                removed[name] = gone
        return removed

    def compact(self, min_files: int = 2, max_bytes: int = 512 << 20) -> dict[str, dict]:
        """Rewrite each partition that holds ``min_files`` or more data files (at most ``max_bytes`` in all) into one
        file, streamed batch by batch (memory stays flat), and commit the rewrites of every table as one recorded
        set (operation ``compact``): rows are unchanged, earlier sets still read the old files (time travel works
        until their snapshots expire; the old files become orphans then). A derived partition keeps its input
        fingerprint (``by_input=``), so compacting it does not make it stale. Per table: partitions and files
        rewritten."""
        import pyarrow.parquet as pq
        from collections import defaultdict

        done: dict[str, dict] = {}
        with self._locked():
            self._repair()
            current = self.current_set()
            staging = self.staging_root()
            changes = []
            try:
                for name in TABLES:
                    contract = self._contract(name)
                    wanted = {c.name for c in contract.partition_columns}
                    groups = defaultdict(list)
                    for f in self.files(name, current.snapshot(name)):
                        found = _FINGERPRINT.search(f.path)
                        groups[(tuple(sorted(f.partition.items())), found.group(1) if found else None)].append(f)
                    new, removed, rewritten = [], [], 0
                    for (partition, fingerprint), files in sorted(groups.items(), key=lambda g: str(g[0])):
                        values = dict(partition)
                        if len(files) < min_files or set(values) != wanted or sum(f.bytes for f in files) > max_bytes:
                            continue
                        if len({fp for (p, fp) in groups if p == partition}) > 1:
                            continue  # two fingerprints in one partition: left for the next increment to settle
                        folder = "/".join([f"by_{k}={_escape(str(values[k]))}" for k in
                                           [c.name for c in contract.partition_columns]]
                                          + ([f"{FINGERPRINT_DIR}={fingerprint}"] if fingerprint else []))
                        target = f"{data_dir(staging, name)}/compact-{uuid.uuid4().hex[:12]}/{folder}/part-0.parquet"
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        local = self.localize([f.path for f in files])
                        schema = pq.read_schema(local[0])
                        with pq.ParquetWriter(target, schema, compression="zstd") as writer:
                            for path in local:
                                for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536):
                                    writer.write_table(pa.Table.from_batches([batch]).cast(schema))
                        new.append(target)
                        removed.append(values)
                        rewritten += len(files)
                    if new:
                        changes.append(Change(name, self.publish(new, staging), removed))
                        done[name] = {"partitions_compacted": len(new), "files_rewritten": rewritten}
                if changes:  # under the same lock: no commit can land between reading the files and replacing them
                    self._commit_locked(changes, "compact", None, None)
            finally:
                self.discard_staging(staging)
        return done

    def maintain(self, older_than: timedelta, retain_last: int, orphans_older_than: timedelta,
                 compact_min_files: int = 2) -> dict[str, dict]:
        """Compact partitions of many small files, expire old snapshots, then remove orphan files; per table what
        was done."""
        compacted = self.compact(compact_min_files) if compact_min_files else {}
        expired = self.expire_snapshots(older_than, retain_last)
        orphans = self.remove_orphan_files(orphans_older_than)
        return {name: {"partitions_compacted": compacted.get(name, {}).get("partitions_compacted", 0),
                       "files_rewritten": compacted.get(name, {}).get("files_rewritten", 0),
                       "expired_snapshots": expired.get(name, 0), "orphan_files_removed": len(orphans.get(name, [])),
                       "orphan_files": orphans.get(name, [])} for name in [*TABLES, COMMIT_LOG.name]}

    def _referenced(self, table) -> set[str]:
        """Every file the table's metadata can reach: metadata files, manifest lists, manifests, data files."""
        meta = table.metadata
        paths = {table.metadata_location, *(e.metadata_file for e in meta.metadata_log)}
        for snap in meta.snapshots:
            paths.add(snap.manifest_list)
            for manifest in snap.manifests(table.io):
                paths.add(manifest.manifest_path)
                for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                    paths.add(entry.data_file.file_path)
        for stats in (meta.statistics or []):
            paths.add(stats.statistics_path)
        return {_normal(p) for p in paths if p}


def _escape(value: str) -> str:
    """A partition value as a folder name (Hive-style escaping of the characters a path cannot hold)."""
    from urllib.parse import quote

    return quote(value, safe="-_.~ ")


def _removal(remove):
    """The delete predicate of ``Change.remove``: None (nothing), {} (everything), {column: value} (a partition),
    {column: [values]} (those partitions; an empty list: nothing), or a list of such dicts (their union)."""
    from pyiceberg.expressions import AlwaysTrue, And, EqualTo, In, Or

    if remove is None:
        return None
    if isinstance(remove, list):
        parts = [p for p in (_removal(r) for r in remove) if p is not None]
        return None if not parts else parts[0] if len(parts) == 1 else Or(*parts)
    if any(isinstance(v, (list, tuple, set)) and not v for v in remove.values()):
        return None
    terms = [In(k, list(v)) if isinstance(v, (list, tuple, set)) else EqualTo(k, v) for k, v in remove.items()]
    return AlwaysTrue() if not terms else terms[0] if len(terms) == 1 else And(*terms)


def _filesystem(table, uri: str):
    """The pyarrow filesystem and path for ``uri`` as the table's own FileIO builds it: from the catalog's
    ``s3.*`` properties (endpoint, region, keys), which ``FileSystem.from_uri`` would ignore."""
    from pyiceberg.io.pyarrow import PyArrowFileIO

    if isinstance(table.io, PyArrowFileIO):
        scheme, netloc, path = PyArrowFileIO.parse_location(uri, table.io.properties)
        return table.io.fs_by_scheme(scheme, netloc), path
    return pafs.FileSystem.from_uri(uri)


def _normal(path: str) -> str:
    for prefix in ("file://", "s3://", "s3a://"):
        if path.startswith(prefix):
            return path[len(prefix):]
    return path


def _plain(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def _props(snapshot) -> dict:
    summary = getattr(snapshot, "summary", None)
    return dict(summary.additional_properties) if summary is not None else {}


def _count(snapshot, key: str) -> int:
    return int(_props(snapshot).get(key) or 0)


def _chain(table, head, stop) -> list:
    """Snapshots from ``head`` back to (not including) ``stop``."""
    out, node = [], head
    stop_id = stop.snapshot_id if stop is not None else None
    while node is not None and node.snapshot_id != stop_id:
        out.append(node)
        node = table.snapshot_by_id(node.parent_snapshot_id) if node.parent_snapshot_id is not None else None
    return out


def _set_from_summary(snapshot) -> CommitSet:
    props = _props(snapshot)
    snapshots = {k[len(SET_PREFIX):]: int(v) for k, v in props.items() if k.startswith(SET_PREFIX)}
    when = props.get("genolake.committed-at")
    committed = datetime.fromisoformat(when) if when else datetime.fromtimestamp(snapshot.timestamp_ms / 1000, timezone.utc)
    return CommitSet(props.get(COMMIT_ID), committed, props.get(OPERATION, ""), snapshots,
                     props.get(RUN_ID) or None, props.get(SOURCE_FILE) or None)


def _arrow_schema(table) -> pa.Schema:
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    return schema_to_pyarrow(table.schema(), include_field_ids=False)

