"""Sites x ClinVar -> annotated variants (PySpark; Arrow for a few files' sites). No dagster import.

The join follows ClinVar's VCF-style columns: chromosome, 0-based start = PositionVCF - 1,
ref = ReferenceAlleleVCF, alt = AlternateAlleleVCF, and one assembly. ClinVar's Start/Stop and
ReferenceAllele/AlternateAllele are not used: they are 'na' in current releases and miss indels.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .tables import ANNOTATED_VARIANTS


def annotate(sites: DataFrame, clinvar: DataFrame, assembly: str = "GRCh37") -> DataFrame:
    """Inner join of ``sites`` with the ClinVar rows of ``assembly``; columns as in the annotated_variants table."""
    cv = (
        clinvar.where((F.col("assembly") == assembly) & F.col("vcf_start").isNotNull())
        .where(F.col("reference_allele_vcf").isNotNull() & F.col("alternate_allele_vcf").isNotNull())
        .select(
            F.col("chromosome").alias("cv_chromosome"),
            F.col("vcf_start").alias("cv_start"),
            F.col("reference_allele_vcf").alias("cv_ref"),
            F.col("alternate_allele_vcf").alias("cv_alt"),
            "assembly",
            F.col("release").alias("clinvar_release"),
            "allele_id",
            "variation_id",
            "rsid",
            "gene_symbol",
            "type",
            "name",
            "clinical_significance",
            "review_status",
            "phenotype_list",
        )
    )
    joined = sites.withColumnRenamed("rsid", "vcf_rsid").join(
        cv,
        (sites["chromosome"] == cv["cv_chromosome"])
        & (sites["start"] == cv["cv_start"])
        & (sites["ref"] == cv["cv_ref"])
        & (sites["alt"] == cv["cv_alt"]),
        "inner",
    )
    return joined.select(*[c.name for c in ANNOTATED_VARIANTS.all_columns])



CLINVAR_COLUMNS = {"chromosome": "cv_chromosome", "vcf_start": "cv_start", "reference_allele_vcf": "cv_ref",
                   "alternate_allele_vcf": "cv_alt", "assembly": "assembly", "release": "clinvar_release",
                   "allele_id": "allele_id", "variation_id": "variation_id", "rsid": "rsid",
                   "gene_symbol": "gene_symbol", "type": "type", "name": "name",
                   "clinical_significance": "clinical_significance", "review_status": "review_status",
                   "phenotype_list": "phenotype_list"}


def annotate_arrow(sites, clinvar_files: list[str], assembly: str = "GRCh37"):
    """``annotate`` in Arrow, for a few files' sites (an Arrow table): the same inner join and columns, with the
    ClinVar release streamed from its Parquet files and only the rows at the sites' positions kept (memory
    follows the matches, not the release)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    starts = pc.unique(sites["start"])
    wanted = ((pc.field("assembly") == assembly) & pc.field("vcf_start").isin(starts)
              & pc.field("reference_allele_vcf").is_valid() & pc.field("alternate_allele_vcf").is_valid())
    cv = ds.dataset(clinvar_files, format="parquet").to_table(columns=list(CLINVAR_COLUMNS), filter=wanted)
    cv = cv.rename_columns([CLINVAR_COLUMNS[n] for n in cv.column_names])
    left = sites.rename_columns(["vcf_rsid" if n == "rsid" else n for n in sites.column_names])
    left = left.select([c.name for c in ANNOTATED_VARIANTS.all_columns if c.name in left.column_names])
    joined = left.join(cv, keys=["chromosome", "start", "ref", "alt"],
                       right_keys=["cv_chromosome", "cv_start", "cv_ref", "cv_alt"], join_type="inner")
    return joined.select([c.name for c in ANNOTATED_VARIANTS.all_columns])
