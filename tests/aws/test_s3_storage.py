"""S3Storage against the moto server: same interface and layout as LocalStorage, verified copies."""

import hashlib
import json
import os

import pytest

from resources.aws import client
from resources.s3_storage import RawCopyError, S3Storage
from resources.storage import LocalStorage

LANDING = "landing-bucket"
LAKE = "lake-bucket"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _keys(s3, bucket, prefix=""):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture
def s3(aws):
    s3 = client("s3")
    s3.create_bucket(Bucket=LANDING)
    s3.create_bucket(Bucket=LAKE)
    return s3


@pytest.fixture
def storage(s3, tmp_path):
    return S3Storage(raw_uri=f"s3://{LAKE}/raw", quarantine_uri=f"s3://{LAKE}/quarantine",
                     cache_dir=str(tmp_path / "cache"))


def _land(s3, tmp_path, name, data: bytes, index: bytes | None = None, metadata=None):
    """A landed object in S3 and the local copy the caller fetched and hashed."""
    s3.put_object(Bucket=LANDING, Key=f"incoming/{name}", Body=data, Metadata=metadata or {},
                  ContentType="application/gzip")
    local = tmp_path / "fetched" / name
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(data)
    if index is not None:
        s3.put_object(Bucket=LANDING, Key=f"incoming/{name}.tbi", Body=index)
        (tmp_path / "fetched" / (name + ".tbi")).write_bytes(index)
    return str(local), f"s3://{LANDING}/incoming/{name}"


def test_put_raw_server_side_copy_keeps_metadata_and_adds_sha(s3, storage, tmp_path):
    data = b"##fileformat=VCFv4.2\n" * 100
    local, location = _land(s3, tmp_path, "a.vcf.gz", data, index=b"TBI", metadata={"uploader": "lab-7"})
    sha = _sha(data)
    uri = storage.put_raw("vcf", "a", local, sha, "a.vcf.gz", location)
    key = f"raw/vcf/a/{sha[:16]}/a.vcf.gz"
    assert uri == f"s3://{LAKE}/{key}"
    head = s3.head_object(Bucket=LAKE, Key=key)
    assert head["Metadata"] == {"uploader": "lab-7", "sha256": sha, "source-location": location}
    assert head["ContentType"] == "application/gzip"
    assert s3.get_object(Bucket=LAKE, Key=key)["Body"].read() == data
    assert s3.get_object(Bucket=LAKE, Key=key + ".tbi")["Body"].read() == b"TBI"
    assert storage.raw_source("vcf", "a")["location"] == location
    assert storage.raw_source("vcf", "a")["sha256"] == sha
    assert storage.raw_uri_of("vcf", "a") == uri
    assert s3.get_object(Bucket=LAKE, Key="raw/vcf/a/CURRENT")["Body"].read().decode().strip() == \
        f"{sha[:16]}/a.vcf.gz"


def _multipart_storage(tmp_path):
    return S3Storage(raw_uri=f"s3://{LAKE}/raw", quarantine_uri=f"s3://{LAKE}/quarantine",
                     cache_dir=str(tmp_path / "cache"), multipart_threshold=5 * 1024 * 1024,
                     multipart_chunksize=5 * 1024 * 1024)


BIG = os.urandom(12 * 1024 * 1024 + 123)


def test_forced_multipart_copy_is_verified(s3, tmp_path):
    data = BIG
    local, location = _land(s3, tmp_path, "big.vcf.gz", data, metadata={"uploader": "lab-7"})
    storage = _multipart_storage(tmp_path)
    sha = _sha(data)
    uri = storage.put_raw("vcf", "big", local, sha, "big.vcf.gz", location)
    key = uri.split(f"s3://{LAKE}/", 1)[1]
    head = s3.head_object(Bucket=LAKE, Key=key)
    assert "-" in head["ETag"]  # it really went multipart
    assert head["ContentLength"] == len(data)
    assert head["Metadata"] == {"uploader": "lab-7", "sha256": sha, "source-location": location}
    assert open(storage.current_raw("vcf", "big"), "rb").read() == data


def test_multipart_copy_with_wrong_sha_is_refused(s3, tmp_path):
    local, location = _land(s3, tmp_path, "big.vcf.gz", BIG)
    with pytest.raises(RawCopyError, match="local file's sha256"):
        _multipart_storage(tmp_path).put_raw("vcf", "big", local, _sha(b"nope"), "big.vcf.gz", location)
    assert _keys(s3, LAKE, "raw/") == []


