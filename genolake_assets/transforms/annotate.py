"""Sites x ClinVar -> annotated variants (PySpark). No dagster import.

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

