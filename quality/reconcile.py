"""Per-site reconciliation of ``sites`` with ``calls``: the genotype summary of each site recomputed from the
sparse calls, as one DuckDB SQL text over Arrow tables. The GX suites of ``sites`` and ``calls``
(quality/gx_suites.py) validate the frame this builds. No dagster, no Spark.

How the recomputation works (see genolake_assets/transforms/vcf.py for the storage rules):

* A sample of the file with no row in ``calls`` at a site is homozygous reference, spelled with the site's
  ``hom_ref_ploidy`` (null: no sample is implied, e.g. a record without GT, whose samples are all unknown).
* ``ac`` = allele indices equal to the site's ``alt_index`` over the call rows (allele1, allele2, extra_alleles);
  implied hom-ref samples add none.
* ``an`` = called alleles: (samples - call rows at the site) * hom_ref_ploidy + non-missing allele indices of the
  call rows.
* A call row is *non-reference* when it carries the site's ALT or has a missing allele; the other call rows are
  reference calls spelled differently from the site's implied spelling (e.g. unphased 0/0 among 0|0). So the
  non-reference rows of a site must equal n_het + n_hom_alt + n_missing, and the reference rows can be at most
  n_hom_ref. Exception: a site where every sample is missing and no spelling is implied may come from a record
  without GT, which has no call rows at all: 0 rows is then accepted as well.
* Records repeated in a file (same key) give several sites rows and their call rows together: everything is
  aggregated per key (source_file, chromosome, start, ref, alt, alt_index), with n_records sites rows. When the
  repeated records disagree (not verbatim: their af differ), af is their pooled ac/an and each record's af must
  equal its own ac/an (af_diff takes the larger error).
"""

from __future__ import annotations

KEY = ["source_file", "chromosome", "start", "ref", "alt", "alt_index"]

# The per-call-row allele arithmetic, in each engine's spelling (the rest of the SQL is common to DuckDB and Spark)
_CALL_AGGREGATES = {
    "duckdb": {
        "alleles": "list_concat([allele1], CASE WHEN allele2 IS NULL THEN [] ELSE [allele2] END, "
                   "coalesce(extra_alleles, []))",
        "ac": "len(list_filter(alleles, lambda a: a = alt_index))",
        "called": "len(list_filter(alleles, lambda a: a >= 0))",
        "non_ref": "count(*) FILTER (WHERE list_contains(alleles, alt_index) OR list_contains(alleles, -1))",
    },
    "spark": {
        "alleles": "concat(array(CAST(allele1 AS INT)), CASE WHEN allele2 IS NULL THEN CAST(array() AS ARRAY<INT>) "
                   "ELSE array(CAST(allele2 AS INT)) END, coalesce(CAST(extra_alleles AS ARRAY<INT>), "
                   "CAST(array() AS ARRAY<INT>)))",
        "ac": "size(filter(alleles, a -> a = alt_index))",
        "called": "size(filter(alleles, a -> a >= 0))",
        "non_ref": "count_if(array_contains(alleles, CAST(alt_index AS INT)) OR array_contains(alleles, -1))",
    },
}

COLUMNS = [*KEY, "in_sites", "n_records", "ac", "ac_from_calls", "an", "an_from_calls", "af", "af_from_calls",
           "call_rows", "non_ref_rows", "non_ref_expected", "ref_rows", "n_hom_ref", "hom_ref_ploidy", "af_diff"]


