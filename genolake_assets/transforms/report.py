"""The pharmacogenomic drug-response report, as SQL over the catalogued tables. No dagster import.

Semantics of the AWS genomics data lake guide's Athena query: for each ClinVar variant whose clinical
significance contains 'response', the frequency of each genotype (genotype0, genotype1 as written in the VCF,
homozygous reference included) among the cohort's samples (sample IDs matching a LIKE pattern, every sample by default), with rsID and
phenotype list, highest frequency first. A sample typed in several files counts once per variant and
genotype (a sample whose files disagree shows under both genotypes, which the report's quality check flags as
frequencies summing above 1). Samples of the site's file with no row in ``calls`` are homozygous
reference, spelled as the site says (``hom_ref_ploidy``/``hom_ref_phased``). The SQL is plain enough for
DuckDB (local), Athena and Spark SQL.
"""

from __future__ import annotations

DEFAULT_COHORT = "%"  # every sample (the demo passes its CEU cohort, NA12%)
DEFAULT_LIMIT = 50


def drug_response_sql(database: str = "genolake") -> str:
    """Parameterised SQL: parameters are (cohort LIKE pattern, limit)."""
    return f"""
WITH params AS (SELECT CAST(? AS VARCHAR) AS cohort),
variants AS (
    SELECT DISTINCT source_file, chromosome, start, ref, alt, rsid, gene_symbol, clinical_significance,
           phenotype_list, hom_ref_ploidy, hom_ref_phased
    FROM {database}.annotated_variants
    WHERE clinical_significance LIKE '%response%'
),
cohort AS (
    SELECT DISTINCT s.source_file, s.sample_id
    FROM {database}.samples s, params p
    WHERE s.sample_id LIKE p.cohort
),
cohort_size AS (SELECT count(DISTINCT sample_id) AS n FROM cohort),
genotypes AS (
    SELECT v.rsid, v.gene_symbol, v.clinical_significance, v.phenotype_list, v.chromosome, v.start, v.ref, v.alt,
           s.sample_id,
           CASE WHEN c.sample_id IS NULL THEN 0 ELSE c.allele1 END AS genotype0,
           CASE WHEN c.sample_id IS NULL THEN (CASE WHEN v.hom_ref_ploidy > 1 THEN 0 END) ELSE c.allele2 END
               AS genotype1,
           CASE WHEN c.sample_id IS NULL THEN v.hom_ref_phased ELSE c.phased END AS phased
    FROM variants v
    JOIN cohort s ON s.source_file = v.source_file
    LEFT JOIN {database}.calls c
      ON c.source_file = v.source_file AND c.chromosome = v.chromosome AND c.start = v.start
     AND c.ref = v.ref AND c.alt = v.alt AND c.sample_id = s.sample_id
),
counted AS (
    SELECT rsid, gene_symbol, clinical_significance, phenotype_list, chromosome, start, ref, alt,
           genotype0, genotype1, phased, count(DISTINCT sample_id) AS sample_count
    FROM genotypes
    GROUP BY rsid, gene_symbol, clinical_significance, phenotype_list, chromosome, start, ref, alt,
             genotype0, genotype1, phased
)
SELECT
    CAST(row_number() OVER (ORDER BY CAST(g.sample_count AS DOUBLE) / n.n DESC, g.rsid, g.genotype0, g.genotype1,
                                      g.chromosome, g.start, g.alt) AS INTEGER) AS rank,
    g.rsid,
    CASE WHEN g.genotype0 < 0 THEN '.' ELSE CAST(g.genotype0 AS VARCHAR) END
      || CASE WHEN g.genotype1 IS NULL THEN ''
              ELSE (CASE WHEN g.phased THEN '|' ELSE '/' END)
                   || CASE WHEN g.genotype1 < 0 THEN '.' ELSE CAST(g.genotype1 AS VARCHAR) END
         END AS genotype,
    CAST(g.genotype0 AS SMALLINT) AS genotype0,
    CAST(g.genotype1 AS SMALLINT) AS genotype1,
    CAST(g.sample_count AS DOUBLE) / n.n AS frequency,
    g.sample_count,
    n.n AS cohort_size,
    g.gene_symbol,
    g.chromosome,
    g.start + 1 AS position,
    g.ref,
    g.alt,
    g.clinical_significance,
    g.phenotype_list,
    p.cohort
FROM counted g, cohort_size n, params p
ORDER BY rank
LIMIT ?
"""


COHORT_SIZE_SQL = "SELECT count(DISTINCT sample_id) AS n FROM genolake.samples WHERE sample_id LIKE ?"

# The tables the report reads; their snapshot ids are kept in every report row (input_snapshots).
REPORT_INPUTS = ("annotated_variants", "calls", "samples")


def with_inputs(report, snapshots: dict[str, int | None]):
    """The report (Arrow) with ``input_snapshots``: the snapshot id of each table it read."""
    import pyarrow as pa

    inputs = [(t, snapshots.get(t)) for t in REPORT_INPUTS]
    column = pa.array([inputs] * report.num_rows, pa.map_(pa.string(), pa.int64()))
    return report.append_column("input_snapshots", column)
