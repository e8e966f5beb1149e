"""Validation rules on small hand-made VCFs: each rule rejects with file, line, expected and found."""

import pytest

from genolake_assets.transforms import vcf
from genolake_assets.transforms.vcf_validate import VcfRejected, check_header

HEADER = "##fileformat=VCFv4.2\n##contig=<ID=1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"


def _write(tmp_path, body, header=HEADER, name="x.vcf"):
    path = tmp_path / name
    path.write_text(header + body)
    return str(path)


def _parse(path):
    return [(s.num_rows, c.num_rows) for _, s, c in vcf.iter_region(path, vcf.Region())]


def test_unsorted_positions_are_rejected_with_the_line(tmp_path):
    path = _write(tmp_path, "1\t200\t.\tA\tG\t.\t.\t.\tGT\t0/1\n1\t100\t.\tC\tT\t.\t.\t.\tGT\t0/1\n")
    with pytest.raises(VcfRejected) as caught:
        _parse(path)
    assert str(caught.value) == ("x.vcf: line 5: records not sorted at 1:100; "
                                 "expected POS >= 200 (the previous record on 1), found 100")


def test_duplicate_sample_names_are_rejected(tmp_path):
    header = HEADER.replace("\tS1\n", "\tS1\tS2\tS1\n")
    with pytest.raises(VcfRejected, match=r"x.vcf: line 3: duplicate sample names; expected unique sample names, found S1"):
        check_header(_write(tmp_path, "", header))


def test_a_number_r_field_of_the_wrong_size_is_rejected(tmp_path):
    header = HEADER.replace("#CHROM", '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="depths">\n#CHROM')
    path = _write(tmp_path, "1\t100\t.\tA\tG,T\t.\t.\t.\tGT:AD\t0/1:3,4\n", header)
    with pytest.raises(VcfRejected, match=r"line 5: FORMAT/AD \(Number=R\) of sample S1 at 1:100; expected 3 values, found 2"):
        _parse(path)


def test_well_formed_records_pass_and_keep_their_rows(tmp_path):
    path = _write(tmp_path, "1\t100\t.\tA\tG,<DEL>\t.\t.\t.\tGT\t1/2\n1\t150\t.\tA\tA[2:321[\t.\t.\t.\tGT\t0|1\n")
    assert _parse(path) == [(3, 3)]


def test_htslib_errors_reject_without_touching_the_broken_record(tmp_path):
    path = _write(tmp_path, "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\n1\tabc\t.\tA\tG\t.\t.\t.\tGT\t0/1\n")
    with pytest.raises(VcfRejected) as caught:
        _parse(path)
    assert caught.value.line == 5 and "Could not parse the position 'abc'" in str(caught.value)
    assert "after 1:100" in str(caught.value)


@pytest.mark.parametrize("later", ["1\t100\t.\tC\tT\t.\t.\t.\tGT\t0/1\n",  # unsorted: found while reading
                                   "1\tabc\t.\tA\tG\t.\t.\t.\tGT\t0/1\n"])  # htslib error: found while reading
def test_the_first_fault_of_the_file_is_reported_though_allele_indices_are_checked_per_batch(tmp_path, later):
    """Allele indices are checked when a batch of records is built; a later record's fault, found while reading,
    must not hide an earlier record's out-of-range allele."""
    path = _write(tmp_path, "1\t150\t.\tA\tG\t.\t.\t.\tGT\t0/1\n1\t200\t.\tA\tG\t.\t.\t.\tGT\t0/3\n" + later)
    with pytest.raises(VcfRejected) as caught:
        _parse(path)
    assert caught.value.line == 5
    assert str(caught.value).startswith("x.vcf: line 5: genotype allele index out of range at 1:200 (sample S1)")


def test_out_of_range_alleles_are_found_in_any_batch(tmp_path):
    body = "".join(f"1\t{100 + i}\t.\tA\tG\t.\t.\t.\tGT\t0/1\n" for i in range(5)) + "1\t200\t.\tA\tG\t.\t.\t.\tGT\t2|0\n"
    path = _write(tmp_path, body)
    for chunk in (1, 4, 1024):
        with pytest.raises(VcfRejected, match=r"line 9: genotype allele index out of range at 1:200 \(sample S1\)"):
            list(vcf.iter_region(path, vcf.Region(), chunk_records=chunk))


def test_haploid_calls_are_stored_unphased(tmp_path):
    header = HEADER.replace("\tS1\n", "\tS1\tS2\tS3\n")
    path = _write(tmp_path, "1\t100\t.\tA\tG\t.\t.\t.\tGT\t1\t0|1\t.\n", header)
    (_, _, calls), = vcf.iter_region(path, vcf.Region())
    rows = {r["sample_id"]: (r["allele1"], r["allele2"], r["phased"]) for r in calls.to_pylist()}
    assert rows == {"S1": (1, None, False), "S2": (0, 1, True), "S3": (-1, None, False)}
