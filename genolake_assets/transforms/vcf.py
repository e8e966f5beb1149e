"""VCF -> sparse Parquet tables with htslib (cyvcf2). No dagster import: this also runs as a Glue/EMR job.

Tables written per landed file (``source_file`` = the file's partition key) and chromosome:

* ``sites``: one row per variant allele (multi-allelic records split), 0-based half-open ``start``/``end``,
  per-allele genotype counts and AC/AN/AF computed from the genotypes.
* ``calls``: one row per sample x variant allele where the sample is not homozygous reference for that
  allele: it carries the allele, or a missing allele (``.``). Allele indices are kept as written in the
  VCF (index into the record's original REF+ALT list, -1 for ``.``; ``allele2`` is null for haploid calls,
  whose ``phased`` is false).
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
from .tables import data_dir
from .vcf_validate import HeaderInfo, HtslibLog, RecordChecker, VcfRejected, check_header, normalise_warning

# Data columns as the parser builds them; the files also carry the partition columns (FILE_SCHEMAS below):
# an Iceberg table takes a data file's partition values from its column statistics, not from folder names.
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
_PART = pa.dictionary(pa.int32(), pa.string())  # one value per file: dictionary-encoded, costs next to nothing
FILE_SCHEMAS = {
    "sites": SITES_SCHEMA.append(pa.field("source_file", _PART, nullable=False)).append(pa.field("chromosome", _PART, nullable=False)),
    "calls": CALLS_SCHEMA.append(pa.field("source_file", _PART, nullable=False)).append(pa.field("chromosome", _PART, nullable=False)),
    "samples": SAMPLES_SCHEMA.append(pa.field("source_file", pa.string(), nullable=False)),
}
PARTITION_COLUMNS = {"sites": ("source_file", "chromosome"), "calls": ("source_file", "chromosome"), "samples": ("source_file",)}

_VECTOR_END = -2  # htslib's padding for calls of lower ploidy than the widest call in the record
_MISSING = -1
_INT_MISSING = np.iinfo(np.int32).min + 1  # at or below: htslib's missing / vector-end sentinels


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
    # No decompression thread: with every core running a task it costs ~8% more CPU for no gain.
    return cyvcf2.VCF(path)


def read_header(path: str) -> VcfHeader:
    vcf = _open(path)
    try:
        fileformat = None
        for line in vcf.raw_header.splitlines():
            if line.startswith("##fileformat="):
                fileformat = line.split("=", 1)[1]
                break
        has_index = _index_path(path) is not None
        contigs = []
        # without ##contig lines cyvcf2 asks the index, and htslib prints "[E::idx_find_and_load] Could not
        # retrieve index file" on the terminal for a file that has none: a valid VCF, nothing to say
        if has_index or "\n##contig=" in "\n" + vcf.raw_header:
            try:
                contigs = list(vcf.seqnames)
            except Exception:  # noqa: BLE001 - an index htslib cannot read: the contigs come from the records
                contigs = []
        return VcfHeader(
            samples=list(vcf.samples),
            contigs=contigs,
            fileformat=fileformat,
            has_index=has_index,
            compression=detect_compression(path),
        )
    finally:
        vcf.close()


_TBI_WINDOW = 1 << 14  # the tabix linear index has one entry per 16 kb window
_TBI_META_BIN = 37450  # pseudo-bin holding each contig's first and last virtual file offsets


def tabix_layout(index_path: str) -> dict[str, tuple[np.ndarray, int]]:
    """From a tabix (.tbi) index: per contig, the compressed byte offset at which each 16 kb window's records
    start, and the compressed offset where the contig's records end.

    This is what lets regions be cut by bytes of data rather than by base pairs (the records of a cohort VCF
    are far from evenly spread along a chromosome). htslib reads the index but does not expose it through
    cyvcf2, so the few fields needed are read here following the SAMtools tabix specification.
    """
    import gzip
    import struct

    with gzip.open(index_path, "rb") as handle:  # BGZF is a series of gzip members
        data = handle.read()
    if data[:4] != b"TBI\x01":
        raise ValueError(f"{index_path}: not a tabix index")
    n_ref, _fmt, _seq, _beg, _end, _meta, _skip, l_nm = struct.unpack_from("<8i", data, 4)
    names = data[36:36 + l_nm].split(b"\0")[:n_ref]
    offset = 36 + l_nm
    layout = {}
    for name in names:
        (n_bin,) = struct.unpack_from("<i", data, offset)
        offset += 4
        end = 0
        for _ in range(n_bin):
            bin_id, n_chunk = struct.unpack_from("<Ii", data, offset)
            offset += 8
            chunks = np.frombuffer(data, dtype="<u8", count=2 * n_chunk, offset=offset)
            offset += 16 * n_chunk
            if bin_id == _TBI_META_BIN:
                end = int(chunks[1]) >> 16  # (first offset, last offset), (mapped, unmapped)
            elif n_chunk:
                end = max(end, int(chunks[1::2].max()) >> 16)
        (n_intv,) = struct.unpack_from("<i", data, offset)
        offset += 4
        windows = np.frombuffer(data, dtype="<u8", count=n_intv, offset=offset) >> np.uint64(16)
        offset += 8 * n_intv
        layout[name.decode()] = (np.maximum.accumulate(windows.astype(np.int64)) if n_intv else windows, end)
    return layout


def plan_regions(path: str, n_regions: int = 1) -> list[Region]:
    """Regions for the Spark tasks: one whole-file region unless the file is BGZF with an index.

    With a tabix index the file is cut at 16 kb window boundaries into about ``n_regions`` regions holding
    equal compressed bytes (never across contigs; each contig with records gets at least one); with a CSI
    index each contig with records is one region.
    """
    index = _index_path(path)
    if detect_compression(path) != "bgzf" or index is None:
        return [Region()]
    if index.endswith(".tbi") and n_regions > 1:
        layout = {c: v for c, v in tabix_layout(index).items() if len(v[0])}
        target = sum(max(end - int(windows[0]), 1) for windows, end in layout.values()) / n_regions
        regions: list[Region] = []
        for contig, (windows, end) in layout.items():
            begin, start_offset = 1, int(windows[0])
            for w in range(1, len(windows)):
                if windows[w] - start_offset >= target and end - windows[w] >= target / 2:
                    regions.append(Region(contig, begin, w * _TBI_WINDOW))
                    begin, start_offset = w * _TBI_WINDOW + 1, int(windows[w])
            regions.append(Region(contig, begin, 1 << 29) if begin > 1 else Region(contig))
        if regions:
            return regions
    vcf = _open(path)
    try:
        regions = []
        for contig in vcf.seqnames:
            with warnings.catch_warnings():  # cyvcf2 warns for header contigs without records
                warnings.simplefilter("ignore")
                if next(iter(vcf(contig)), None) is not None:
                    regions.append(Region(contig))
        return regions or [Region()]
    finally:
        vcf.close()


@dataclass
class _Record:
    """What a batch keeps of one parsed record (not the cyvcf2 record itself, which holds the whole htslib record)."""

    start: int
    end: int
    ref: str
    alts: list[str]
    rsid: str | None
    qual: float | None
    filters: list[str] | None
    info: list  # per ALT: (key, text) pairs or None
    gt: np.ndarray | None  # genotype.array(): (samples, ploidy + 1) int16, last column the phase flag
    dp: np.ndarray | None
    gq: np.ndarray | None
    ad: np.ndarray | None  # (samples, n_alleles) int32
    line: int | None  # for error messages
    where: str


class _Batch:
    """Records of one chromosome of one region; genotypes are turned into site counts and sparse calls for the
    whole batch at once (numpy over records x samples), not record by record."""

    def __init__(self) -> None:
        self.records: list[_Record] = []

    def add(self, record: _Record) -> None:
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)

    def check_alleles(self, checker: RecordChecker, samples: list[str]) -> None:
        """Raise VcfRejected for the first record whose genotypes name an allele it does not have.

        This check is deferred from reading to the batch (where it costs a fraction); call it before raising a
        later record's error so the first fault of the file is the one reported."""
        for r in self.records:
            if r.gt is not None and r.alts:
                checker.check_genotypes(len(r.alts), r.gt[:, :-1], r.line, r.where, samples)

    def build(self, n_samples: int, sample_dictionary: pa.Array, checker: RecordChecker,
              samples: list[str]) -> tuple[pa.RecordBatch, pa.RecordBatch]:
        recs = self.records
        n_alt = np.array([len(r.alts) for r in recs], dtype=np.int64)
        site_first = np.cumsum(n_alt) - n_alt
        n_sites = int(n_alt.sum())
        site_rec = np.repeat(np.arange(len(recs)), n_alt)
        site_alt = _rank_in_group(n_alt) + 1
        counts = _SiteCounts(n_sites)
        calls: list[dict] = []
        no_gt = np.array([r.gt is None for r in recs], dtype=bool)
        counts.n_missing[no_gt[site_rec]] = n_samples  # no GT: every sample's genotype is unknown ('.')
        widths: dict[int, list[int]] = {}
        for i, r in enumerate(recs):
            if r.gt is not None and n_alt[i]:
                widths.setdefault(r.gt.shape[1], []).append(i)
        for width, members in widths.items():
            block = _genotype_block(recs, np.array(members), width, n_alt, site_first, counts)
            if block is None:  # an allele index out of range: find and report the first
                self.check_alleles(checker, samples)
            calls.append(block)
        sites = self._sites_batch(n_alt, counts)
        return sites, self._calls_batch(calls, site_rec, site_alt, n_samples, sample_dictionary)

    def _sites_batch(self, n_alt: np.ndarray, counts: "_SiteCounts") -> pa.RecordBatch:
        recs = self.records
        reps = n_alt.tolist()
        column: dict[str, list] = {}

        def per_record(values: list) -> list:
            return [v for v, k in zip(values, reps) for _ in range(k)]

        column["start"] = per_record([r.start for r in recs])
        column["end"] = per_record([r.end for r in recs])
        column["ref"] = per_record([r.ref for r in recs])
        column["alt"] = [a for r in recs for a in r.alts]
        column["alt_index"] = [i for r in recs for i in range(1, len(r.alts) + 1)]
        column["n_alleles"] = per_record([len(r.alts) + 1 for r in recs])
        column["rsid"] = per_record([r.rsid for r in recs])
        column["qual"] = per_record([r.qual for r in recs])
        column["filters"] = per_record([r.filters for r in recs])
        column["info"] = [items for r in recs for items in r.info]
        arrays = []
        for f in SITES_SCHEMA:
            if f.name in column:
                arrays.append(pa.array(column[f.name], type=f.type))
            else:
                arrays.append(counts.column(f.name, f.type))
        return pa.RecordBatch.from_arrays(arrays, schema=SITES_SCHEMA)

    def _calls_batch(self, parts: list[dict], site_rec: np.ndarray, site_alt: np.ndarray, n_samples: int,
                     sample_dictionary: pa.Array) -> pa.RecordBatch:
        parts = [p for p in parts if len(p["site"])]
        if not parts:
            return pa.RecordBatch.from_pylist([], schema=CALLS_SCHEMA)
        c = {k: np.concatenate([p[k] for p in parts]) for k in ("site", "sample", "allele1", "allele2", "phased")}
        polyploid = any(p["extra"] is not None for p in parts)
        extra = [row for p in parts for row in (p["extra"] or [None] * len(p["site"]))] if polyploid else None
        key = c["site"].astype(np.int64) * n_samples + c["sample"]
        if len(key) > 1 and (np.diff(key) < 0).any():  # multi-allelic records, several ploidies: sort by site, sample
            order = np.argsort(key, kind="stable")
            c = {k: v[order] for k, v in c.items()}
            extra = [extra[i] for i in order] if polyploid else None
        site, sample = c["site"], c["sample"]
        rec = site_rec[site]
        alt_index = site_alt[site]
        recs = self.records
        ref_dict = pa.array([r.ref for r in recs for _ in r.alts], type=pa.string())
        alt_dict = pa.array([a for r in recs for a in r.alts], type=pa.string())
        site_idx = pa.array(site.astype(np.int32))
        starts = np.array([r.start for r in recs], dtype=np.int64)
        allele2 = c["allele2"]
        arrays = [
            pa.array(starts[rec], type=pa.int64()),
            pa.DictionaryArray.from_arrays(site_idx, ref_dict),
            pa.DictionaryArray.from_arrays(site_idx, alt_dict),
            pa.array(alt_index.astype(np.int16), type=pa.int16()),
            pa.DictionaryArray.from_arrays(pa.array(sample.astype(np.int32)), sample_dictionary),
            pa.array(c["allele1"], type=pa.int16()),
            pa.array(allele2, type=pa.int16(), mask=allele2 == _VECTOR_END),
            pa.array(c["phased"], type=pa.bool_()),
            pa.array(extra, type=pa.list_(pa.int16())) if polyploid else pa.nulls(len(site), pa.list_(pa.int16())),
            self._format_column(rec, sample, "dp"),
            self._format_column(rec, sample, "gq"),
            self._ad_column(rec, sample, alt_index),
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=CALLS_SCHEMA)

    def _format_column(self, rec: np.ndarray, sample: np.ndarray, name: str) -> pa.Array:
        """FORMAT/DP or GQ of each call row; null where missing or where the record has no such field."""
        present = [(i, getattr(r, name)) for i, r in enumerate(self.records) if getattr(r, name) is not None]
        if not present:
            return pa.nulls(len(rec), pa.int32())
        table = np.full((len(self.records), len(present[0][1])), _INT_MISSING - 1, dtype=np.int32)
        for i, values in present:
            table[i] = values
        values = table[rec, sample]
        return pa.array(values, type=pa.int32(), mask=values <= _INT_MISSING)

    def _ad_column(self, rec: np.ndarray, sample: np.ndarray, alt_index: np.ndarray) -> pa.Array:
        """list<int32> of [ref depth, this allele's depth]; null when either is missing."""
        present = [(i, r.ad) for i, r in enumerate(self.records) if r.ad is not None]
        if not present:
            return pa.nulls(len(rec), pa.list_(pa.int32()))
        width = max(ad.shape[1] for _, ad in present)
        table = np.full((len(self.records), len(present[0][1]), width), _INT_MISSING - 1, dtype=np.int32)
        for i, ad in present:
            table[i, :, :ad.shape[1]] = ad
        pairs = np.stack([table[rec, sample, 0], table[rec, sample, alt_index]], axis=1)
        offsets = pa.array(np.arange(0, 2 * len(pairs) + 1, 2, dtype=np.int32))
        mask = pa.array((pairs <= _INT_MISSING).any(axis=1))
        return pa.ListArray.from_arrays(offsets, pa.array(pairs.ravel(), type=pa.int32()), mask=mask)


