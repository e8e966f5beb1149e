"""Storage zones on S3: the raw zone and quarantine, with exactly the interface of ``LocalStorage``.

Layout (relative to ``raw_uri`` / ``quarantine_uri``, the same as the local folders):

* ``<kind>/<key>/<sha256[:16]>/<name>`` (+ ``<name>.tbi`` / ``<name>.csi``), ``SOURCE.json`` and, once parsed
  and committed, ``PUBLISHED`` in the same version folder; ``<kind>/<key>/CURRENT`` holds ``<sha16>/<name>``.
* ``<stamp>-<uuid6>/<name>`` (+ index) and ``<name>.reason.json`` in quarantine.

``put_raw`` copies a landed S3 object server-side (boto3's managed copy: multipart above
``multipart_threshold``), keeping the object's metadata and adding ``sha256`` and ``source-location``; a local
source is uploaded with the managed ``upload_file``. An existing version is never overwritten. The copy is
verified before ``SOURCE.json`` and ``CURRENT`` are written: size equal to the local file hashed by the caller,
metadata ``sha256`` equal to the hash given, and S3's own SHA-256 checksum of the copy (requested on every copy and
upload): the full-object SHA-256 for a single-part object, or for a multipart one the composite (SHA-256 of the
parts' SHA-256s), recomputed from the local file with the object's part size (one more read of the file).
A copy that fails verification is deleted and ``RawCopyError`` raised.

``current_raw`` returns a *local* path (htslib reads files): the current version is downloaded once into
``cache_dir``; ``raw_uri_of`` gives its ``s3://`` URI.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from pydantic import PrivateAttr

from .aws import aws_errors, client, split_uri
from .interfaces import Storage

INDEX_SUFFIXES = (".tbi", ".csi")
# Headers a server-side copy with MetadataDirective=REPLACE would otherwise drop.
LIST_PAGE_SIZE = 1000  # S3's maximum; tests lower it to exercise paging
CONTENT_FIELDS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl")


class RawCopyError(RuntimeError):
    """A raw copy that does not match the file the caller hashed (it has been deleted)."""


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def _ascii(value: str) -> str:
    """S3 user metadata travels in HTTP headers: keep it ASCII."""
    return value if value.isascii() else quote(value, safe="/:@+=,;~")


def _not_found(exc) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _local_digests(path: str, part_size: int) -> tuple[str, str]:
    """(sha256 hex of the file, S3's COMPOSITE SHA-256 over ``part_size`` parts in base64, without ``-N``)."""
    import hashlib

    whole, digests = hashlib.sha256(), []
    with open(path, "rb") as handle:
        while True:
            part = handle.read(part_size)
            if not part:
                break
            whole.update(part)
            digests.append(hashlib.sha256(part).digest())
    return whole.hexdigest(), base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()


class S3Storage(Storage):
    raw_uri: str
    quarantine_uri: str
    region: Optional[str] = None
    cache_dir: Optional[str] = None
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunksize: int = 16 * 1024 * 1024

    # -- plumbing ----------------------------------------------------------------------------------------
    _client: Optional[tuple] = PrivateAttr(default=None)

    def _s3(self):
        """One client per resource instance and process (building a boto3 client costs ~0.1-0.3 s)."""
        if self._client is None or self._client[0] != os.getpid():
            self._client = (os.getpid(), client("s3", self.region))
        return self._client[1]

    def _transfer_config(self):
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=self.multipart_threshold,
                              multipart_chunksize=self.multipart_chunksize)

    @property
    def _raw(self) -> tuple[str, str]:
        return split_uri(self.raw_uri, "raw_uri")

    @property
    def _quarantine(self) -> tuple[str, str]:
        return split_uri(self.quarantine_uri, "quarantine_uri")

    def _raw_key(self, *parts: str) -> str:
        return _join(self._raw[1], *parts)

    def _head(self, s3, bucket: str, key: str, **kwargs) -> Optional[dict]:
        from botocore.exceptions import ClientError

        try:
            with aws_errors(f"reading s3://{bucket}/{key}"):
                return s3.head_object(Bucket=bucket, Key=key, **kwargs)
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise

    def _get_text(self, s3, bucket: str, key: str) -> Optional[str]:
        from botocore.exceptions import ClientError

        try:
            with aws_errors(f"reading s3://{bucket}/{key}"):
                return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise

    def _put_text(self, s3, bucket: str, key: str, text: str, content_type: str = "text/plain") -> None:
        with aws_errors(f"writing s3://{bucket}/{key}"):
            s3.put_object(Bucket=bucket, Key=key, Body=text.encode(), ContentType=content_type)

    def _list(self, s3, bucket: str, prefix: str):
        with aws_errors(f"listing s3://{bucket}/{prefix}"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix,
                                                                      PaginationConfig={"PageSize": LIST_PAGE_SIZE}):
                yield from page.get("Contents", [])

    def _delete_keys(self, s3, bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            if chunk:
                with aws_errors(f"deleting under s3://{bucket}/"):
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})

    def _current_rel(self, s3, kind: str, key: str) -> str:
        """``<sha16>/<name>`` of the current raw version; FileNotFoundError as LocalStorage."""
        bucket, _ = self._raw
        pointer = self._get_text(s3, bucket, self._raw_key(kind, key, "CURRENT"))
        if pointer is None or not pointer.strip():
            raise FileNotFoundError(f"no raw copy for {kind} partition {key!r}: materialize raw/{kind} first")
        return pointer.strip()

    # -- raw zone ----------------------------------------------------------------------------------------
    def put_raw(self, kind: str, key: str, source: str, sha256: str, name: str, location: str) -> str:
        """Copy a landed file (and its index) into ``<raw_uri>/<kind>/<key>/<sha256[:16]>/``; never overwrite."""
        s3 = self._s3()
        bucket, _ = self._raw
        version = self._raw_key(kind, key, sha256[:16])
        target = _join(version, name)
        if self._head(s3, bucket, target) is None:
            size = os.path.getsize(source)
            metadata = {"sha256": sha256, "source-location": _ascii(location)}
            if location.startswith(("s3://", "s3a://")):
                self._copy_landed(s3, source, location, bucket, target, size, metadata)
            else:
                self._upload_landed(s3, source, bucket, target, metadata)
            self._verify(s3, bucket, target, source, size, sha256)
            self._put_text(s3, bucket, _join(version, "SOURCE.json"), json.dumps(
                {"location": location, "sha256": sha256, "name": name,
                 "copied_at": datetime.now(timezone.utc).isoformat()}, indent=2) + "\n", "application/json")
        self._put_text(s3, bucket, self._raw_key(kind, key, "CURRENT"), f"{sha256[:16]}/{name}\n")
        return f"s3://{bucket}/{target}"

    def _copy_landed(self, s3, source: str, location: str, bucket: str, target: str, size: int,
                     metadata: dict) -> None:
        src_bucket, src_key = split_uri(location, "landed location")
        head = self._head(s3, src_bucket, src_key)
        if head is None:
            raise FileNotFoundError(f"{location}: the landed object is gone; land the file again to re-ingest it")
        if head["ContentLength"] != size:
            raise RawCopyError(f"{location}: the landed object has {head['ContentLength']} bytes but the fetched "
                               f"copy {source} has {size}; it changed after it was fetched, run the partition again")
        # Index first: a version folder whose data object exists is complete.
        for suffix in INDEX_SUFFIXES:
            if os.path.exists(source + suffix):
                self._upload(s3, source + suffix, bucket, target + suffix, {})
            elif self._head(s3, src_bucket, src_key + suffix) is not None:
                with aws_errors(f"copying {location}{suffix} to s3://{bucket}/{target}{suffix}"):
                    s3.copy({"Bucket": src_bucket, "Key": src_key + suffix}, bucket, target + suffix,
                            Config=self._transfer_config())
        extra = {"Metadata": {**head.get("Metadata", {}), **metadata}, "MetadataDirective": "REPLACE",
                 "CopySourceIfMatch": head["ETag"],  # the version just checked (_verify: it is the hashed one)
                 **{f: head[f] for f in CONTENT_FIELDS if head.get(f)}}
        extra["ChecksumAlgorithm"] = "SHA256"  # S3 computes the SHA-256 (per part when multipart) of the copy
        try:
            with aws_errors(f"copying {location} to s3://{bucket}/{target}"):
                s3.copy({"Bucket": src_bucket, "Key": src_key}, bucket, target, ExtraArgs=extra,
                        Config=self._transfer_config())
        except Exception:
            self._discard(s3, bucket, target)
            raise

    def _upload_landed(self, s3, source: str, bucket: str, target: str, metadata: dict) -> None:
        for suffix in INDEX_SUFFIXES:
            if os.path.exists(source + suffix):
                self._upload(s3, source + suffix, bucket, target + suffix, {})
        try:
            self._upload(s3, source, bucket, target, metadata)
        except Exception:
            self._discard(s3, bucket, target)
            raise

    def _upload(self, s3, path: str, bucket: str, key: str, metadata: dict) -> None:
        extra = {"Metadata": metadata} if metadata else {}
        extra["ChecksumAlgorithm"] = "SHA256"
        with aws_errors(f"uploading {path} to s3://{bucket}/{key}"):
            s3.upload_file(path, bucket, key, ExtraArgs=extra, Config=self._transfer_config())

    def _verify(self, s3, bucket: str, target: str, source: str, size: int, sha256: str) -> None:
        """Size, metadata sha256 and S3's own SHA-256 checksum of the copy against the file the caller hashed."""
        head = self._head(s3, bucket, target, ChecksumMode="ENABLED")
        problems = []
        if head is None:
            problems.append("the copy is missing")
        else:
            if head["ContentLength"] != size:
                problems.append(f"{head['ContentLength']} bytes, expected {size}")
            if head.get("Metadata", {}).get("sha256") != sha256:
                problems.append(f"metadata sha256 {head.get('Metadata', {}).get('sha256')!r}, expected {sha256}")
            reported = (head.get("ChecksumSHA256") or "").split("-")[0]
            if reported and not problems:
                parts = head["ETag"].strip('"').partition("-")[2]
                if parts:  # multipart: S3 reports the SHA-256 of the parts' SHA-256s
                    part_size = self._head(s3, bucket, target, PartNumber=1)["ContentLength"]
                    local_sha, expected = _local_digests(source, part_size)
                    if local_sha != sha256:
                        problems.append(f"the local file's sha256 is {local_sha}, expected {sha256}")
                else:
                    expected = base64.b64encode(bytes.fromhex(sha256)).decode()
                if reported != expected:
                    what = f"composite over {parts} parts" if parts else "sha256"
                    problems.append(f"S3 checksum ({what}) {reported}, expected {expected}")
        if problems:
            self._discard(s3, bucket, target)
            raise RawCopyError(f"raw copy s3://{bucket}/{target} does not match the landed file "
                               f"({'; '.join(problems)}); it was deleted, run the partition again")

    def _discard(self, s3, bucket: str, target: str) -> None:
        """Remove a failed copy and its index (best effort: the original error is what matters)."""
        try:
            self._delete_keys(s3, bucket, [target] + [target + s for s in INDEX_SUFFIXES])
        except Exception:
            pass

    def mark_published(self, kind: str, key: str) -> None:
        """Record that the current raw version of a partition has been parsed and committed to the warehouse."""
        s3 = self._s3()
        rel = self._current_rel(s3, kind, key)
        self._put_text(s3, self._raw[0], self._raw_key(kind, key, rel.split("/")[0], "PUBLISHED"), "")

    def is_published(self, kind: str, key: str, sha256: str) -> bool:
        """True when this exact content (by sha256) of the partition is already in the warehouse."""
        s3 = self._s3()
        try:
            version = self._current_rel(s3, kind, key).split("/")[0]
        except FileNotFoundError:
            return False
        return version == sha256[:16] and self._head(s3, self._raw[0],
                                                     self._raw_key(kind, key, version, "PUBLISHED")) is not None

    def retire_raw(self, kind: str, key: str) -> None:
        """Drop the current raw version of a rejected file (its copy is in quarantine)."""
        s3 = self._s3()
        bucket, _ = self._raw
        try:
            version = self._current_rel(s3, kind, key).split("/")[0]
        except FileNotFoundError:
            return
        prefix = self._raw_key(kind, key, version) + "/"
        keys = [self._raw_key(kind, key, "CURRENT")] + [o["Key"] for o in self._list(s3, bucket, prefix)]
        self._delete_keys(s3, bucket, keys)

    def raw_source(self, kind: str, key: str) -> dict:
        """Where the current raw copy came from: location (landing path or S3 key), sha256, name."""
        s3 = self._s3()
        version = self._current_rel(s3, kind, key).split("/")[0]
        text = self._get_text(s3, self._raw[0], self._raw_key(kind, key, version, "SOURCE.json"))
        if text is None:
            raise FileNotFoundError(f"no SOURCE.json for {kind} partition {key!r} (version {version})")
        return json.loads(text)

    def raw_uri_of(self, kind: str, key: str) -> str:
        """The ``s3://`` URI of the current raw copy."""
        return f"s3://{self._raw[0]}/{self._raw_key(kind, key, self._current_rel(self._s3(), kind, key))}"

    def current_raw(self, kind: str, key: str) -> str:
        """A local copy of the current raw version (downloaded once per version into ``cache_dir``)."""
        s3 = self._s3()
        bucket, prefix = self._raw
        rel = self._current_rel(s3, kind, key)
        version, name = rel.split("/", 1)
        root = Path(self.cache_dir or os.path.join(tempfile.gettempdir(), "genolake-raw-cache"))
        folder = root / bucket / (prefix or "_") / kind / key / version
        target = folder / name
        wanted = [name + s for s in ("",) + INDEX_SUFFIXES]
        objects = {o["Key"].rsplit("/", 1)[-1]: o for o in self._list(s3, bucket, self._raw_key(kind, key, version) + "/")}
        if name not in objects:
            raise FileNotFoundError(f"no raw copy for {kind} partition {key!r}: "
                                    f"{self.raw_uri}/{kind}/{key}/{rel} is missing; materialize raw/{kind} again")
        folder.mkdir(parents=True, exist_ok=True)
        for file in wanted:
            found = objects.get(file)
            local = folder / file
            if found is None or (local.exists() and local.stat().st_size == found["Size"]):
                continue
            tmp = folder / f".{file}.{uuid.uuid4().hex[:8]}.part"
            try:
                with aws_errors(f"downloading s3://{bucket}/{found['Key']}"):
                    s3.download_file(bucket, found["Key"], str(tmp), Config=self._transfer_config())
                os.replace(tmp, local)
            finally:
                tmp.unlink(missing_ok=True)
        return str(target)

    def quarantine_count(self) -> int:
        bucket, prefix = self._quarantine
        return sum(1 for o in self._list(self._s3(), bucket, prefix + "/" if prefix else "")
                   if o["Key"].endswith(".reason.json"))

    # -- quarantine --------------------------------------------------------------------------------------
    def quarantine(self, source: str, location: str, reason: dict) -> str:
        """Upload a rejected file (and index) to ``<quarantine_uri>/<stamp>-<uuid6>/`` with ``<name>.reason.json``."""
        s3 = self._s3()
        bucket, prefix = self._quarantine
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        folder = _join(prefix, f"{stamp}-{uuid.uuid4().hex[:6]}")  # never overwrite an earlier rejection
        name = location.rstrip("/").split("/")[-1]
        target = _join(folder, name)
        self._upload(s3, source, bucket, target, {"source-location": _ascii(location)})
        for suffix in INDEX_SUFFIXES:
            if os.path.exists(source + suffix):
                self._upload(s3, source + suffix, bucket, target + suffix, {})
        record = {"file": location, "quarantined_at": stamp, **reason}
        self._put_text(s3, bucket, _join(folder, name + ".reason.json"), json.dumps(record, indent=2) + "\n",
                       "application/json")
        return f"s3://{bucket}/{target}"
