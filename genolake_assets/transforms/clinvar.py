"""ClinVar ``variant_summary.txt(.gz)`` -> typed Arrow/Parquet, partitioned by chromosome. No dagster import.

Read with pyarrow's CSV reader (tab-separated, no quoting: ClinVar fields contain commas and quotes).
Every column is read as text first, then typed here, so the ClinVar spellings of "absent" (``-1``, ``-``,
``na``) become nulls and nothing is silently coerced.
"""

from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .tables import CLINVAR, data_dir

# ClinVar header -> (column, type). Columns ClinVar adds in later releases are ignored (reported back).
HEADER = {
    "#AlleleID": ("allele_id", "bigint"),
    "Type": ("type", "string"),
    "Name": ("name", "string"),
    "GeneID": ("gene_id", "bigint"),
    "GeneSymbol": ("gene_symbol", "string"),
    "HGNC_ID": ("hgnc_id", "string"),
    "ClinicalSignificance": ("clinical_significance", "string"),
    "ClinSigSimple": ("clin_sig_simple", "int"),
    "LastEvaluated": ("last_evaluated", "date"),
    "RS# (dbSNP)": ("rs_dbsnp", "bigint"),
    "nsv/esv (dbVar)": ("nsv_esv_dbvar", "string"),
    "RCVaccession": ("rcv_accession", "string"),
    "PhenotypeIDS": ("phenotype_ids", "string"),
    "PhenotypeList": ("phenotype_list", "string"),
    "Origin": ("origin", "string"),
    "OriginSimple": ("origin_simple", "string"),
    "Assembly": ("assembly", "string"),
    "ChromosomeAccession": ("chromosome_accession", "string"),
    "Chromosome": ("chromosome", "string"),
    "Start": ("start", "bigint"),
    "Stop": ("stop", "bigint"),
    "ReferenceAllele": ("reference_allele", "string"),
    "AlternateAllele": ("alternate_allele", "string"),
    "Cytogenetic": ("cytogenetic", "string"),
    "ReviewStatus": ("review_status", "string"),
    "NumberSubmitters": ("number_submitters", "int"),
    "Guidelines": ("guidelines", "string"),
    "TestedInGTR": ("tested_in_gtr", "string"),
    "OtherIDs": ("other_ids", "string"),
    "SubmitterCategories": ("submitter_categories", "int"),
    "VariationID": ("variation_id", "bigint"),
    "PositionVCF": ("position_vcf", "bigint"),
    "ReferenceAlleleVCF": ("reference_allele_vcf", "string"),
    "AlternateAlleleVCF": ("alternate_allele_vcf", "string"),
}
REQUIRED = ("#AlleleID", "ClinicalSignificance", "Assembly", "Chromosome", "PositionVCF",
            "ReferenceAlleleVCF", "AlternateAlleleVCF")
ARROW_TYPES = {"string": pa.string(), "bigint": pa.int64(), "int": pa.int32(), "date": pa.date32()}
# Values ClinVar writes for "absent", per kind of column.
NULL_NUMBERS = {"-1", "", "-", "na"}
NULL_STRINGS = {"", "-", "na"}

# The parsed table: data columns plus chromosome (the release column is added when the files are written).
DATA_COLUMNS = [c for c in CLINVAR.columns] + [c for c in CLINVAR.partition_columns if c.name == "chromosome"]
SCHEMA = pa.schema([pa.field(c.name, ARROW_TYPES.get(c.type, pa.string())) for c in DATA_COLUMNS])


class ClinVarFormatError(ValueError):
    """The file is not a ClinVar variant_summary table genolake can read."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.file, self.line, self.reason = file, line, reason or message

    def to_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "reason": self.reason, "message": str(self)}


def read_header(path: str) -> list[str]:
    import gzip

    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        line = handle.readline().rstrip("\n").rstrip("\r")
    return line.split("\t")


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def check_header(path: str, name: str | None = None) -> list[str]:
    """Return the header's unknown (ignored) columns; raise ClinVarFormatError when required ones are missing."""
    header = read_header(path)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ClinVarFormatError(
            f"{name or os.path.basename(path)}: line 1: not a ClinVar variant_summary header: expected columns "
            f"{', '.join(missing)}; found {header[:6]}{'...' if len(header) > 6 else ''}"
        )
    return [c for c in header if c not in HEADER]


