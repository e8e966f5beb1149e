"""VCF -> sparse Parquet tables with htslib (cyvcf2). No dagster import: this also runs as a Glue/EMR job.

Tables written per landed file (``source_file`` = the file's partition key) and chromosome:

* ``sites``: one row per variant allele (multi-allelic records split), 0-based half-open ``start``/``end``,
  per-allele genotype counts and AC/AN/AF computed from the genotypes.
* ``calls``: one row per sample x variant allele where the sample is not homozygous reference for that
  allele: it carries the allele, or a missing allele (``.``). Allele indices are kept as written in the
  VCF (index into the record's original REF+ALT list, -1 for ``.``; ``allele2`` is null for haploid calls).
  A sample of the file with no row at a site has the genotype given by the site's ``hom_ref_ploidy`` and
  ``hom_ref_phased`` (``0|0`` for phased diploid data); a reference-only call spelled differently from
  that (e.g. a haploid ``0`` on a diploid site) gets its own row, so queries stay exact. A record without GT
  has no calls and null ``hom_ref_ploidy``: its samples' genotypes are unknown (``.``).
* ``samples``: sample id x source file.

Parsing is done by htslib through cyvcf2 (``genotype.array()``, the fast path); a BGZF file with a tabix/CSI
index is split into regions and each record is assigned to exactly one region by its POS.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .naming import normalize_chromosome
from .vcf_validate import HeaderInfo, HtslibLog, RecordChecker, VcfRejected, check_header, normalise_warning

# Partition columns (chromosome, source_file) live in the directory names, not inside the files.
SITES_SCHEMA = pa.schema(
    [
        pa.field("start", pa.int64(), nullable=False),
        pa.field("end", pa.int64(), nullable=False),
        pa.field("ref", pa.string(), nullable=False),
        pa.field("alt", pa.string(), nullable=False),
        pa.field("alt_index", pa.int16(), nullable=False),
        pa.field("n_alleles", pa.int16(), nullable=False),
        pa.field("rsid", pa.string()),
        pa.field("qual", pa.float32()),
        pa.field("filters", pa.list_(pa.string())),
        pa.field("n_hom_ref", pa.int32(), nullable=False),
        pa.field("n_het", pa.int32(), nullable=False),
        pa.field("n_hom_alt", pa.int32(), nullable=False),
        pa.field("n_missing", pa.int32(), nullable=False),
        pa.field("ac", pa.int32(), nullable=False),
        pa.field("an", pa.int32(), nullable=False),
        pa.field("af", pa.float64()),
        pa.field("hom_ref_ploidy", pa.int8()),
        pa.field("hom_ref_phased", pa.bool_()),
        pa.field("info", pa.map_(pa.string(), pa.string())),
    ]
)

CALLS_SCHEMA = pa.schema(
    [
        pa.field("start", pa.int64(), nullable=False),
        pa.field("ref", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("alt", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("alt_index", pa.int16(), nullable=False),
        pa.field("sample_id", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("allele1", pa.int16(), nullable=False),
        pa.field("allele2", pa.int16()),
        pa.field("phased", pa.bool_(), nullable=False),
        pa.field("extra_alleles", pa.list_(pa.int16())),
        pa.field("dp", pa.int32()),
        pa.field("gq", pa.int32()),
        pa.field("ad", pa.list_(pa.int32())),
    ]
)

SAMPLES_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("sample_index", pa.int32(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
    ]
)

TABLE_SCHEMAS = {"sites": SITES_SCHEMA, "calls": CALLS_SCHEMA, "samples": SAMPLES_SCHEMA}
PARTITION_COLUMNS = {"sites": ("source_file", "chromosome"), "calls": ("source_file", "chromosome"), "samples": ("source_file",)}

_VECTOR_END = -2  # htslib's padding for calls of lower ploidy than the widest call in the record
_MISSING = -1


@dataclass(frozen=True)
class Region:
    """Records with ``start <= POS <= end`` on ``contig``; ``contig=None`` means the whole file in one pass."""

    contig: str | None = None
    start: int | None = None
    end: int | None = None

    @property
    def query(self) -> str | None:
        if self.contig is None:
            return None
        if self.start is None:
            return self.contig
        return f"{self.contig}:{self.start}-{self.end}"


@dataclass
class VcfHeader:
    samples: list[str]
    contigs: list[str]
    fileformat: str | None
    has_index: bool
    compression: str


def _index_path(path: str) -> str | None:
    for suffix in (".tbi", ".csi"):
        if os.path.exists(path + suffix):
            return path + suffix
    return None


def detect_compression(path: str) -> str:
    """'bgzf', 'gzip' (plain, not splittable) or 'none'."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if head[:2] != b"\x1f\x8b":
        return "none"
    # BGZF: gzip with FEXTRA and a 'BC' subfield.
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzf"
    return "gzip"