class _SiteCounts:
    """Per-site genotype counts of a batch, filled by _genotype_block."""

    def __init__(self, n_sites: int) -> None:
        for name in ("n_hom_ref", "n_het", "n_hom_alt", "n_missing", "ac", "an"):
            setattr(self, name, np.zeros(n_sites, dtype=np.int64))
        self.hom_ref_spelling = np.full(n_sites, -1, dtype=np.int64)  # ploidy * 2 + phased; -1: no hom-ref sample

    def column(self, name: str, type_: pa.DataType) -> pa.Array:
        spelling = self.hom_ref_spelling
        if name == "af":
            return pa.array(np.divide(self.ac, self.an, out=np.zeros(len(self.ac)), where=self.an > 0),
                            type=type_, mask=self.an == 0)
        if name == "hom_ref_ploidy":
            return pa.array(spelling // 2, type=type_, mask=spelling < 0)
        if name == "hom_ref_phased":
            return pa.array(spelling % 2 == 1, type=type_, mask=spelling < 0)
        return pa.array(getattr(self, name), type=type_)


def _rank_in_group(sizes: np.ndarray) -> np.ndarray:
    """0, 1, .., size-1 for each group of ``sizes``, concatenated: [2, 1, 3] -> [0, 1, 0, 0, 1, 2]."""
    return np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def _genotype_block(recs: list[_Record], members: np.ndarray, width: int, n_alt: np.ndarray,
                    site_first: np.ndarray, counts: _SiteCounts) -> dict | None:
    """Site counts and sparse calls for the records ``members`` (all with genotype arrays ``width`` wide).

    A sample whose alleles are all 0 (full ploidy) is a plain reference call: it is only counted. Every other
    (record, sample) entry is expanded to each ALT of its record and classified there; that is ~5% of a cohort's
    genotypes, so the work is proportional to the calls written, not to records x samples. Returns None
    when a genotype names an allele its record does not have (the caller reports it).
    """
    ploidy_width = width - 1
    gt = np.empty((len(members),) + recs[members[0]].gt.shape, dtype=np.int16)  # (records, samples, width)
    for j, i in enumerate(members.tolist()):
        gt[j] = recs[i].gt
    alleles = gt[:, :, :ploidy_width]
    phased = gt[:, :, ploidy_width] != 0
    plain_ref = alleles[:, :, 0] == 0
    for p in range(1, ploidy_width):
        plain_ref &= alleles[:, :, p] == 0
    n_plain = np.count_nonzero(plain_ref, axis=1)
    n_plain_phased = np.count_nonzero(plain_ref & phased, axis=1) if ploidy_width > 1 else np.zeros_like(n_plain)
    # Spellings of plain reference calls: ploidy * 2 + phased (haploid calls count as unphased).
    spell_phased, spell_unphased = ploidy_width * 2 + (ploidy_width > 1), ploidy_width * 2

    flat = np.flatnonzero(~plain_ref)  # faster than np.nonzero on a 2-D mask
    ri, si = np.divmod(flat, plain_ref.shape[1])
    sub = alleles[ri, si]  # (entries, ploidy_width)
    if len(sub) and (sub.max(axis=1) > n_alt[members[ri]]).any():
        return None
    ph = phased[ri, si]
    ploidy = (sub != _VECTOR_END).sum(axis=1)
    missing = (sub == _MISSING).any(axis=1)
    n_called = (sub >= 0).sum(axis=1)
    spelling = ploidy * 2 + (ph & (ploidy > 1))

    # Expand each entry to every ALT of its record: entry e at site site_first[record] + k, alt index k + 1.
    rec_of_entry = members[ri]
    reps = n_alt[rec_of_entry]
    if (reps == 1).all():
        e_site = site_first[rec_of_entry]
        e_alt = np.ones(len(ri), dtype=np.int64)
    else:
        expand = np.repeat(np.arange(len(ri)), reps)
        within = _rank_in_group(reps)
        e_site = site_first[rec_of_entry][expand] + within
        e_alt = within + 1
        sub, ph, ploidy, missing, n_called, spelling, si = (
            a[expand] for a in (sub, ph, ploidy, missing, n_called, spelling, si))
    copies = (sub == e_alt[:, None]).sum(axis=1)
    carries = copies > 0
    called = ~missing
    hom_ref = called & ~carries
    hom_alt = called & (copies == ploidy) & (ploidy > 0)
    het = called & carries & ~hom_alt

    # Sites of these records, and what the plain reference calls add to them.
    block_n_alt = n_alt[members]
    site_member = np.repeat(np.arange(len(members)), block_n_alt)
    block_sites = site_first[members][site_member] + _rank_in_group(block_n_alt)
    n = len(counts.ac)

    def add(target: np.ndarray, mask: np.ndarray | None = None, weights: np.ndarray | None = None) -> None:
        sites = e_site if mask is None else e_site[mask]
        w = None if weights is None else (weights if mask is None else weights[mask])
        target += np.bincount(sites, weights=w, minlength=n).astype(np.int64)

    add(counts.n_hom_ref, hom_ref)
    counts.n_hom_ref[block_sites] += n_plain[site_member]
    add(counts.n_het, het)
    add(counts.n_hom_alt, hom_alt)
    add(counts.n_missing, missing)
    add(counts.ac, None, copies)
    add(counts.an, None, n_called)
    counts.an[block_sites] += n_plain[site_member] * ploidy_width

    # The commonest reference spelling of each site is implied by absence; other reference spellings get rows.
    n_spellings = 2 * ploidy_width + 2
    tally = np.zeros((n, n_spellings), dtype=np.int64)
    np.add.at(tally, (e_site[hom_ref], spelling[hom_ref]), 1)
    tally[block_sites, spell_phased] += n_plain_phased[site_member]
    tally[block_sites, spell_unphased] += (n_plain - n_plain_phased)[site_member]
    has_ref = tally[block_sites].sum(axis=1) > 0
    default = np.where(has_ref, tally[block_sites].argmax(axis=1), -1)
    counts.hom_ref_spelling[block_sites] = default
    site_default = counts.hom_ref_spelling

    keep = carries | missing | (hom_ref & (spelling != site_default[e_site]))
    part = {"site": e_site[keep], "sample": si[keep], "allele1": sub[keep, 0].astype(np.int16),
            "allele2": (sub[keep, 1] if ploidy_width > 1 else np.full(int(keep.sum()), _VECTOR_END)).astype(np.int16),
            "phased": (ph & (ploidy > 1))[keep],  # haploid: no phase (cyvcf2's flag is not reliable there)
            "extra": [[int(a) for a in row if a != _VECTOR_END] or None for row in sub[keep, 2:]]
            if ploidy_width > 2 else None}

    # Plain reference calls whose spelling is not the site's default (e.g. unphased 0/0 among 0|0): rare.
    n_plain_unphased = n_plain - n_plain_phased
    odd = np.flatnonzero(((default != spell_phased) & (n_plain_phased[site_member] > 0))
                         | ((default != spell_unphased) & (n_plain_unphased[site_member] > 0)))
    if odd.size:
        parts = [part]
        for k in odd.tolist():
            m = site_member[k]
            plain_spelling = np.where(phased[m], spell_phased, spell_unphased)
            rows = np.flatnonzero(plain_ref[m] & (plain_spelling != default[k]))
            parts.append({"site": np.full(rows.size, block_sites[k]), "sample": rows,
                          "allele1": np.zeros(rows.size, dtype=np.int16),
                          "allele2": np.full(rows.size, 0 if ploidy_width > 1 else _VECTOR_END, dtype=np.int16),
                          "phased": phased[m, rows] & (ploidy_width > 1),
                          "extra": [[0] * (ploidy_width - 2)] * rows.size if ploidy_width > 2 else None})
        merged = {k: np.concatenate([p[k] for p in parts]) for k in ("site", "sample", "allele1", "allele2", "phased")}
        merged["extra"] = [row for p in parts for row in p["extra"]] if ploidy_width > 2 else None
        part = merged
    return part


def _format_ints(rec, keys: set, key: str, n: int, width: int = 1) -> np.ndarray | None:
    """FORMAT/<key> as an (n, width) int32 array, missing as the sentinel; None when absent or not integers."""
    if key in keys:
        values = rec.format(key)
        if values is not None and values.dtype.kind == "i":
            if values.shape[1] < width:
                pad = np.full((n, width - values.shape[1]), np.iinfo(np.int32).min, dtype=values.dtype)
                values = np.hstack([values, pad])
            return values.astype(np.int32)
    return None


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


def _read_record(rec, n_samples: int, header: HeaderInfo, checker: RecordChecker, line: int | None, where: str,
                 samples: list[str]) -> _Record:
    """Check one record and keep what the tables need of it."""
    checker.check(rec, line, where)
    alts = rec.ALT
    format_keys = set(rec.FORMAT or []) if n_samples else set()
    gt = dp = gq = ad = None
    if "GT" in format_keys:
        array = rec.genotype.array()
        if array.shape[1] >= 2:
            gt = array
            alleles = array[:, :-1]
            if not alts:  # ALT '.' (otherwise the batch checks allele indices: cheaper over many records)
                checker.check_genotypes(0, alleles, line, where, samples)
            try:
                checker.check_format_sizes(rec, alleles, line, where, samples)
            except VcfRejected:
                checker.check_genotypes(len(alts), alleles, line, where, samples)  # the first fault first
                raise
            dp = _format_ints(rec, format_keys, "DP", n_samples)
            gq = _format_ints(rec, format_keys, "GQ", n_samples)
            ad = _format_ints(rec, format_keys, "AD", n_samples, width=len(alts) + 1)
            dp = None if dp is None else dp[:, 0]
            gq = None if gq is None else gq[:, 0]
    elif n_samples:
        checker.check_format_sizes(rec, None, line, where, samples)
    filt = rec.FILTERS
    return _Record(
        start=rec.start, end=rec.end, ref=rec.REF, alts=alts, rsid=rec.ID, qual=rec.QUAL,
        filters=list(filt) if filt else None,
        info=[_info_map(rec, header.info_numbers, i) for i in range(1, len(alts) + 1)],
        gt=gt, dp=dp, gq=gq, ad=ad, line=line, where=where)


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
                chunk_records: int = 1024, warnings: Counter | None = None) -> Iterator[tuple[str, pa.RecordBatch, pa.RecordBatch]]:
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
            batch, chrom = _Batch(), None
            try:
                for rec, line, where in reader.records(vcf, log):
                    rec_chrom = normalize_chromosome(rec.CHROM)
                    if chrom is not None and (rec_chrom != chrom or len(batch) >= chunk_records):
                        yield (chrom, *batch.build(n_samples, sample_dictionary, checker, samples))
                        batch = _Batch()
                    chrom = rec_chrom
                    batch.add(_read_record(rec, n_samples, header, checker, line, where, samples))
            except VcfRejected:
                batch.check_alleles(checker, samples)  # an earlier record's fault comes first
                raise
            if chrom is not None and len(batch):
                yield (chrom, *batch.build(n_samples, sample_dictionary, checker, samples))
        finally:
            vcf.close()
            if warnings is not None:
                warnings.update(reader.warnings)