def test_multipart_copy_corrupted_in_flight_is_refused(s3, tmp_path, monkeypatch):
    """Same size, same metadata, one byte different: only S3's composite checksum can tell, and it does."""
    local, location = _land(s3, tmp_path, "big.vcf.gz", BIG)
    storage = _multipart_storage(tmp_path)
    real = S3Storage._copy_landed
    corrupt = tmp_path / "corrupt"
    corrupt.write_bytes(BIG[:-1] + bytes([BIG[-1] ^ 1]))

    def corrupting(self, s3c, source, loc, bucket, target, size, metadata):
        real(self, s3c, source, loc, bucket, target, size, metadata)
        s3c.upload_file(str(corrupt), bucket, target, ExtraArgs={"Metadata": metadata, "ChecksumAlgorithm": "SHA256"},
                        Config=self._transfer_config())

    monkeypatch.setattr(S3Storage, "_copy_landed", corrupting)
    with pytest.raises(RawCopyError, match="composite over 3 parts"):
        storage.put_raw("vcf", "big", local, _sha(BIG), "big.vcf.gz", location)
    assert _keys(s3, LAKE, "raw/") == []


def test_second_put_raw_does_not_overwrite(s3, storage, tmp_path):
    data = b"first\n" * 50
    local, location = _land(s3, tmp_path, "b.vcf", data)
    sha = _sha(data)
    uri = storage.put_raw("vcf", "b", local, sha, "b.vcf", location)
    key = uri.split(f"s3://{LAKE}/", 1)[1]
    before = s3.head_object(Bucket=LAKE, Key=key)
    source_before = storage.raw_source("vcf", "b")
    assert storage.put_raw("vcf", "b", local, sha, "b.vcf", location) == uri
    after = s3.head_object(Bucket=LAKE, Key=key)
    assert after["LastModified"] == before["LastModified"] and after["ETag"] == before["ETag"]
    assert storage.raw_source("vcf", "b") == source_before  # SOURCE.json not rewritten


def test_upload_from_local_location(s3, storage, tmp_path):
    source = tmp_path / "c.vcf"
    source.write_bytes(b"local landing\n")
    (tmp_path / "c.vcf.csi").write_bytes(b"CSI")
    sha = _sha(source.read_bytes())
    uri = storage.put_raw("vcf", "c", str(source), sha, "c.vcf", str(source))
    key = uri.split(f"s3://{LAKE}/", 1)[1]
    assert s3.head_object(Bucket=LAKE, Key=key)["Metadata"]["sha256"] == sha
    assert s3.get_object(Bucket=LAKE, Key=key + ".csi")["Body"].read() == b"CSI"


def test_published_round_trip_and_retire(s3, storage, tmp_path):
    data = b"v1\n"
    local, location = _land(s3, tmp_path, "d.vcf", data)
    sha = _sha(data)
    assert not storage.is_published("vcf", "d", sha)
    storage.put_raw("vcf", "d", local, sha, "d.vcf", location)
    assert not storage.is_published("vcf", "d", sha)
    storage.mark_published("vcf", "d")
    assert storage.is_published("vcf", "d", sha)
    assert not storage.is_published("vcf", "d", _sha(b"other"))
    storage.retire_raw("vcf", "d")
    assert _keys(s3, LAKE, "raw/vcf/d/") == []
    assert not storage.is_published("vcf", "d", sha)
    storage.retire_raw("vcf", "d")  # nothing to retire: no error
    with pytest.raises(FileNotFoundError, match=r"no raw copy for vcf partition 'd': materialize raw/vcf first"):
        storage.current_raw("vcf", "d")
    with pytest.raises(FileNotFoundError):
        storage.mark_published("vcf", "d")


def test_current_raw_downloads_identical_file_once(s3, storage, tmp_path):
    data = os.urandom(200_000)
    local, location = _land(s3, tmp_path, "e.vcf.gz", data, index=b"INDEX")
    sha = _sha(data)
    storage.put_raw("vcf", "e", local, sha, "e.vcf.gz", location)
    path = storage.current_raw("vcf", "e")
    assert path.startswith(str(tmp_path / "cache")) and path.endswith("/e.vcf.gz")
    assert open(path, "rb").read() == data
    assert open(path + ".tbi", "rb").read() == b"INDEX"
    mtime = os.stat(path).st_mtime_ns
    assert storage.current_raw("vcf", "e") == path
    assert os.stat(path).st_mtime_ns == mtime  # not downloaded again