def _open(path: str):
    import cyvcf2

    # lazy=True would defer unpacking, but then reading rec.FORMAT crashes cyvcf2 0.35: keep the default.
    return cyvcf2.VCF(path, threads=1)


def read_header(path: str) -> VcfHeader:
    vcf = _open(path)
    try:
        fileformat = None
        for line in vcf.raw_header.splitlines():
            if line.startswith("##fileformat="):
                fileformat = line.split("=", 1)[1]
                break
        try:
            contigs = list(vcf.seqnames)
        except Exception:  # no index and no ##contig lines
            contigs = []
        return VcfHeader(
            samples=list(vcf.samples),
            contigs=contigs,
            fileformat=fileformat,
            has_index=_index_path(path) is not None,
            compression=detect_compression(path),
        )
    finally:
        vcf.close()


def plan_regions(path: str, target_bp: int = 5_000_000) -> list[Region]:
    """Split an indexed BGZF file into regions (one Spark task each); otherwise one whole-file region."""
    if detect_compression(path) != "bgzf" or _index_path(path) is None:
        return [Region()]
    vcf = _open(path)
    try:
        names = list(vcf.seqnames)
        lengths = dict(zip(names, getattr(vcf, "seqlens", []) or []))
        regions: list[Region] = []
        for contig in names:
            # Skip contigs with no records (tabix lists only contigs with data; header contigs may be empty).
            with warnings.catch_warnings():  # cyvcf2 warns for header contigs without records
                warnings.simplefilter("ignore")
                if next(iter(vcf(contig)), None) is None:
                    continue
            length = lengths.get(contig) or 0
            if length <= 0 or length <= target_bp:
                regions.append(Region(contig))
                continue
            for begin in range(1, length + 1, target_bp):
                regions.append(Region(contig, begin, min(begin + target_bp - 1, length)))
        return regions or [Region()]
    finally:
        vcf.close()


class _Batch:
    """Column buffers for one chromosome of one region, flushed to Arrow in chunks."""

    def __init__(self) -> None:
        self.sites: dict[str, list] = {f.name: [] for f in SITES_SCHEMA}
        # "site" holds each call's row number in this batch's sites: it indexes the ref/alt dictionaries.
        self.calls: dict[str, list] = {"start": [], "site": [], "alt_index": [], "sample": [], "allele1": [],
                                       "allele2": [], "allele2_valid": [], "phased": [], "extra": [], "dp": [], "gq": [],
                                       "ad": []}
        self.site_ref: list[str] = []
        self.site_alt: list[str] = []
        self.n_sites = 0

    def sites_batch(self) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays(
            [pa.array(self.sites[f.name], type=f.type) for f in SITES_SCHEMA], schema=SITES_SCHEMA
        )

    def calls_batch(self, sample_dictionary: pa.Array) -> pa.RecordBatch:
        c = self.calls
        if not c["start"]:
            return pa.RecordBatch.from_pylist([], schema=CALLS_SCHEMA)
        site_idx = np.concatenate(c["site"])
        allele2 = np.concatenate(c["allele2"])
        valid2 = np.concatenate(c["allele2_valid"])
        ref_dict = pa.array(self.site_ref, type=pa.string())
        alt_dict = pa.array(self.site_alt, type=pa.string())
        arrays = [
            pa.array(np.concatenate(c["start"]), type=pa.int64()),
            pa.DictionaryArray.from_arrays(pa.array(site_idx), ref_dict),
            pa.DictionaryArray.from_arrays(pa.array(site_idx), alt_dict),
            pa.array(np.concatenate(c["alt_index"]), type=pa.int16()),
            pa.DictionaryArray.from_arrays(pa.array(np.concatenate(c["sample"]).astype(np.int32)), sample_dictionary),
            pa.array(np.concatenate(c["allele1"]), type=pa.int16()),
            pa.array(allele2, type=pa.int16(), mask=~valid2),
            pa.array(np.concatenate(c["phased"]), type=pa.bool_()),
            _extra_column(c["extra"]),
            _int_column(c["dp"]),
            _int_column(c["gq"]),
            _pair_column(c["ad"]),
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=CALLS_SCHEMA)


