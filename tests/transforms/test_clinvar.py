import gzip

import pyarrow.compute as pc
import pytest

from genolake_assets.transforms import clinvar
from tests.conftest import CLINVAR


def test_types_and_clinvar_nulls():
    table = clinvar.read_variant_summary(str(CLINVAR))
    assert table.num_rows == 1508
    counts = pc.value_counts(table["assembly"]).to_pylist()
    assert {c["values"]: c["counts"] for c in counts} == {"GRCh37": 751, "GRCh38": 754, None: 3}
    assert table.schema.field("position_vcf").type == "int64"
    # PositionVCF = -1 (364 rows, mostly CNVs) becomes null, and so does its vcf_start
    assert table.filter(pc.is_null(table["position_vcf"])).num_rows == 364
    assert table.filter(pc.is_null(table["vcf_start"])).num_rows == 364
    assert pc.all(pc.equal(pc.subtract(table["position_vcf"], 1), table["vcf_start"])).as_py()
    # ReferenceAllele/AlternateAllele are 'na' in this release: null, never the text 'na'
    assert table.filter(pc.equal(table["reference_allele"], "na")).num_rows == 0
    row = table.filter(pc.and_(pc.equal(table["rsid"], "rs5030655"), pc.equal(table["assembly"], "GRCh37"))).to_pylist()[0]
    assert (row["chromosome"], row["position_vcf"], row["reference_allele_vcf"], row["alternate_allele_vcf"]) == (
        "22", 42525085, "CA", "C")
    assert "response" in row["clinical_significance"]


def test_not_a_variant_summary_names_file_and_line(tmp_path):
    bad = tmp_path / "variant_summary.txt.gz"
    with gzip.open(bad, "wt") as handle:
        handle.write("chrom\tpos\tref\n22\t1\tA\n")
    with pytest.raises(clinvar.ClinVarFormatError, match=r"variant_summary.txt.gz: line 1: .*PositionVCF"):
        clinvar.read_variant_summary(str(bad))