def reconcile_sql(dialect: str = "duckdb", sites: str = "sites", calls: str = "calls",
                  file_samples: str = "file_samples") -> str:
    """The reconciliation as one SQL text for ``dialect`` (duckdb or spark) over the named inputs."""
    f = _CALL_AGGREGATES[dialect]
    return f"""
WITH s AS (
    SELECT source_file, chromosome, start, ref, alt, alt_index,
           count(*) AS n_records,
           CAST(sum(ac) AS BIGINT) AS ac, CAST(sum(an) AS BIGINT) AS an,
           min(af) AS af_min, max(af) AS af_max,
           -- each record's own af against its ac/an (only used when repeated records disagree)
           max(CASE WHEN af IS NULL AND an = 0 THEN 0.0 WHEN af IS NULL OR an = 0 THEN 1.0
                    ELSE abs(af - ac / an) END) AS af_self_error,
           CAST(sum(n_hom_ref) AS BIGINT) AS n_hom_ref,
           CAST(sum(n_het + n_hom_alt + n_missing) AS BIGINT) AS non_ref_expected,
           bool_and(hom_ref_ploidy IS NULL AND n_het = 0 AND n_hom_alt = 0 AND n_missing = n_samples) AS maybe_no_gt,
           CAST(max(hom_ref_ploidy) AS INTEGER) AS hom_ref_ploidy,
           max(n_samples) AS n_samples
    FROM {sites} LEFT JOIN {file_samples} USING (source_file)
    GROUP BY source_file, chromosome, start, ref, alt, alt_index
),
c AS (
    SELECT source_file, chromosome, start, ref, alt, alt_index,
           count(*) AS call_rows,
           CAST(sum({f["ac"]}) AS BIGINT) AS ac,
           CAST(sum({f["called"]}) AS BIGINT) AS called_alleles,
           {f["non_ref"]} AS non_ref_rows
    FROM (SELECT source_file, chromosome, start, ref, alt, alt_index, {f["alleles"]} AS alleles FROM {calls}) AS a
    GROUP BY source_file, chromosome, start, ref, alt, alt_index
),
j AS (
    SELECT coalesce(s.source_file, c.source_file) AS source_file,
           coalesce(s.chromosome, c.chromosome) AS chromosome,
           coalesce(s.start, c.start) AS start,
           coalesce(s.ref, c.ref) AS ref,
           coalesce(s.alt, c.alt) AS alt,
           coalesce(s.alt_index, c.alt_index) AS alt_index,
           s.source_file IS NOT NULL AS in_sites,
           coalesce(s.n_records, 0) AS n_records,
           s.ac, coalesce(c.ac, 0) AS ac_from_calls,
           s.an,
           (coalesce(s.n_records * s.n_samples, 0) - coalesce(c.call_rows, 0)) * coalesce(s.hom_ref_ploidy, 0)
               + coalesce(c.called_alleles, 0) AS an_from_calls,
           -- repeated records that disagree (not verbatim): their pooled AF, each checked against its own ac/an
           CASE WHEN s.af_min IS NOT DISTINCT FROM s.af_max THEN s.af_max
                ELSE s.ac / nullif(s.an, 0) END AS af,
           CASE WHEN s.af_min IS NOT DISTINCT FROM s.af_max THEN 0.0 ELSE s.af_self_error END AS af_self_error,
           coalesce(c.call_rows, 0) AS call_rows,
           coalesce(c.non_ref_rows, 0) AS non_ref_rows,
           CASE WHEN coalesce(s.maybe_no_gt, false) AND coalesce(c.call_rows, 0) = 0 THEN 0
                ELSE coalesce(s.non_ref_expected, 0) END AS non_ref_expected,
           coalesce(c.call_rows, 0) - coalesce(c.non_ref_rows, 0) AS ref_rows,
           coalesce(s.n_hom_ref, 0) AS n_hom_ref,
           s.hom_ref_ploidy
    FROM s FULL OUTER JOIN c
      ON s.source_file = c.source_file AND s.chromosome = c.chromosome AND s.start = c.start
     AND s.ref = c.ref AND s.alt = c.alt AND s.alt_index = c.alt_index
),
r AS (SELECT *, ac_from_calls / nullif(an_from_calls, 0) AS af_from_calls FROM j)
SELECT {", ".join(COLUMNS[:-1])},
       greatest(CASE WHEN af IS NULL AND af_from_calls IS NULL THEN 0.0
                     WHEN af IS NULL OR af_from_calls IS NULL THEN 1.0
                     ELSE abs(af - af_from_calls) END, af_self_error) AS af_diff
FROM r
"""


RECONCILE_SQL = reconcile_sql("duckdb")
ORDER = " ORDER BY " + ", ".join(KEY)


