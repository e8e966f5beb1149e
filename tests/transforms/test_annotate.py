"""The ClinVar annotation: the Arrow join (a few files' sites, in the driver) equals the Spark join row by row."""

import glob

import pyarrow.dataset as ds

from genolake_assets.transforms import clinvar, vcf
from genolake_assets.transforms.annotate import annotate, annotate_arrow
from tests.conftest import CLINVAR, VCF_100


def _rows(table):
    return sorted(map(repr, table.to_pylist()))


def test_the_arrow_join_equals_the_spark_join(spark, tmp_path):
    vcf.ingest_vcf(None, str(VCF_100), str(tmp_path), "slice-1", source_path="slice.vcf.gz")
    clinvar.write_release(str(CLINVAR), str(tmp_path), "cv-1")
    sites_files = glob.glob(f"{tmp_path}/sites/**/*.parquet", recursive=True)
    clinvar_files = glob.glob(f"{tmp_path}/clinvar/**/*.parquet", recursive=True)
    sites = ds.dataset(sites_files, format="parquet").to_table()
    for assembly in ("GRCh37", "GRCh38"):
        ours = annotate_arrow(sites, clinvar_files, assembly)
        theirs = annotate(spark.read.parquet(*sites_files), spark.read.parquet(*clinvar_files), assembly).toArrow()
        assert ours.column_names == theirs.column_names
        assert _rows(ours) == _rows(theirs), assembly
        if assembly == "GRCh37":  # the slice's own assembly: real matches
            assert ours.num_rows >= 10