def test_quarantine_writes_file_and_reason(s3, storage, tmp_path):
    assert storage.quarantine_count() == 0
    data = b"not a vcf\n"
    local, location = _land(s3, tmp_path, "bad.vcf", data, index=b"IDX")
    uri = storage.quarantine(local, location, {"reason": "no header", "line": 1, "kind": "vcf"})
    bucket, key = uri[len("s3://"):].split("/", 1)
    assert bucket == LAKE and key.startswith("quarantine/") and key.endswith("/bad.vcf")
    assert s3.get_object(Bucket=LAKE, Key=key)["Body"].read() == data
    assert s3.get_object(Bucket=LAKE, Key=key + ".tbi")["Body"].read() == b"IDX"
    record = json.loads(s3.get_object(Bucket=LAKE, Key=key + ".reason.json")["Body"].read())
    assert record["file"] == location and record["reason"] == "no header" and record["line"] == 1
    assert record["kind"] == "vcf" and key.split("/")[1].startswith(record["quarantined_at"])
    storage.quarantine(local, location, {"reason": "again"})
    assert storage.quarantine_count() == 2


def test_quarantine_count_pages(s3, storage, monkeypatch):
    import resources.s3_storage as module

    monkeypatch.setattr(module, "LIST_PAGE_SIZE", 2)
    calls = []
    s3.meta.events.register("before-call.s3.ListObjectsV2", lambda **kw: calls.append(1))
    monkeypatch.setattr(module, "client", lambda service, region=None: s3)  # to count its requests
    for i in range(5):
        s3.put_object(Bucket=LAKE, Key=f"quarantine/x-{i}/f.vcf.reason.json", Body=b"{}")
        s3.put_object(Bucket=LAKE, Key=f"quarantine/x-{i}/f.vcf", Body=b"")
    s3.put_object(Bucket=LAKE, Key="quarantine-other/y/f.vcf.reason.json", Body=b"{}")  # not under the prefix
    assert storage.quarantine_count() == 5
    assert len(calls) == 5  # 10 objects, 2 a page


def test_wrong_sha_is_refused_and_not_left_behind(s3, storage, tmp_path):
    data = b"content\n" * 10
    local, location = _land(s3, tmp_path, "f.vcf", data, index=b"I")
    wrong = _sha(b"something else")
    with pytest.raises(RawCopyError, match=r"S3 checksum \(sha256\)"):
        storage.put_raw("vcf", "f", local, wrong, "f.vcf", location)
    assert _keys(s3, LAKE, "raw/") == []


def test_landed_object_changed_after_fetch_is_refused(s3, storage, tmp_path):
    data = b"fetched version\n"
    local, location = _land(s3, tmp_path, "g.vcf", data)
    s3.put_object(Bucket=LANDING, Key="incoming/g.vcf", Body=b"a newer, longer upload\n")
    with pytest.raises(RawCopyError, match="changed after it was fetched"):
        storage.put_raw("vcf", "g", local, _sha(data), "g.vcf", location)
    assert _keys(s3, LAKE, "raw/") == []


def test_bad_copy_detected_after_copy_is_deleted(s3, storage, tmp_path, monkeypatch):
    """A copy whose size differs (truncated in flight) is deleted and refused."""
    data = b"full content\n" * 20
    local, location = _land(s3, tmp_path, "h.vcf", data)
    real = S3Storage._copy_landed

    def truncating(self, s3c, source, loc, bucket, target, size, metadata):
        real(self, s3c, source, loc, bucket, target, size, metadata)
        s3c.put_object(Bucket=bucket, Key=target, Body=data[:-5], Metadata=metadata)

    monkeypatch.setattr(S3Storage, "_copy_landed", truncating)
    with pytest.raises(RawCopyError, match=f"{len(data) - 5} bytes, expected {len(data)}"):
        storage.put_raw("vcf", "h", local, _sha(data), "h.vcf", location)
    assert _keys(s3, LAKE, "raw/") == []


def test_same_layout_as_local_storage(s3, storage, tmp_path):
    data = b"same layout\n"
    local, location = _land(s3, tmp_path, "i.vcf.gz", data, index=b"T")
    sha = _sha(data)
    home = tmp_path / "home"
    local_storage = LocalStorage(home=str(home))
    for face in (storage, local_storage):
        face.put_raw("vcf", "i", local, sha, "i.vcf.gz", location)
        face.mark_published("vcf", "i")
    local_files = sorted(str(p.relative_to(home / "raw")) for p in (home / "raw").rglob("*") if p.is_file())
    s3_files = [k[len("raw/"):] for k in _keys(s3, LAKE, "raw/")]
    assert s3_files == local_files
    assert (home / "raw/vcf/i/CURRENT").read_text() == \
        s3.get_object(Bucket=LAKE, Key="raw/vcf/i/CURRENT")["Body"].read().decode()
    local_source, s3_source = local_storage.raw_source("vcf", "i"), storage.raw_source("vcf", "i")
    assert {k: v for k, v in local_source.items() if k != "copied_at"} == \
        {k: v for k, v in s3_source.items() if k != "copied_at"}
    assert open(storage.current_raw("vcf", "i"), "rb").read() == open(local_storage.current_raw("vcf", "i"), "rb").read()
