"""A 1000-Genomes-like VCF generator: chr22, 2504 phased samples, a phase-3-like allele-frequency spectrum.

Most sites are rare (allele frequencies drawn from a 1/f-like distribution, so ~5% of genotypes are not
homozygous reference), ~10% indels, ~2% multi-allelic records, rare missing calls. Written as text and compressed
by bcftools into BGZF with a tabix index (bcftools is the reference tool of the benchmark anyway).

    python -m benchmarks.generate --size S --seed 1 --out benchmarks/data
    python -m benchmarks.generate --size L      (1 M records: ~10 GB of text streamed into bcftools, memory flat)
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

import numpy as np

SIZES = {"S": 20_000, "M": 100_000, "L": 1_000_000}  # L: real chr22 scale (phase 3 has ~1.1 M chr22 records)
SAMPLES = 2504
CHROM_LENGTH = 51_304_566  # GRCh37 chr22
BASES = np.array(list("ACGT"))
CHUNK = 1000  # records per write into bcftools
# One genotype as its 4 bytes of VCF text, by code = allele1 * 3 + allele2 ("a|b" then a tab).
_GT_BYTES = np.array([list(f"{a}|{b}\t".encode()) for a in range(3) for b in range(3)], dtype=np.uint8)
_MISSING_BYTES = np.frombuffer(b".|.\t", dtype=np.uint8)


def _spectrum(rng: np.random.Generator, n: int) -> np.ndarray:
    """Alternate allele frequencies like phase 3: 90% of sites rare (log-uniform from 1/5008 to 1%), 10% common
    (uniform from 1% to 50%), which makes ~5% of genotypes not homozygous reference."""
    rare = np.exp(rng.uniform(np.log(1 / (2 * SAMPLES)), np.log(0.01), n))
    common = rng.uniform(0.01, 0.5, n)
    return np.where(rng.random(n) < 0.9, rare, common)


def generate(size: str, seed: int, out_dir: Path, records: int | None = None) -> Path:
    """Write (once) and return ``synthetic_chr22_<size>_seed<seed>.vcf.gz`` (+ .tbi); ``records`` overrides the size."""
    n = records or SIZES[size]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"synthetic_chr22_{size}_seed{seed}.vcf.gz"
    if target.exists() and Path(str(target) + ".tbi").exists():
        return target
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(np.arange(16_050_000, CHROM_LENGTH - 1000), n, replace=False))
    frequencies = _spectrum(rng, n)
    indel = rng.random(n) < 0.10
    multi = rng.random(n) < 0.02
    samples = [f"SYN{i:05d}" for i in range(SAMPLES)]
    header = (
        "##fileformat=VCFv4.2\n"
        f"##contig=<ID=22,length={CHROM_LENGTH},assembly=GRCh37>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        f"##source=genolake benchmarks/generate.py size={size} seed={seed}\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples) + "\n"
    )
    # The text is streamed into bcftools (BGZF) in chunks of CHUNK records: no temporary text file (L would be
    # ~10 GB), memory flat whatever the size. Same random draws in the same order as ever: a seed gives the same file.
    partial = out_dir / (target.name + ".part")
    compress = subprocess.Popen(["bcftools", "view", "--threads", "2", "--no-version", "-Oz", "-o", str(partial), "-"],
                                stdin=subprocess.PIPE)
    try:
        compress.stdin.write(header.encode())
        chunk: list[bytes] = []
        for i in range(n):
            ref = BASES[rng.integers(4)]
            alt = BASES[(np.flatnonzero(BASES == ref)[0] + 1 + rng.integers(3)) % 4]
            if indel[i]:
                alt = ref + "".join(BASES[rng.integers(4, size=rng.integers(1, 4))])
            alts = [str(alt)]
            if multi[i]:
                alts.append(str(BASES[(np.flatnonzero(BASES == ref)[0] + 2) % 4]) if not indel[i] else str(ref) + "T")
            haplotypes = (rng.random((SAMPLES, 2)) < frequencies[i]).astype(np.int8)
            if multi[i]:  # a share of the ALT copies belong to the second ALT
                second = (haplotypes == 1) & (rng.random((SAMPLES, 2)) < 0.3)
                haplotypes[second] = 2
            calls = _GT_BYTES[haplotypes[:, 0] * 3 + haplotypes[:, 1]]  # (SAMPLES, 4): b"a|b\t" per sample
            missing = rng.random(SAMPLES) < 0.0005
            calls[missing] = _MISSING_BYTES
            calls[-1, 3] = ord("\n")
            chunk.append(f"22\t{positions[i]}\trs{1_000_000 + i}\t{ref}\t{','.join(alts)}\t100\tPASS\t.\tGT\t".encode())
            chunk.append(calls.tobytes())
            if len(chunk) >= 2 * CHUNK:
                compress.stdin.write(b"".join(chunk))
                chunk.clear()
        compress.stdin.write(b"".join(chunk))
        compress.stdin.close()
    except BaseException:
        compress.kill()
        compress.wait()
        partial.unlink(missing_ok=True)
        raise
    if compress.wait() != 0:
        partial.unlink(missing_ok=True)
        raise subprocess.CalledProcessError(compress.returncode, compress.args)
    subprocess.run(["bcftools", "index", "-t", str(partial)], check=True)
    os.replace(str(partial) + ".tbi", str(target) + ".tbi")
    os.replace(partial, target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="S")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--records", type=int, help="override the size's record count (written as <size><records>)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    args = parser.parse_args()
    label = f"{args.size}{args.records}" if args.records else args.size
    print(generate(label, args.seed, args.out, records=args.records))


if __name__ == "__main__":
    main()
