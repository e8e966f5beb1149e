"""The landing zone's aws face: an S3 prefix, optionally with an SQS queue of its S3 event notifications.

* ``list_objects()`` pages ListObjectsV2 over the whole prefix (never one page); keys under a ``.`` folder or with a
  ``.`` name (partial uploads, editor files) are left out, like the local folder.
* ``receive()`` / ``delete()`` read and acknowledge the queue that S3 event notifications feed (queue mode).
* ``find`` / ``fetch`` / ``remove`` / ``land`` are the ``LandingZone`` faces the raw assets use.

ETags are kept without their quotes everywhere (S3 event notifications carry them that way); they are quoted again
only where S3 wants the header form (``If-Match``).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional
from urllib.parse import unquote_plus

from genolake_assets.transforms import naming

from .aws import aws_errors, client, split_uri
from .interfaces import LandingZone

SIDECARS = (".tbi", ".csi")
SKIP_INDEX = "index file"
SKIP_UNKNOWN = "not a VCF or ClinVar variant_summary file"


def clean_etag(etag: str | None) -> str:
    return (etag or "").strip().strip('"')


@dataclass(frozen=True)
class LandedObject:
    key: str  # the S3 key (bucket-relative)
    location: str  # s3://bucket/key
    etag: str  # without quotes
    size: int
    last_modified: datetime  # timezone-aware (UTC)
    kind: Optional[str]  # vcf | clinvar | index | None (see naming.file_kind)

    @property
    def partition_key(self) -> str:
        return naming.partition_key(self.location)


@dataclass(frozen=True)
class QueuedObject:
    """One ObjectCreated record of an S3 event notification read from the queue."""

    key: str
    location: str
    etag: str
    size: int
    event_name: str
    receipt_handle: str  # of the SQS message that carried it (one message may carry several records)
    message_id: str


@dataclass(frozen=True)
class QueueMessage:
    """One SQS message: its receipt handle and the records genolake takes from it (possibly none)."""

    message_id: str
    receipt_handle: str
    objects: tuple[QueuedObject, ...]
    ignored: tuple[str, ...]  # why records were left out (test event, other bucket, removal, ...)


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in PurePosixPath(relative).parts)


class S3LandingZone(LandingZone):
    """Files arrive under ``landing_uri`` (s3://bucket/prefix); with ``queue_url`` the sensor reads S3 event
    notifications from that SQS queue instead of listing the prefix."""

    landing_uri: str
    queue_url: Optional[str] = None
    region: Optional[str] = None
    cache_dir: Optional[str] = None
    lookback_seconds: int = 600  # listing mode: how far behind the newest LastModified the sensor looks again
    max_runs_per_tick: int = 500  # GENOLAKE_SENSOR_MAX_RUNS overrides it

    # ---- addressing ----------------------------------------------------------------------------------------
    @property
    def bucket(self) -> str:
        return split_uri(self.landing_uri, "landing_uri")[0]

    @property
    def prefix(self) -> str:
        """The key prefix, with a trailing slash (or '' for the whole bucket)."""
        prefix = split_uri(self.landing_uri, "landing_uri")[1]
        return f"{prefix}/" if prefix else ""

    def _s3(self):
        return client("s3", self.region)

    def _sqs(self):
        return client("sqs", self.region)

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _key(self, key_or_location: str) -> str | None:
        """A bucket key under the prefix, from a key (bucket- or prefix-relative) or an s3:// location."""
        if key_or_location.startswith(("s3://", "s3a://")):
            bucket, key = split_uri(key_or_location, "location")
            if bucket != self.bucket:
                return None
        else:
            key = key_or_location.lstrip("/")
            if not key.startswith(self.prefix):
                key = self.prefix + key
        return key if key.startswith(self.prefix) and key != self.prefix else None

    def under_prefix(self, key: str) -> bool:
        return key.startswith(self.prefix) and not _hidden(key[len(self.prefix):])

    # ---- listing ---------------------------------------------------------------------------------------------
    @staticmethod
    def classify(key: str) -> str:
        """'vcf' or 'clinvar', or the reason the key is skipped."""
        kind = naming.file_kind(key)
        if kind == "index":
            return SKIP_INDEX
        if kind is None:
            return SKIP_UNKNOWN
        return kind

    def _landed(self, key: str, etag: str, size: int, last_modified: datetime) -> LandedObject:
        if last_modified.tzinfo is None:
            last_modified = last_modified.replace(tzinfo=timezone.utc)
        return LandedObject(key, self.location(key), clean_etag(etag), int(size), last_modified,
                            naming.file_kind(key))

    def list_objects(self) -> Iterator[LandedObject]:
        """Every object under the prefix (all pages), partial uploads (``.`` names or folders) left out."""
        s3 = self._s3()
        paginator = s3.get_paginator("list_objects_v2")
        with aws_errors(f"listing the landing zone {self.landing_uri}"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", ()):
                    key = item["Key"]
                    if key.endswith("/") or not self.under_prefix(key):
                        continue
                    yield self._landed(key, item["ETag"], item["Size"], item["LastModified"])

    def list_files(self) -> list[LandedObject]:
        """Landed input files (VCF and ClinVar) in key order, like the local face."""
        return sorted((o for o in self.list_objects() if o.kind in ("vcf", "clinvar")), key=lambda o: o.key)

    # ---- one object --------------------------------------------------------------------------------------------
    def find(self, key_or_location: str) -> LandedObject | None:
        """The object at this key or s3:// location (HEAD), or None when absent or outside the landing prefix."""
        from botocore.exceptions import ClientError

        key = self._key(key_or_location)
        if key is None or _hidden(key[len(self.prefix):]):
            return None
        try:
            with aws_errors(f"looking up {self.location(key)}"):
                head = self._s3().head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return self._landed(key, head["ETag"], head["ContentLength"], head["LastModified"])

    def _cache_root(self) -> Path:
        root = Path(self.cache_dir) if self.cache_dir else Path(tempfile.gettempdir()) / "genolake-landing-cache"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def fetch(self, landed: LandedObject) -> str:
        """A local copy (downloaded once per ETag into ``cache_dir``, boto3's managed transfer), with its .tbi/.csi
        sidecar when present. (s3transfer does not accept ``IfMatch`` for downloads, so a re-upload racing the
        download is not detected here; its own run, keyed by the new ETag, ingests the new content.)"""
        from botocore.exceptions import ClientError

        s3 = self._s3()
        folder = self._cache_root() / landed.etag.replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / PurePosixPath(landed.key).name
        if not target.exists():
            tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
            with aws_errors(f"downloading {landed.location}"):
                s3.download_file(self.bucket, landed.key, str(tmp))
            os.replace(tmp, target)
        for suffix in SIDECARS:
            side = Path(str(target) + suffix)
            if side.exists():
                continue
            tmp = side.with_name(f".{side.name}.{os.getpid()}.part")
            try:
                with aws_errors(f"downloading {landed.location}{suffix}"):
                    s3.download_file(self.bucket, landed.key + suffix, str(tmp))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    continue
                raise
            os.replace(tmp, side)
        return str(target)

    def remove(self, landed: LandedObject) -> bool:
        """Delete the object and its sidecars, only if the object is still the version ``landed`` describes.

        ``DeleteObject`` with ``If-Match`` on the ETag: a newer upload under the same key (with its own index)
        survives, and False is returned."""
        from botocore.exceptions import ClientError

        s3 = self._s3()
        try:
            with aws_errors(f"removing {landed.location}"):
                s3.delete_object(Bucket=self.bucket, Key=landed.key, IfMatch=f'"{landed.etag}"')
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False  # replaced since: keep the newer file and its index
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        for suffix in SIDECARS:
            with aws_errors(f"removing {landed.location}{suffix}"):
                s3.delete_object(Bucket=self.bucket, Key=landed.key + suffix)
        return True

    def accepted(self, landed: LandedObject) -> None:
        """The raw zone holds a verified copy: move the object out of landing (a newer upload stays)."""
        self.remove(landed)

    def land(self, local_path: str, name: str | None = None) -> LandedObject:
        """Upload a file (index first, then the file, as an uploader should) under the prefix."""
        src = Path(local_path).resolve()
        relative = (name or src.name).lstrip("/")
        kind = naming.file_kind(relative)
        if kind not in ("vcf", "clinvar"):
            raise ValueError(f"{src}: not a VCF (.vcf, .vcf.gz, .vcf.bgz) or ClinVar variant_summary file")
        key = self.prefix + relative
        s3 = self._s3()
        for suffix in SIDECARS:
            if Path(str(src) + suffix).exists():
                with aws_errors(f"uploading {self.location(key)}{suffix}"):
                    s3.upload_file(str(src) + suffix, self.bucket, key + suffix)
        with aws_errors(f"uploading {self.location(key)}"):
            s3.upload_file(str(src), self.bucket, key)
        found = self.find(key)
        assert found is not None, key
        return found

    # ---- queue mode --------------------------------------------------------------------------------------------
    def parse_message(self, message: dict) -> QueueMessage:
        """The ObjectCreated records of one SQS message that fall under this landing prefix."""
        handle, message_id = message["ReceiptHandle"], message.get("MessageId", "")
        try:
            body = json.loads(message.get("Body") or "")
        except ValueError:
            return QueueMessage(message_id, handle, (), ("not JSON",))
        if isinstance(body, dict) and isinstance(body.get("Message"), str) and body.get("Type") == "Notification":
            try:  # delivered through SNS without raw message delivery
                body = json.loads(body["Message"])
            except ValueError:
                return QueueMessage(message_id, handle, (), ("SNS envelope without JSON",))
        if not isinstance(body, dict):
            return QueueMessage(message_id, handle, (), ("not an S3 event",))
        if body.get("Event") == "s3:TestEvent":
            return QueueMessage(message_id, handle, (), ("s3:TestEvent",))
        objects, ignored = [], []
        for record in body.get("Records") or ():
            event = str(record.get("eventName", ""))
            s3 = record.get("s3") or {}
            bucket = (s3.get("bucket") or {}).get("name")
            obj = s3.get("object") or {}
            key = unquote_plus(obj.get("key", ""))
            if not event.startswith("ObjectCreated:"):
                ignored.append(f"{event or 'no eventName'}: {key}")
            elif bucket != self.bucket:
                ignored.append(f"other bucket: s3://{bucket}/{key}")
            elif not self.under_prefix(key) or key.endswith("/"):
                ignored.append(f"outside {self.landing_uri} or partial upload: {key}")
            else:
                objects.append(QueuedObject(key, self.location(key), clean_etag(obj.get("eTag")),
                                            int(obj.get("size") or 0), event, handle, message_id))
        if not body.get("Records"):
            ignored.append("no Records")
        return QueueMessage(message_id, handle, tuple(objects), tuple(ignored))

    def receive(self, max_messages: int, wait_seconds: int = 1) -> list[QueueMessage]:
        """Up to ``max_messages`` messages (batches of 10, long-polling ``wait_seconds``), parsed. Stops at the
        first empty batch."""
        if not self.queue_url:
            raise ValueError("S3LandingZone.receive: no queue_url configured")
        sqs = self._sqs()
        messages: list[QueueMessage] = []
        while len(messages) < max_messages:
            with aws_errors(f"receiving from {self.queue_url}"):
                batch = sqs.receive_message(QueueUrl=self.queue_url,
                                            MaxNumberOfMessages=min(10, max_messages - len(messages)),
                                            WaitTimeSeconds=wait_seconds).get("Messages", [])
            if not batch:
                break
            messages.extend(self.parse_message(m) for m in batch)
        return messages

    def release(self, receipt_handles: list[str]) -> None:
        """Make received messages visible again now (they were received but not taken this tick)."""
        sqs = self._sqs()
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start:start + 10]
            with aws_errors(f"releasing messages on {self.queue_url}"):
                sqs.change_message_visibility_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(chunk)])

    def delete(self, receipt_handles: list[str]) -> list[dict]:
        """DeleteMessageBatch in chunks of 10. Returns the failures (``{"handle", "code", "message"}``); a stale or
        invalid receipt handle is a failure to report, not an error: the message comes back and its run key
        de-duplicates it."""
        if not receipt_handles:
            return []
        sqs = self._sqs()
        failures: list[dict] = []
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start:start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
            with aws_errors(f"deleting messages from {self.queue_url}"):
                response = sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failed in response.get("Failed", []):
                failures.append({"handle": chunk[int(failed["Id"])], "code": failed.get("Code", ""),
                                 "message": failed.get("Message", "")})
        return failures
