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
