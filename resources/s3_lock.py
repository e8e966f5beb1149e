"""A commit lock that works across machines: a lease object on S3 taken with a conditional write.

Locally the lakehouse serialises its commits with a file lock; runs on several machines (EMR, several Dagster run
workers) share no disk, so in aws mode the lock is an object created with ``If-None-Match: *`` (S3 conditional
writes: exactly one writer can create it). The object holds its owner and an expiry; a lease whose holder died is
taken over after it expires (deleted with ``If-Match`` on the ETag read, so two waiters cannot both steal it).
Commits hold the lock for seconds; the lease lasts ``ttl_seconds``.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from datetime import datetime, timedelta, timezone

from .aws import AwsError, aws_errors, client, split_uri


class LockTimeout(AwsError):
    pass


class S3Lease:
    def __init__(self, uri: str, ttl_seconds: float = 600, timeout_seconds: float = 900, poll_seconds: float = 0.5,
                 region: str | None = None):
        self.bucket, self.key = split_uri(uri, "lock")
        self.ttl = ttl_seconds
        self.timeout = timeout_seconds
        self.poll = poll_seconds
        self.region = region
        self._etag: str | None = None
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def _code(self, exc) -> str:
        return getattr(exc, "response", {}).get("Error", {}).get("Code", "")

    def acquire(self) -> None:
        from botocore.exceptions import ClientError

        s3 = client("s3", self.region)
        deadline = time.monotonic() + self.timeout
        wait = self.poll
        while True:
            expires = datetime.now(timezone.utc) + timedelta(seconds=self.ttl)
            body = json.dumps({"owner": self._owner, "expires_at": expires.isoformat()}).encode()
            try:
                with aws_errors(f"taking the commit lock {self.uri}"):
                    self._etag = s3.put_object(Bucket=self.bucket, Key=self.key, Body=body, IfNoneMatch="*")["ETag"]
                return
            except ClientError as exc:
                if self._code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                    raise
            self._take_over_if_expired(s3)
            if time.monotonic() > deadline:
                raise LockTimeout(f"the commit lock {self.uri} is still held after {self.timeout:.0f} s "
                                  f"({self.holder() or 'holder unknown'})")
            time.sleep(wait)
            wait = min(wait * 1.5, 5.0)

    def holder(self) -> str | None:
        try:
            return json.loads(client("s3", self.region).get_object(Bucket=self.bucket, Key=self.key)["Body"].read())["owner"]
        except Exception:
            return None

    def _take_over_if_expired(self, s3) -> None:
        from botocore.exceptions import ClientError

        try:
            found = s3.get_object(Bucket=self.bucket, Key=self.key)
            lease = json.loads(found["Body"].read())
            expired = datetime.fromisoformat(lease["expires_at"]) < datetime.now(timezone.utc)
        except ClientError as exc:
            if self._code(exc) in ("NoSuchKey", "404"):
                return  # released meanwhile: the next put wins or loses cleanly
            raise
        except (ValueError, KeyError):
            expired = True  # unreadable lease: treat as dead
        if expired:
            try:
                s3.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=found["ETag"])
            except ClientError as exc:
                if self._code(exc) not in ("PreconditionFailed", "NoSuchKey", "404"):
                    raise

    def release(self) -> None:
        from botocore.exceptions import ClientError

        if self._etag is None:
            return
        try:
            client("s3", self.region).delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self._etag)
        except ClientError as exc:
            if self._code(exc) not in ("PreconditionFailed", "NoSuchKey", "404"):
                raise  # PreconditionFailed: our lease expired and someone else holds it now; not ours to delete
        finally:
            self._etag = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False
