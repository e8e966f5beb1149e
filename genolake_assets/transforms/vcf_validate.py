"""VCF validation with reasons a person can act on: file, line, what was expected, what was found.

Three layers, cheapest first:

1. ``check_header`` reads only the header lines (Python): fileformat line, the ``#CHROM`` line's columns and
   sample names, ##contig presence, BGZF EOF marker, plain gzip. Nothing is handed to htslib before this passes.
2. ``HtslibLog`` captures what htslib writes to stderr while records are read. An ``[E::...]`` message means
   htslib could not parse the record (cyvcf2 would then hand back a broken record, and touching it can crash the
   process), so the file is rejected with htslib's own words; ``[W::...]`` messages become warnings.
3. ``RecordChecker`` checks each parsed record for what htslib lets through: REF/ALT spelling, POS, genotype
   allele indices, sort order, and the cardinality of Number=A/R/G FORMAT fields.

Policy (also in the README): reject what bcftools refuses or the VCF specification forbids; ingest with a warning
what readers usually tolerate (no trailing newline, no BGZF EOF marker, no ##contig lines, undeclared INFO/FORMAT
keys, INFO values not matching their declared Number).
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

FIXED_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
FILEFORMAT = re.compile(r"^##fileformat=VCFv4\.[0-5]$")
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
REF_ALLELE = re.compile(r"^[ACGTNacgtn]+$")
ALT_ALLELE = re.compile(
    r"^(?:[ACGTNacgtn]+"  # bases
    r"|\*"  # overlapping deletion
    r"|<[^<>\s,]+>"  # symbolic: <DEL>, <*>, <DUP:TANDEM>
    r"|[ACGTNacgtn]*[\[\]][^\[\]\s]+[\[\]][ACGTNacgtn]*"  # breakends: G]17:198982], ]13:123456]T
    r"|\.[ACGTNacgtn]+|[ACGTNacgtn]+\."  # single breakends
    r")$"
)
# FORMAT keys the specification reserves with a per-allele or per-genotype size (used when a header omits them).
RESERVED_FORMAT_NUMBERS = {"AD": "R", "ADF": "R", "ADR": "R", "EC": "A", "GL": "G", "GP": "G", "PL": "G"}
INT_END = np.iinfo(np.int32).min + 1  # htslib's vector-end sentinel for integer FORMAT arrays
INT_MISSING = np.iinfo(np.int32).min


class VcfRejected(ValueError):
    """A VCF genolake will not ingest. ``str()`` is the reason: file, line (when known), expected, found."""

    def __init__(self, file: str, reason: str, line: int | None = None, expected: str | None = None,
                 found: str | None = None):
        self.file, self.reason, self.line, self.expected, self.found = file, reason, line, expected, found
        where = f"{file}: line {line}" if line else file
        text = f"{where}: {reason}"
        if expected is not None:
            text += f"; expected {expected}"
        if found is not None:
            text += f", found {found}"
        super().__init__(text)

    def to_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "reason": self.reason, "expected": self.expected,
                "found": self.found, "message": str(self)}


@dataclass
class HeaderInfo:
    header_lines: int
    samples: list[str]
    warnings: list[str] = field(default_factory=list)
    format_numbers: dict[str, str] = field(default_factory=dict)
    format_types: dict[str, str] = field(default_factory=dict)
    info_numbers: dict[str, str] = field(default_factory=dict)


def _short(text: str, width: int = 80) -> str:
    text = text.rstrip("\n")
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def _meta(line: str) -> dict[str, str]:
    body = line[line.index("<") + 1: line.rindex(">")] if "<" in line and ">" in line else ""
    return dict(re.findall(r'(\w+)=("[^"]*"|[^,]*)', body))


def check_header(path: str, name: str | None = None) -> HeaderInfo:
    """Validate the header of a VCF (plain, gzip or BGZF); raise VcfRejected with the line at fault."""
    name = name or os.path.basename(path)
    size = os.path.getsize(path)
    if size == 0:
        raise VcfRejected(name, "empty file (0 bytes)", expected="a VCF header starting with '##fileformat=VCFv4.x'")
    with open(path, "rb") as handle:
        magic = handle.read(2)
        compressed = magic == b"\x1f\x8b"
        warnings = []
        if compressed:
            handle.seek(max(0, size - len(BGZF_EOF)))
            tail = handle.read()
            handle.seek(0)
            head = handle.read(18)
            if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
                if tail != BGZF_EOF:
                    warnings.append("no BGZF EOF marker: the file may be truncated (all records that could be read were read)")
            else:
                warnings.append("plain gzip, not BGZF: the file cannot be split and is read by one task")
        else:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                warnings.append("no newline at the end of the file")
    opener = gzip.open if compressed else open
    info = HeaderInfo(header_lines=0, samples=[], warnings=warnings)
    contigs = 0
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as text:
            for number, line in enumerate(text, start=1):
                line = line.rstrip("\r\n")
                if number == 1 and not FILEFORMAT.match(line):
                    found = "an empty line" if not line.strip() else _short(line)
                    raise VcfRejected(name, "not a VCF header", 1, "'##fileformat=VCFv4.x'", found)
                if line.startswith("##"):
                    if line.startswith("##contig="):
                        contigs += 1
                    elif line.startswith("##FORMAT=") or line.startswith("##INFO="):
                        meta = _meta(line)
                        if "ID" in meta:
                            target = info.format_numbers if line.startswith("##FORMAT=") else info.info_numbers
                            target[meta["ID"]] = meta.get("Number", ".")
                            if line.startswith("##FORMAT="):
                                info.format_types[meta["ID"]] = meta.get("Type", "String")
                    continue
                if line.startswith("#"):
                    _check_column_line(name, number, line, info)
                    info.header_lines = number
                    break
                raise VcfRejected(name, "header has no '#CHROM' line", number, "'#CHROM\\tPOS\\tID\\t...' before the records",
                                  _short(line))
            else:
                if number == 0 or not info.header_lines:
                    raise VcfRejected(name, "header has no '#CHROM' line", None, "'#CHROM\\tPOS\\tID\\t...'", "end of file")
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        raise VcfRejected(name, f"cannot be decompressed while reading the header ({exc})") from exc
    if not contigs:
        info.warnings.append("header has no ##contig lines (contigs are taken from the records)")
    return info


def _check_column_line(name: str, number: int, line: str, info: HeaderInfo) -> None:
    columns = line.split("\t")
    for index, expected in enumerate(FIXED_COLUMNS):
        found = columns[index] if index < len(columns) else None
        if found != expected:
            raise VcfRejected(name, f"column {index + 1} of the #CHROM line", number, repr(expected),
                              repr(found) if found is not None else "no such column (tabs, not spaces?)")
    if len(columns) > 8:
        if columns[8] != "FORMAT":
            raise VcfRejected(name, "column 9 of the #CHROM line", number, "'FORMAT'", repr(columns[8]))
        samples = columns[9:]
        if not samples:
            raise VcfRejected(name, "FORMAT column without sample columns", number, "at least one sample name after FORMAT",
                              "none")
        for index, sample in enumerate(samples):
            if not sample.strip():
                raise VcfRejected(name, f"empty sample name in column {index + 10} (a trailing tab?)", number,
                                  "a sample name", repr(sample))
        duplicates = [s for s, n in Counter(samples).items() if n > 1]
        if duplicates:
            raise VcfRejected(name, "duplicate sample names", number, "unique sample names", ", ".join(duplicates[:5]))
        info.samples = samples


class HtslibLog:
    """Capture htslib's messages (written to file descriptor 2) while records are read."""

    def __init__(self) -> None:
        self._file = None
        self._saved = None
        self._offset = 0

    def __enter__(self) -> "HtslibLog":
        self._file = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.close()

    def new_messages(self) -> list[str]:
        """Messages written since the last call (cheap when there are none: one fstat)."""
        size = os.fstat(self._file.fileno()).st_size
        if size == self._offset:
            return []
        self._file.seek(self._offset)
        data = self._file.read(size - self._offset).decode("utf-8", "replace")
        self._offset = size
        return [m for m in data.splitlines() if m.strip()]