def _part_path(root: str, table: str, source_file: str, chromosome: str, part: str) -> str:
    return os.path.join(data_dir(root, table), f"source_file={source_file}", f"chromosome={chromosome}",
                        f"part-{part}.parquet")


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string()))


class _PartWriter:
    """One Parquet file of a region; batches are gathered into row groups of about ``ROW_GROUP_ROWS`` rows
    (a parsing batch holds ~1000 records, too few calls for a well-compressed row group)."""

    ROW_GROUP_ROWS = 1 << 20

    def __init__(self, target: str, schema: pa.Schema) -> None:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        self.target, self.schema = target, schema
        self.writer = pq.ParquetWriter(target, schema, compression="zstd")
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        self.pending.append(batch)
        self.pending_rows += batch.num_rows
        self.rows += batch.num_rows
        if self.pending_rows >= self.ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            table = pa.Table.from_batches(self.pending, schema=self.schema)
            self.writer.write_table(table, row_group_size=max(self.pending_rows, 1))
            self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.writer.close()


def write_region(path: str, region: Region, out_root: str, source_file: str, part: str,
                 header: HeaderInfo | None = None, name: str | None = None) -> dict:
    """Parse one region and write its sites and calls as Parquet under ``out_root``.

    Returns ``{"files": [per-file stats], "warnings": {message: count}, "rejected": None | VcfRejected.to_dict()}``.
    """
    writers: dict[tuple[str, str], _PartWriter] = {}
    warnings: Counter = Counter()
    rejected = None
    try:
        for chrom, sites, calls in iter_region(path, region, header, name, warnings=warnings):
            for table, data in (("sites", sites), ("calls", calls)):
                key = (table, chrom)
                schema = FILE_SCHEMAS[table]
                if key not in writers:
                    writers[key] = _PartWriter(_part_path(out_root, table, source_file, chrom, part), schema)
                n = data.num_rows
                writers[key].write(pa.RecordBatch.from_arrays(
                    [*data.columns, _constant(source_file, n), _constant(chrom, n)], schema=schema))
    except VcfRejected as exc:
        rejected = exc.to_dict()
    finally:
        for writer in writers.values():
            writer.close()
    files = [{"table": table, "chromosome": chrom, "path": w.target, "rows": w.rows, "bytes": os.path.getsize(w.target)}
             for (table, chrom), w in writers.items()]
    return {"files": files, "warnings": dict(warnings), "rejected": rejected}


