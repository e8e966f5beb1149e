"""The benchmark's synthetic VCF looks like 1000 Genomes phase 3 where it matters for speed and size."""

import cyvcf2

from benchmarks.generate import SAMPLES, generate


def test_spectrum_indels_multiallelics_and_index(tmp_path):
    path = generate("T", 7, tmp_path, records=3000)
    assert path.with_name(path.name + ".tbi").exists()
    assert open(path, "rb").read(4)[:2] == b"\x1f\x8b"
    reader = cyvcf2.VCF(str(path))
    assert len(reader.samples) == SAMPLES
    non_ref = total = missing = multi = indels = records = 0
    last = 0
    for record in reader:
        records += 1
        assert record.POS > last  # sorted, one record per position
        last = record.POS
        gt = record.genotype.array()
        assert gt[:, 2].all()  # phased
        alleles = gt[:, :2]
        non_ref += int(((alleles != 0).any(axis=1)).sum())
        missing += int((alleles < 0).any(axis=1).sum())
        total += len(alleles)
        multi += len(record.ALT) > 1
        indels += len(record.REF) != len(record.ALT[0])
    assert records == 3000
    assert 0.03 < non_ref / total < 0.08  # ~5% of genotypes are not hom-ref
    assert 0 < missing / total < 0.002  # rare missing calls
    assert 0.05 < indels / records < 0.15 and 0.01 < multi / records < 0.04
    written = path.stat().st_mtime_ns
    assert generate("T", 7, tmp_path, records=3000) == path and path.stat().st_mtime_ns == written  # cached


def test_same_file_as_ever_streamed_without_a_text_file(tmp_path):
    """The text is streamed into bcftools (no temporary text file: L would be ~10 GB), with the same random draws
    in the same order as the generator that wrote the files the README's figures were measured on."""
    import gzip
    import hashlib

    from benchmarks.generate import SIZES

    assert SIZES == {"S": 20_000, "M": 100_000, "L": 1_000_000}
    path = generate("T", 7, tmp_path, records=3000)
    # sha256 of the decompressed text written by the generator before streaming (commit 15b9829), seed 7, 3000 records
    assert hashlib.sha256(gzip.open(path).read()).hexdigest() == (
        "93e86111144f021e63ab5ddcb5ef67f0e0c35705b8ec601bc4b70ec725dc693a")
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, path.name + ".tbi"]  # no .tmp, no .part left