def _typed(column: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    if kind == "string":
        return pc.if_else(pc.is_in(column, pa.array(sorted(NULL_STRINGS))), pa.scalar(None, pa.string()), column)
    if kind in ("bigint", "int"):
        cleaned = pc.if_else(pc.is_in(column, pa.array(sorted(NULL_NUMBERS))), pa.scalar(None, pa.string()), column)
        return pc.cast(cleaned, ARROW_TYPES[kind])
    if kind == "date":
        cleaned = pc.if_else(pc.is_in(column, pa.array(sorted(NULL_STRINGS))), pa.scalar(None, pa.string()), column)
        return pc.cast(pc.strptime(cleaned, format="%b %d, %Y", unit="s", error_is_null=True), pa.date32())
    raise ValueError(kind)


def read_variant_summary(path: str) -> pa.Table:
    """Parse a variant_summary file into the ``clinvar`` schema (without partition columns)."""
    check_header(path)
    header = read_header(path)
    raw = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header}, strings_can_be_null=False,
            include_columns=[c for c in header if c in HEADER],
        ),
    )
    arrays = {}
    for source, (name, kind) in HEADER.items():
        if source in raw.column_names:
            arrays[name] = _typed(raw[source], kind)
        else:
            arrays[name] = pa.nulls(raw.num_rows, ARROW_TYPES.get(kind, pa.string()))
    rs = arrays["rs_dbsnp"]
    arrays["rsid"] = pc.binary_join_element_wise(pa.scalar("rs"), pc.cast(rs, pa.string()), "")
    arrays["vcf_start"] = pc.subtract(arrays["position_vcf"], pa.scalar(1, pa.int64()))
    return pa.table([arrays[c.name] for c in DATA_COLUMNS], schema=SCHEMA)


def _complete_lines(path: str) -> int:
    """Lines that decompress completely before the stream breaks (to locate a truncation)."""
    import gzip

    count = 0
    try:
        with gzip.open(path, "rb") as handle:
            for line in handle:
                count += line.endswith(b"\n")  # a cut last line has no newline
    except (EOFError, OSError):
        pass
    return count


def write_release(path: str, out_root: str, release: str, name: str | None = None) -> list[dict]:
    """Write one ClinVar release under ``out_root/clinvar/data/release=<release>/chromosome=<c>/`` (file names
    unique per run; the partition columns are inside the files too).

    Raises ClinVarFormatError naming the file (and the line where one applies) for a file that is not a
    complete variant_summary table: wrong header, truncated compressed stream, rows with missing fields.
    """
    name = name or os.path.basename(path)
    try:
        table = read_variant_summary(path)
    except ClinVarFormatError:
        raise
    except (OSError, EOFError) as exc:
        lines = _complete_lines(path)
        reason = f"the compressed stream ends early after {lines:,} complete lines (a truncated download?) ({exc})"
        raise ClinVarFormatError(f"{name}: line {lines + 1:,}: {reason}", name, lines + 1, reason) from exc
    except pa.ArrowInvalid as exc:
        reason = f"a row does not have the header's columns ({exc})"
        raise ClinVarFormatError(f"{name}: {reason}", name, None, reason) from exc
    chromosome = pc.fill_null(table["chromosome"], "na")
    table = table.set_column(table.column_names.index("chromosome"), "chromosome", chromosome)
    table = table.append_column("release", pa.array([release] * table.num_rows, pa.string()))
    table = table.select([c.name for c in CLINVAR.all_columns])
    run = uuid.uuid4().hex[:8]
    files = []
    for chrom in sorted(pc.unique(chromosome).to_pylist()):
        part = table.filter(pc.equal(chromosome, chrom))
        target = os.path.join(data_dir(out_root, "clinvar"), f"release={release}", f"chromosome={chrom}",
                              f"part-{run}.parquet")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        pq.write_table(part, target, compression="zstd")
        files.append({"table": "clinvar", "chromosome": chrom, "path": target, "rows": part.num_rows,
                      "bytes": os.path.getsize(target)})
    return files