def _int_column(parts: list) -> pa.Array:
    values = np.concatenate(parts)
    return pa.array(values, type=pa.int32(), mask=values <= _INT_MISSING)


def _extra_column(parts: list) -> pa.Array:
    """Alleles after the second of polyploid calls (list<int16>), null for haploid and diploid calls.

    ``parts`` holds, per site, either a row count (no polyploid call: all null) or a list of rows.
    """
    if all(isinstance(part, int) for part in parts):
        return pa.nulls(sum(parts), pa.list_(pa.int16()))
    rows = [row for part in parts for row in ([None] * part if isinstance(part, int) else part)]
    return pa.array(rows, type=pa.list_(pa.int16()))


def _pair_column(parts: list) -> pa.Array:
    """(k, 2) int arrays -> list<int32> of [ref, alt]; rows with a missing value are null."""
    pairs = np.concatenate(parts).astype(np.int32)
    offsets = pa.array(np.arange(0, 2 * len(pairs) + 1, 2, dtype=np.int32))
    mask = pa.array((pairs <= _INT_MISSING).any(axis=1))
    return pa.ListArray.from_arrays(offsets, pa.array(pairs.ravel(), type=pa.int32()), mask=mask)


_INT_MISSING = np.iinfo(np.int32).min + 1  # at or below: htslib's missing / vector-end sentinels


def _format_ints(rec, keys: set, key: str, n: int, width: int = 1) -> np.ndarray:
    """FORMAT/<key> as an (n, width) int32 array, missing as the sentinel; all missing when absent."""
    if key in keys:
        values = rec.format(key)
        if values is not None and values.dtype.kind == "i":
            if values.shape[1] < width:
                pad = np.full((n, width - values.shape[1]), np.iinfo(np.int32).min, dtype=values.dtype)
                values = np.hstack([values, pad])
            return values.astype(np.int32)
    return np.full((n, width), np.iinfo(np.int32).min, dtype=np.int32)


def _info_map(rec, info_numbers: dict[str, str], alt_index: int) -> list[tuple[str, str]] | None:
    """INFO as (key, text) pairs for one split allele: Number=A/R values cut to this allele, as bcftools norm does."""
    items = []
    for key, value in rec.INFO:
        number = info_numbers.get(key, ".")
        if value is True:
            text = "true"
        elif isinstance(value, tuple):
            if number == "A" and len(value) >= alt_index:
                value = (value[alt_index - 1],)
            elif number == "R" and len(value) > alt_index:
                value = (value[0], value[alt_index])
            text = ",".join("." if v is None else _text(v) for v in value)
        else:
            text = _text(value)
        items.append((key, text))
    return items or None


def _text(value) -> str:
    if isinstance(value, float):
        return repr(value) if value == value else "nan"
    return str(value)