def normalise_warning(message: str) -> str:
    """Group htslib warnings that differ only by position ('at 1:123')."""
    return re.sub(r" at [^ ]+:\d+", "", message).strip()


class RecordChecker:
    """Per-record checks for what htslib parses without complaint but the specification forbids."""

    def __init__(self, name: str, header: HeaderInfo, check_order: bool, warnings: Counter | None = None):
        self.name = name
        self.warnings = warnings if warnings is not None else Counter()
        self.header = header
        self.check_order = check_order
        self.seen_contigs: set[str] = set()
        self.last: tuple[str, int] | None = None
        self.sized = {k: v for k, v in header.format_numbers.items() if v in ("A", "R", "G")}
        for key, number in RESERVED_FORMAT_NUMBERS.items():
            self.sized.setdefault(key, number)

    def check(self, rec, line: int | None, where: str) -> None:
        pos = rec.POS
        if pos < 0:
            raise VcfRejected(self.name, f"bad POS at {where}", line, "a position >= 0", str(pos))
        ref = rec.REF
        if not REF_ALLELE.match(ref):
            raise VcfRejected(self.name, f"bad REF at {where}", line, "bases A, C, G, T or N", repr(ref))
        alts = rec.ALT
        for alt in alts:
            if not ALT_ALLELE.match(alt or "."):
                if alt == "." or not alt:
                    raise VcfRejected(self.name, f"empty ALT allele in a list at {where}", line,
                                      "alleles separated by single commas", repr(",".join(a or "" for a in alts)))
                raise VcfRejected(self.name, f"bad ALT at {where}", line,
                                  "bases, '*', a <SYMBOLIC> allele or a breakend", repr(alt))
        if self.check_order:
            chrom = rec.CHROM
            if self.last is not None:
                last_chrom, last_pos = self.last
                if chrom == last_chrom and pos < last_pos:
                    raise VcfRejected(self.name, f"records not sorted at {where}", line,
                                      f"POS >= {last_pos} (the previous record on {chrom})", str(pos))
                if chrom != last_chrom:
                    if chrom in self.seen_contigs:  # readers cope; region queries on such a file would not
                        self.warnings[f"records of contig {chrom} are not together (it appears again after "
                                      f"{last_chrom})"] += 1
                    self.seen_contigs.add(last_chrom)
            self.last = (chrom, pos)

    def check_genotypes(self, n_alt: int, alleles: np.ndarray, line: int | None, where: str,
                        samples: list[str]) -> None:
        """Genotype allele indices within REF + ``n_alt`` ALT alleles (``alleles``: samples x ploidy)."""
        top = int(alleles.max()) if alleles.size else 0
        if top > n_alt and n_alt == 0:  # ALT '.': no variant allele, so no row in sites or calls
            self.warnings["genotypes name an ALT allele where ALT is '.' (no variant rows kept)"] += 1
        elif top > n_alt:
            sample = samples[int(np.argwhere(alleles == top)[0][0])]
            raise VcfRejected(self.name, f"genotype allele index out of range at {where} (sample {sample})", line,
                              f"indices 0..{n_alt} (REF + {n_alt} ALT)", str(top))

    def check_format_sizes(self, rec, alleles: np.ndarray | None, line: int | None, where: str,
                           samples: list[str]) -> None:
        """``alleles``: the record's genotype allele indices (samples x ploidy, -2 padding), None without GT."""
        if not self.sized or not rec.ALT:  # ALT '.': no variant rows are kept, nothing to size against
            return
        keys = [k for k in rec.FORMAT if k in self.sized]
        n_alleles = len(rec.ALT) + 1
        for key in keys:
            values = rec.format(key)
            if values is None:
                continue
            number = self.sized[key]
            if values.dtype.kind in "SUO":  # strings (undeclared keys are read as text): count the commas
                texts = [v.decode() if isinstance(v, bytes) else str(v) for v in values.reshape(len(values), -1)[:, 0]]
                present = np.array([t.count(",") + 1 for t in texts])
                missing_only = np.array([t in (".", "") for t in texts])
            elif values.dtype.kind == "i":
                present = (values != INT_END).sum(axis=1)
                missing_only = (values[:, 0] == INT_MISSING) & (present == 1)
            else:
                bits = values.view(np.uint32)
                present = (bits != 0x7F800002).sum(axis=1)  # htslib's float vector-end NaN pattern
                missing_only = (bits[:, 0] == 0x7F800001) & (present == 1)
            if number == "A":
                expected = np.full(len(present), n_alleles - 1)
            elif number == "R":
                expected = np.full(len(present), n_alleles)
            else:  # G: one value per possible genotype for the sample's ploidy
                ploidy = None if alleles is None else (alleles != -2).sum(axis=1)
                p = ploidy if ploidy is not None else np.full(len(present), 2)
                expected = np.array([_n_genotypes(n_alleles, int(k)) for k in p])
                if ploidy is None:  # no GT: the ploidy is unknown, accept haploid sizes too
                    missing_only |= present == n_alleles
                single = (present == 1) & ~missing_only & (expected != 1)
                if single.any():  # one value (e.g. 'nan') for a per-genotype field: readers keep it
                    self.warnings[f"FORMAT/{key} (Number=G) has a single value where one per genotype is "
                                  f"expected; kept as is"] += int(single.sum())
                    missing_only |= single
            bad = np.flatnonzero((present != expected) & ~missing_only)
            if bad.size:
                i = int(bad[0])
                raise VcfRejected(self.name, f"FORMAT/{key} (Number={number}) of sample {samples[i]} at {where}",
                                  line, f"{int(expected[i])} values", f"{int(present[i])}")


def _n_genotypes(n_alleles: int, ploidy: int) -> int:
    from math import comb

    return comb(n_alleles + ploidy - 1, ploidy) if ploidy > 0 else 1
