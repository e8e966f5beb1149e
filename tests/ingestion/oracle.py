"""The bcftools oracle: every genotype of a VCF after `bcftools norm -m -any`, and the same read back from genolake.

bcftools (Debian's package, installed by `make`) is the reference implementation. `bcftools norm` cannot write
records whose contig is missing from the header, so the oracle first adds a `##contig=<ID=...>` line for each
such contig with `bcftools reheader` (header only; records and genotypes untouched).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

from genolake_assets.transforms.naming import normalize_chromosome

QUERY = "[%SAMPLE\t%CHROM\t%POS\t%REF\t%ALT\t%GT\n]"


def bcftools() -> str:
    path = shutil.which("bcftools")
    assert path, "bcftools is missing: `make test` installs Debian's bcftools (apt-get install bcftools)"
    return path


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([bcftools(), *args], capture_output=True, text=True, **kwargs)


def oracle_genotypes(path: Path, workdir: Path) -> Counter:
    """Multiset of (sample, chromosome, pos, ref, alt, GT) from bcftools norm -m -any | bcftools query.

    Fails (AssertionError with bcftools' message) when bcftools refuses the file.
    """
    genotypes = Counter()
    for sample, chrom, pos, ref, alt, gt in oracle_rows(path, workdir, QUERY):
        genotypes[(sample, normalize_chromosome(chrom), int(pos), ref, alt, gt)] += 1
    return genotypes


def oracle_rows(path: Path, workdir: Path, query: str) -> list[list[str]]:
    """`bcftools query -f QUERY` over the file after `bcftools norm -m -any`, split into fields."""
    plain = workdir / "plain.vcf"
    done = _run("view", "-Ov", "-o", str(plain), str(path))
    assert done.returncode == 0 or "[E::" not in done.stderr, f"bcftools refuses {path.name}: {done.stderr}"
    contigs = []
    for chrom in _run("query", "-f", "%CHROM\n", str(plain)).stdout.split():
        if chrom not in contigs:
            contigs.append(chrom)
    header = _run("view", "-h", str(plain)).stdout.rstrip("\n").split("\n")
    declared = {line.split("ID=", 1)[1].split(",")[0].split(">")[0] for line in header if line.startswith("##contig=")}
    extra = [f"##contig=<ID={c}>" for c in contigs if c not in declared]
    # Keys used but not declared: htslib reads them with a dummy definition it cannot write back out.
    used = _used_keys(plain)
    used["FORMAT"].add("GT")  # `bcftools query [%GT]` needs it declared even in a file without samples
    for kind, keys in used.items():
        for key in sorted(keys):
            if not any(line.startswith(f"##{kind}=<ID={key},") for line in header):
                number = "1" if key == "GT" else "."
                extra.append(f'##{kind}=<ID={key},Number={number},Type=String,Description="undeclared in the file">')
    fixed_header = workdir / "header.txt"
    fixed_header.write_text("\n".join(header[:-1] + extra + header[-1:]) + "\n")
    fixed = workdir / "fixed.vcf"
    done = _run("reheader", "-h", str(fixed_header), "-o", str(fixed), str(plain))
    assert done.returncode == 0, done.stderr
    normalised = workdir / "norm.vcf"
    done = _run("norm", "-m", "-any", "-Ov", "-o", str(normalised), str(fixed))
    assert done.returncode == 0, done.stderr
    done = _run("query", "-f", query, str(normalised))
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines()]


def _used_keys(plain: Path) -> dict[str, set[str]]:
    used = {"INFO": set(), "FORMAT": set()}
    with open(plain) as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) > 7 and fields[7] != ".":
                used["INFO"].update(item.split("=", 1)[0] for item in fields[7].split(";"))
            if len(fields) > 8:
                used["FORMAT"].update(fields[8].split(":"))
    return used


def _spell(alleles: list[int], phased: bool, alt_index: int) -> str:
    """A genotype as bcftools norm writes it for the split allele ``alt_index``: other ALTs become 0."""
    def one(a: int) -> str:
        if a < 0:
            return "."
        return "1" if a == alt_index else "0"

    return ("|" if phased else "/").join(one(a) for a in alleles)


def ingest_to_iceberg(spark, path: Path, home: Path, key: str = "f", source_path: str | None = None):
    """Ingest ``path`` into fresh Iceberg tables under ``home`` (the assets' path: Spark tasks write the data
    files, one commit adds them) and return ``read(table) -> rows`` reading the tables back through Iceberg."""
    from genolake_assets.transforms import vcf
    from resources.lakehouse import Change, Lakehouse

    lakehouse = Lakehouse.local(str(home))
    stats = vcf.ingest_vcf(spark, str(path), lakehouse.root, key, source_path=source_path)
    commit_set = lakehouse.commit(
        [Change(t, [f["path"] for f in stats.files if f["table"] == t], {"source_file": key})
         for t in ("sites", "calls", "samples")], operation="ingest", source_file=key)
    return lambda table: lakehouse.read(table, commit_set.snapshot(table)).to_pylist()


def genolake_genotypes(read) -> Counter:
    """Every (sample, chromosome, pos, ref, alt, GT) recovered from genolake's sites + calls + samples, each read
    with ``read(table) -> rows``."""
    samples = [r["sample_id"] for r in sorted(read("samples"), key=lambda r: r["sample_index"])]
    calls: dict[tuple, list[dict]] = {}
    for row in read("calls"):
        key = (str(row["chromosome"]), row["start"], row["ref"], row["alt"], row["sample_id"])
        calls.setdefault(key, []).append(row)
    seen: Counter = Counter()
    genotypes = Counter()
    for site in read("sites"):
        chrom = str(site["chromosome"])
        site_key = (chrom, site["start"], site["ref"], site["alt"])
        occurrence = seen[site_key]  # identical duplicate records: pair their call rows in order
        seen[site_key] += 1
        for sample in samples:
            rows = calls.get(site_key + (sample,), [])
            if occurrence < len(rows):
                row = rows[occurrence]
                alleles = [row["allele1"]] + ([row["allele2"]] if row["allele2"] is not None else [])
                alleles += row["extra_alleles"] or []
                gt = _spell(alleles, row["phased"], site["alt_index"])
            elif site["hom_ref_ploidy"] is None:  # a record without GT: unknown
                gt = "."
            else:
                gt = ("|" if site["hom_ref_phased"] else "/").join("0" * site["hom_ref_ploidy"])
            genotypes[(sample, chrom, site["start"] + 1, site["ref"], site["alt"], gt)] += 1
    return genotypes


def compare(expected: Counter, got: Counter) -> tuple[int, int, list]:
    """(compared, mismatching, examples): genotypes bcftools gives that genolake lacks, and extras genolake has."""
    missing = expected - got
    extra = got - expected
    compared = sum(expected.values())
    mismatching = sum(missing.values()) + sum(extra.values())
    examples = [("bcftools only", k) for k in list(missing)[:3]] + [("genolake only", k) for k in list(extra)[:3]]
    return compared, mismatching, examples