def _arrow(data):
    """A pyarrow Table of ``data`` (a pyarrow Table, or a Spark DataFrame collected with toArrow())."""
    return data.toArrow() if hasattr(data, "toArrow") else data


def sites_vs_calls(sites, calls, n_samples):
    """One row per site key of ``sites`` or ``calls``, for one file (``n_samples``: its sample count) or several
    (``n_samples``: {source_file: sample count}; a file missing from it counts 0 samples):
    the stored ac/an/af next to the values recomputed from ``calls``, and the call rows next to what the sites'
    genotype counts allow. Columns: KEY, in_sites, n_records, ac, ac_from_calls, an, an_from_calls, af,
    af_from_calls, call_rows, non_ref_rows, non_ref_expected, ref_rows, n_hom_ref, hom_ref_ploidy, af_diff
    (|af - af_from_calls|, 0 when both are null, 1 when only one is)."""
    import duckdb

    import pyarrow as pa

    sites, calls = _arrow(sites), _arrow(calls)
    if isinstance(n_samples, dict):
        counts = n_samples
    else:
        files = set(sites["source_file"].unique().to_pylist()) | set(calls["source_file"].unique().to_pylist())
        counts = {f: int(n_samples) for f in files}
    file_samples = pa.table({"source_file": pa.array(list(counts), pa.string()),
                             "n_samples": pa.array([int(v) for v in counts.values()], pa.int64())})
    con = duckdb.connect()
    try:
        con.register("file_samples", file_samples)
        con.register("sites", sites.select(
            KEY + ["ac", "an", "af", "n_hom_ref", "n_het", "n_hom_alt", "n_missing", "hom_ref_ploidy"]))
        con.register("calls", calls.select(KEY + ["allele1", "allele2", "extra_alleles"]))
        return con.sql(RECONCILE_SQL + ORDER).to_arrow_table()
    finally:
        con.close()


def sites_vs_calls_to_parquet(sites_files: list[str], calls_files: list[str], n_samples: dict, target: str) -> None:
    """sites_vs_calls over Parquet files, written to the Parquet file ``target`` by DuckDB (streaming, memory capped:
    quality/duck.py): for a cohort file, one pass over tens of millions of calls rows in seconds, never in memory."""
    import pyarrow as pa

    from .duck import Session

    file_samples = pa.table({"source_file": pa.array([str(f) for f in n_samples], pa.string()),
                             "n_samples": pa.array([int(v) for v in n_samples.values()], pa.int64())})
    with Session({"sites_files": sites_files, "calls_files": calls_files}) as session:
        con = session.con
        con.register("file_samples", file_samples)
        con.execute("CREATE VIEW sites AS SELECT " + ", ".join(
            KEY + ["ac", "an", "af", "n_hom_ref", "n_het", "n_hom_alt", "n_missing", "hom_ref_ploidy"])
            + " FROM sites_files")
        con.execute("CREATE VIEW calls AS SELECT " + ", ".join(KEY + ["allele1", "allele2", "extra_alleles"])
                    + " FROM calls_files")
        quoted = target.replace("'", "''")
        con.execute(f"COPY ({RECONCILE_SQL}) TO '{quoted}' (FORMAT parquet, COMPRESSION zstd)")


def sites_vs_calls_spark(sites, calls, n_samples: dict):
    """sites_vs_calls on Spark DataFrames (``n_samples``: {source_file: sample count}): a DataFrame of the same
    columns, computed where the data is."""
    spark = sites.sparkSession
    file_samples = spark.createDataFrame([(str(f), int(n)) for f, n in n_samples.items()],
                                         "source_file string, n_samples bigint")
    keep_sites = sites.select(*KEY, "ac", "an", "af", "n_hom_ref", "n_het", "n_hom_alt", "n_missing", "hom_ref_ploidy")
    keep_calls = calls.select(*KEY, "allele1", "allele2", "extra_alleles")
    return spark.sql(reconcile_sql("spark", "{sites}", "{calls}", "{file_samples}"), sites=keep_sites, calls=keep_calls,
                     file_samples=file_samples)