def _add_record(batch: _Batch, rec, n_samples: int, header: HeaderInfo, checker: RecordChecker,
                line: int | None, where: str, samples: list[str]) -> None:
    checker.check(rec, line, where)
    alts = rec.ALT
    start = rec.start
    end = rec.end
    ref = rec.REF
    rsid = rec.ID
    qual = rec.QUAL
    filt = rec.FILTERS
    filters = list(filt) if filt else None
    n_alleles = len(alts) + 1
    format_keys = set(rec.FORMAT or []) if n_samples else set()

    alleles = None
    if "GT" in format_keys:
        gt = rec.genotype.array()
        if gt.shape[1] >= 2:
            alleles = gt[:, :-1]
            phased = gt[:, -1].astype(bool)
            present = alleles != _VECTOR_END
            ploidy = present.sum(axis=1)
            missing = (alleles == _MISSING).any(axis=1)
            # Phase is meaningless for haploid calls (htslib flags them phased); normalise for comparisons.
            phased_cmp = phased & (ploidy > 1)
            spelling = ploidy.astype(np.int64) * 2 + phased_cmp
            checker.check_genotypes(rec, alleles, line, where, samples)
            checker.check_format_sizes(rec, ploidy, line, where, samples)
            dp = _format_ints(rec, format_keys, "DP", n_samples)[:, 0]
            gq = _format_ints(rec, format_keys, "GQ", n_samples)[:, 0]
            ad = _format_ints(rec, format_keys, "AD", n_samples, width=n_alleles)
    elif n_samples:
        checker.check_format_sizes(rec, None, line, where, samples)

    for alt_index, alt in enumerate(alts, start=1):
        s = batch.sites
        s["start"].append(start)
        s["end"].append(end)
        s["ref"].append(ref)
        s["alt"].append(alt)
        s["alt_index"].append(alt_index)
        s["n_alleles"].append(n_alleles)
        s["rsid"].append(rsid)
        s["qual"].append(qual)
        s["filters"].append(filters)
        s["info"].append(_info_map(rec, header.info_numbers, alt_index))
        batch.site_ref.append(ref)
        batch.site_alt.append(alt)
        site_no = batch.n_sites
        batch.n_sites += 1
        if alleles is None:  # no GT: every sample's genotype is unknown ('.')
            for name in ("n_hom_ref", "n_het", "n_hom_alt", "ac", "an"):
                s[name].append(0)
            s["n_missing"].append(n_samples)
            s["af"].append(None)
            s["hom_ref_ploidy"].append(None)
            s["hom_ref_phased"].append(None)
            continue
        is_alt = alleles == alt_index
        carries = is_alt.any(axis=1)
        n_alt_copies = is_alt.sum(axis=1)
        called = ~missing
        hom_ref = called & ~carries
        hom_alt = called & (n_alt_copies == ploidy) & (ploidy > 0)
        het = called & carries & ~hom_alt
        ac = int(n_alt_copies.sum())
        an = int((alleles >= 0).sum())
        s["n_hom_ref"].append(int(hom_ref.sum()))
        s["n_het"].append(int(het.sum()))
        s["n_hom_alt"].append(int(hom_alt.sum()))
        s["n_missing"].append(int(missing.sum()))
        s["ac"].append(ac)
        s["an"].append(an)
        s["af"].append(ac / an if an else None)

        # Reference-only samples are implied by absence; pick the commonest spelling for them and store
        # any sample spelled otherwise explicitly.
        if hom_ref.any():
            counts = np.bincount(spelling[hom_ref])
            default = int(counts.argmax())
            exception = hom_ref & (spelling != default)
            s["hom_ref_ploidy"].append(default // 2)
            s["hom_ref_phased"].append(bool(default % 2))
            keep = carries | missing | exception
        else:
            s["hom_ref_ploidy"].append(None)
            s["hom_ref_phased"].append(None)
            keep = carries | missing
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            continue
        k = idx.size
        c = batch.calls
        c["start"].append(np.full(k, start, dtype=np.int64))
        c["site"].append(np.full(k, site_no, dtype=np.int32))
        c["alt_index"].append(np.full(k, alt_index, dtype=np.int16))
        c["sample"].append(idx.astype(np.int32))
        c["allele1"].append(alleles[idx, 0].astype(np.int16))
        if alleles.shape[1] > 1:
            a2 = alleles[idx, 1].astype(np.int16)
            c["allele2"].append(a2)
            c["allele2_valid"].append(a2 != _VECTOR_END)
        else:
            c["allele2"].append(np.zeros(k, dtype=np.int16))
            c["allele2_valid"].append(np.zeros(k, dtype=bool))
        c["phased"].append(phased[idx])
        if alleles.shape[1] > 2:
            extra = alleles[idx, 2:]
            c["extra"].append([[int(a) for a in row if a != _VECTOR_END] or None for row in extra])
        else:
            c["extra"].append(k)
        c["dp"].append(dp[idx])
        c["gq"].append(gq[idx])
        c["ad"].append(ad[idx][:, [0, alt_index]])


def _which(previous: str | None) -> str:
    return "the first record" if previous is None else f"the record after {previous}"


class _RegionReader:
    """Iterate one region's records under htslib's log: an htslib error rejects the file, warnings are counted."""

    def __init__(self, path: str, region: Region, header: HeaderInfo, name: str):
        self.path, self.region, self.header, self.name = path, region, header, name
        self.warnings: Counter = Counter()

    def records(self, vcf, log: HtslibLog):
        region = self.region
        records = iter(vcf(region.query) if region.query else vcf)
        number, previous = 0, None
        whole_file = region.contig is None
        while True:
            line = self.header.header_lines + number + 1 if whole_file else None
            try:
                rec = next(records)
            except StopIteration:
                self._read_log(log, line, previous, final=True)
                return
            except Exception as exc:  # htslib gave up on the record (cyvcf2 raises)
                messages = [m for m in log.new_messages() if "[E::" in m]
                raise VcfRejected(self.name, f"htslib cannot read {_which(previous)}", line,
                                  found="; ".join(messages) or str(exc)) from None
            self._read_log(log, line, previous)
            number += 1
            where = f"{rec.CHROM}:{rec.POS}"
            previous = where
            if region.start is not None and not (region.start <= rec.POS <= region.end):
                continue  # a region query returns overlapping records: own each record by its POS only
            yield rec, line, where

    def _read_log(self, log: HtslibLog, line: int | None, previous: str, final: bool = False) -> None:
        for message in log.new_messages():
            if "[E::" in message:
                # Never touch the record htslib failed on: cyvcf2 hands it back half-built.
                where = "the end of the file" if final else _which(previous)
                raise VcfRejected(self.name, f"htslib cannot read {where}", line, found=message.strip())
            if "[W::" in message or "Warning" in message:
                self.warnings[normalise_warning(message)] += 1


def iter_region(path: str, region: Region, header: HeaderInfo | None = None, name: str | None = None,
                chunk_records: int = 4096, warnings: Counter | None = None) -> Iterator[tuple[str, pa.RecordBatch, pa.RecordBatch]]:
    """Yield ``(chromosome, sites_batch, calls_batch)`` chunks for the records of one region.

    Raises VcfRejected (file, line, expected, found) on a record genolake will not take; htslib warnings are
    added to ``warnings``.
    """
    name = name or os.path.basename(path)
    header = header or check_header(path, name)
    reader = _RegionReader(path, region, header, name)
    checker = RecordChecker(name, header, check_order=region.contig is None, warnings=reader.warnings)
    with HtslibLog() as log:
        vcf = _open(path)
        reader.warnings.update(normalise_warning(m) for m in log.new_messages())  # opening, not records
        try:
            samples = list(vcf.samples)
            n_samples = len(samples)
            sample_dictionary = pa.array(samples, type=pa.string())
            batch, chrom, n_records = _Batch(), None, 0
            for rec, line, where in reader.records(vcf, log):
                rec_chrom = normalize_chromosome(rec.CHROM)
                if chrom is not None and (rec_chrom != chrom or n_records >= chunk_records):
                    yield chrom, batch.sites_batch(), batch.calls_batch(sample_dictionary)
                    batch, n_records = _Batch(), 0
                chrom = rec_chrom
                _add_record(batch, rec, n_samples, header, checker, line, where, samples)
                n_records += 1
            if chrom is not None and n_records:
                yield chrom, batch.sites_batch(), batch.calls_batch(sample_dictionary)
        finally:
            vcf.close()
            if warnings is not None:
                warnings.update(reader.warnings)


def _part_path(root: str, table: str, source_file: str, chromosome: str, part: str) -> str:
    return os.path.join(root, table, f"source_file={source_file}", f"chromosome={chromosome}", f"part-{part}.parquet")


def write_region(path: str, region: Region, out_root: str, source_file: str, part: str,
                 header: HeaderInfo | None = None, name: str | None = None) -> dict:
    """Parse one region and write its sites and calls as Parquet under ``out_root``.

    Returns ``{"files": [per-file stats], "warnings": {message: count}, "rejected": None | VcfRejected.to_dict()}``.
    """
    writers: dict[tuple[str, str], pq.ParquetWriter] = {}
    stats: dict[tuple[str, str], dict] = {}
    warnings: Counter = Counter()
    rejected = None
    try:
        for chrom, sites, calls in iter_region(path, region, header, name, warnings=warnings):
            for table, data, schema in (("sites", sites, SITES_SCHEMA), ("calls", calls, CALLS_SCHEMA)):
                key = (table, chrom)
                if key not in writers:
                    target = _part_path(out_root, table, source_file, chrom, part)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    writers[key] = pq.ParquetWriter(target, schema, compression="zstd")
                    stats[key] = {"table": table, "chromosome": chrom, "path": target, "rows": 0}
                if data.num_rows:
                    writers[key].write_batch(data)
                    stats[key]["rows"] += data.num_rows
    except VcfRejected as exc:
        rejected = exc.to_dict()
    finally:
        for writer in writers.values():
            writer.close()
    for item in stats.values():
        item["bytes"] = os.path.getsize(item["path"])
    return {"files": list(stats.values()), "warnings": dict(warnings), "rejected": rejected}


def write_samples(samples: list[str], out_root: str, source_file: str, source_path: str) -> dict:
    table = pa.table(
        {
            "sample_id": pa.array(samples, type=pa.string()),
            "sample_index": pa.array(range(len(samples)), type=pa.int32()),
            "source_path": pa.array([source_path] * len(samples), type=pa.string()),
        },
        schema=SAMPLES_SCHEMA,
    )
    target = os.path.join(out_root, "samples", f"source_file={source_file}", "part-0.parquet")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    pq.write_table(table, target, compression="zstd")
    return {"table": "samples", "chromosome": None, "path": target, "rows": table.num_rows, "bytes": os.path.getsize(target)}


@dataclass
class IngestStats:
    source_file: str
    regions: int
    files: list[dict]
    warnings: dict[str, int]

    def rows(self, table: str) -> int:
        return sum(f["rows"] for f in self.files if f["table"] == table)

    def chromosomes(self, table: str) -> list[str]:
        return sorted({f["chromosome"] for f in self.files if f["table"] == table and f["chromosome"]})


def ingest_vcf(spark, path: str, out_root: str, source_file: str, source_path: str | None = None,
               target_bp: int = 5_000_000) -> IngestStats:
    """Parse ``path`` in Spark tasks (one per region) and write sites/calls/samples Parquet under ``out_root``.

    ``out_root`` is a staging folder: the caller commits it (see resources.storage) so a failed run leaves
    the published tables untouched. Raises VcfRejected when any region finds a record genolake will not take.
    """
    name = os.path.basename(source_path or path)
    header = check_header(path, name)
    warnings = Counter({w: 1 for w in header.warnings})
    regions = plan_regions(path, target_bp=target_bp)
    run = uuid.uuid4().hex[:8]
    tasks = [(i, r) for i, r in enumerate(regions)]

    def run_partition(items):
        for i, region in items:
            yield i, write_region(path, region, out_root, source_file, f"{i:05d}-{run}", header, name)

    results = sorted(spark.sparkContext.parallelize(tasks, len(tasks)).mapPartitions(run_partition).collect())
    files = []
    for _, result in results:
        if result["rejected"]:
            raise VcfRejected(**{k: result["rejected"][k] for k in ("file", "reason", "line", "expected", "found")})
        files.extend(result["files"])
        warnings.update(result["warnings"])
    files.append(write_samples(header.samples, out_root, source_file, source_path or Path(path).name))
    return IngestStats(source_file=source_file, regions=len(regions), files=files, warnings=dict(warnings))