def write_samples(samples: list[str], out_root: str, source_file: str, source_path: str, part: str) -> dict:
    table = pa.table(
        {
            "sample_id": pa.array(samples, type=pa.string()),
            "sample_index": pa.array(range(len(samples)), type=pa.int32()),
            "source_path": pa.array([source_path] * len(samples), type=pa.string()),
            "source_file": pa.array([source_file] * len(samples), type=pa.string()),
        },
        schema=FILE_SCHEMAS["samples"],
    )
    target = os.path.join(data_dir(out_root, "samples"), f"source_file={source_file}", f"part-{part}.parquet")
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


IN_PROCESS_BYTES = 4 << 20  # files up to this size (compressed) are parsed in this process when allowed


def _session(spark):
    return spark() if callable(spark) else spark


def ingest_vcf(spark, path: str, out_root: str, source_file: str, source_path: str | None = None,
               n_regions: int | None = None) -> IngestStats:
    """Parse ``path`` in Spark tasks (one per region) and write sites/calls/samples Parquet under ``out_root``.
    ``spark`` is a session, or a function giving one: then a file of at most IN_PROCESS_BYTES is parsed by the same
    task function in this process (no Spark job, no JVM started for it); ``None`` parses in this process always.

    Files go to ``<out_root>/<table>/data/source_file=<key>/chromosome=<c>/part-<region>-<run>.parquet`` (names
    unique per run, so nothing published is overwritten). They are not part of any table until the caller
    commits them (see resources.lakehouse); a failed or killed run leaves them as orphans for maintenance.
    Raises VcfRejected when any region finds a record genolake will not take.
    """
    name = os.path.basename(source_path or path)
    header = check_header(path, name)
    warnings = Counter({w: 1 for w in header.warnings})
    in_process = spark is None or (callable(spark) and os.path.getsize(path) <= IN_PROCESS_BYTES)
    if n_regions is None:  # two tasks per core, more for big files (~32 MiB of BGZF each); one in this process
        n_regions = 1 if in_process else max(2 * _session(spark).sparkContext.defaultParallelism,
                                             os.path.getsize(path) >> 25)
    regions = plan_regions(path, n_regions)
    run = uuid.uuid4().hex[:8]
    tasks = [(i, r) for i, r in enumerate(regions)]

    def run_partition(items):
        for i, region in items:
            yield i, write_region(path, region, out_root, source_file, f"{i:05d}-{run}", header, name)

    if in_process:  # the same task function, run here: no Spark job (nor JVM) for a small file
        results = list(run_partition(tasks))
    else:
        results = sorted(_session(spark).sparkContext.parallelize(tasks, len(tasks)).mapPartitions(run_partition)
                         .collect())
    files = []
    for _, result in results:
        if result["rejected"]:
            raise VcfRejected(**{k: result["rejected"][k] for k in ("file", "reason", "line", "expected", "found")})
        files.extend(result["files"])
        warnings.update(result["warnings"])
    files.append(write_samples(header.samples, out_root, source_file, source_path or Path(path).name, run))
    return IngestStats(source_file=source_file, regions=len(regions), files=files, warnings=dict(warnings))
