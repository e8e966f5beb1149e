"""Hand-computed consistency checks, each ONE SQL text run by DuckDB over pyarrow tables (small data, no Spark)
or over the Parquet files of Spark scans (large data: streaming, memory capped, quality/duck.py), or by Spark SQL
over other DataFrames.

The texts use ``{name}`` for the input tables (Spark's ``spark.sql(text, name=df)`` formatting; DuckDB gets
registered views of the same names) and double-quoted identifiers (turned into backticks for Spark).
Each check returns a CheckOutcome(engine="sql") with the failing-row count and a sample of the rows (the table's
own rows, or the derived per-key rows for aggregate checks). No dagster import.
"""

from __future__ import annotations

from .duck import Session, parquet_files
from .outcome import SAMPLE_ROWS, CheckOutcome

SITE_KEY = ("source_file", "chromosome", "start", "ref", "alt")


def _is_spark(data) -> bool:
    return hasattr(data, "sparkSession") and hasattr(data, "rdd")


# Call rows per DuckDB pass of a check grouped by (site, sample): its hash table grows with the distinct keys and
# DuckDB does not spill it far enough (a 256 MB cap holds ~3M keys), so a large file is checked in passes over
# ranges of positions, each reading only its rows (the files are sorted by position: row groups are skipped).
KEYS_PER_PASS = 2_000_000


def _position_ranges(con, weight: str) -> list[tuple]:
    """[(low, high)] ranges of ``start`` (low inclusive, high exclusive; None = unbounded) covering every position,
    each with about KEYS_PER_PASS of ``weight`` summed over the sites starting in it (a site's rows never span
    two ranges: they share its start)."""
    lows = [r[0] for r in con.sql(f"""
        WITH w AS (SELECT "start", sum({weight}) AS w FROM "sites" GROUP BY "start"),
             c AS (SELECT "start", sum(w) OVER (ORDER BY "start" ROWS UNBOUNDED PRECEDING) AS cum FROM w)
        SELECT min("start") AS low FROM c GROUP BY CAST(floor((cum - 1) / {KEYS_PER_PASS}) AS BIGINT) ORDER BY low
        """).fetchall()]
    bounds = [None, *lows[1:], None]
    return list(zip(bounds[:-1], bounds[1:])) or [(None, None)]


def _in_range(name: str, low, high) -> str:
    where = [f'"start" >= {int(low)}' if low is not None else "", f'"start" < {int(high)}' if high is not None else ""]
    where = " AND ".join(w for w in where if w)
    return f'(SELECT * FROM "{name}" WHERE {where})' if where else f'"{name}"'


def _run(sql: str, tables: dict, order_by: list[str], aggregates: dict[str, str],
         sample_select: str = "*", split_by_position: str | None = None) -> tuple[dict, object, str]:
    """Run ``SELECT <aggregates> FROM (sql)`` and, when rows fail, ``SELECT * FROM (sql) ORDER BY .. LIMIT``.
    ``split_by_position``: on Parquet files, run it in passes over position ranges (its aggregates must add up over
    them, and its rows must be keyed by position); the value is the SQL weight of a ``sites`` row (its call rows).

    Returns ({aggregate: value}, sample pyarrow.Table or None, backend)."""
    aggregate_sql = "SELECT " + ", ".join(f"{expr} AS {name}" for name, expr in aggregates.items()) + \
        f" FROM ({sql}) AS failing"
    order = ", ".join(f'"{c}"' for c in order_by)
    sample_sql = f"SELECT {sample_select} FROM ({sql}) AS failing ORDER BY {order} LIMIT {SAMPLE_ROWS}"
    files = {name: parquet_files(t) for name, t in tables.items()}
    if all(files.values()):  # Spark scans of Parquet files: DuckDB reads the files, streaming, memory capped
        with Session(files) as session:
            ranges = _position_ranges(session.con, split_by_position) if split_by_position else [(None, None)]
            values = dict.fromkeys(aggregates, 0)
            samples = []
            for low, high in ranges:
                names = {name: _in_range(name, low, high) for name in tables}
                row = session.con.sql(aggregate_sql.format(**names)).fetchall()[0]
                found = {k: int(v or 0) for k, v in zip(aggregates, row)}
                values = {k: values[k] + found[k] for k in aggregates}
                if found["n"] and sum(t.num_rows for t in samples) < SAMPLE_ROWS:
                    samples.append(session.con.sql(sample_sql.format(**names)).to_arrow_table())
        sample = None
        if samples:
            import pyarrow as pa

            sample = pa.concat_tables(samples).sort_by([(c, "ascending") for c in order_by]).slice(0, SAMPLE_ROWS)
        return values, sample, "duckdb"
    if any(_is_spark(t) for t in tables.values()):
        spark = next(t for t in tables.values() if _is_spark(t)).sparkSession
        row = spark.sql(aggregate_sql.replace('"', "`"), **tables).collect()[0].asDict()
        values = {k: int(v or 0) for k, v in row.items()}
        sample = spark.sql(sample_sql.replace('"', "`"), **tables).toArrow() if values["n"] else None
        return values, sample, "spark"
    import duckdb

    con = duckdb.connect()
    try:
        for name, table in tables.items():
            con.register(name, table)
        names = {name: name for name in tables}
        row = con.sql(aggregate_sql.format(**names)).fetchall()[0]
        values = {k: int(v or 0) for k, v in zip(aggregates, row)}
        sample = con.sql(sample_sql.format(**names)).to_arrow_table() if values["n"] else None
    finally:
        con.close()
    return values, sample, "duckdb"


def _columns(data) -> list[str]:
    return list(data.columns) if _is_spark(data) else list(data.schema.names)


GENOTYPE_COUNTS_SQL = """
SELECT *
FROM {sites}
WHERE "n_hom_ref" + "n_het" + "n_hom_alt" + "n_missing" <> {n_samples} OR "ac" > "an"
"""


def genotype_counts(sites, n_samples: int) -> CheckOutcome:
    """Every site row accounts for all the file's samples (n_hom_ref + n_het + n_hom_alt + n_missing == n_samples)
    and never counts more ALT alleles than called alleles (ac <= an). Failing rows: the sites rows."""
    sql = GENOTYPE_COUNTS_SQL.replace("{n_samples}", str(int(n_samples)))
    values, sample, backend = _run(sql, {"sites": sites}, ["chromosome", "start", "alt"], {
        "n": "count(*)",
        "bad_counts": 'sum(CASE WHEN "n_hom_ref" + "n_het" + "n_hom_alt" + "n_missing" <> '
                      f'{int(n_samples)} THEN 1 ELSE 0 END)',
        "ac_above_an": 'sum(CASE WHEN "ac" > "an" THEN 1 ELSE 0 END)',
    })
    details = {"samples": int(n_samples), "backend": backend, "inconsistent_counts": values["bad_counts"],
               "ac_above_an": values["ac_above_an"]}
    if not values["n"]:
        return CheckOutcome(True, details=details, engine="sql")
    parts = []
    if values["bad_counts"]:
        parts.append(f"{values['bad_counts']} rows where n_hom_ref + n_het + n_hom_alt + n_missing != {int(n_samples)} "
                     "samples")
    if values["ac_above_an"]:
        parts.append(f"{values['ac_above_an']} rows with ac > an")
    return CheckOutcome(False, "sites genotype_counts: " + "; ".join(parts), values["n"], sample, details,
                        engine="sql")


ONE_CALL_SQL = """
WITH copies AS (
    SELECT "source_file", "chromosome", "start", "ref", "alt", count(*) AS site_rows
    FROM {sites}
    GROUP BY "source_file", "chromosome", "start", "ref", "alt"
),
call_rows AS (
    SELECT "source_file", "chromosome", "start", "ref", "alt", "sample_id", count(*) AS call_rows
    FROM {calls}
    GROUP BY "source_file", "chromosome", "start", "ref", "alt", "sample_id"
)
SELECT r."source_file", r."chromosome", r."start", r."ref", r."alt", r."sample_id", r.call_rows,
       coalesce(c.site_rows, 0) AS site_rows
FROM call_rows r
LEFT JOIN copies c
  ON c."source_file" = r."source_file" AND c."chromosome" = r."chromosome" AND c."start" = r."start"
 AND c."ref" = r."ref" AND c."alt" = r."alt"
WHERE r.call_rows > coalesce(c.site_rows, 0)
"""


def one_call_per_sample_and_site(calls, sites) -> CheckOutcome:
    """One calls row per (file, sample, site allele), or one per copy of a record the file repeats verbatim (the
    VCF specification allows duplicate records: each copy carries its own rows); never a call on a site the file
    does not have. Failing rows: the (source_file, chromosome, start, ref, alt, sample_id) keys with more call rows
    than site rows, with call_rows and site_rows."""
    if _is_spark(calls) and not (parquet_files(calls) and parquet_files(sites)):
        calls = _one_call_candidates(calls, sites)
    values, sample, backend = _run(ONE_CALL_SQL, {"calls": calls, "sites": sites},
                                   ["source_file", "chromosome", "start", "alt", "sample_id"],
                                   {"n": "count(*)", "excess_rows": "sum(call_rows - site_rows)",
                                    "orphans": "sum(CASE WHEN site_rows = 0 THEN 1 ELSE 0 END)"},
                                   split_by_position='"n_het" + "n_hom_alt" + "n_missing" + 1')
    details = {"backend": backend, "keys_with_excess_rows": values["n"], "excess_call_rows": values["excess_rows"],
               "keys_without_site": values["orphans"]}
    if not values["n"]:
        return CheckOutcome(True, details=details, engine="sql")
    message = (f"calls one_call_per_sample_and_site: {values['n']} (sample, site allele) keys with more call rows "
               f"than site rows ({values['excess_rows']} extra rows; {values['orphans']} keys on no site)")
    return CheckOutcome(False, message, values["n"], sample, details, engine="sql")


def _one_call_candidates(calls, sites):
    """The calls rows that can fail one_call_per_sample_and_site, found without shuffling every row's text key (on a
    cohort file, tens of millions of rows): rows whose (site, sample) hash occurs more than once (repeats, and hash
    collisions, which the exact SQL then clears) and rows on a site key the file's sites do not have. Every other
    row is alone on its key and on a site, so ONE_CALL_SQL over the candidates equals ONE_CALL_SQL over all rows."""
    from pyspark.sql import functions as F

    key = list(SITE_KEY)
    hashed = calls.withColumn("__h", F.xxhash64(*key, "sample_id"))
    repeated = hashed.groupBy("__h").count().where("count > 1").select("__h")
    on_no_site = calls.select(*key).distinct().join(sites.select(*key).distinct(), key, "left_anti")
    in_repeats = hashed.join(repeated, "__h", "left_semi")
    only_on_no_site = hashed.join(on_no_site, key, "left_semi").join(repeated, "__h", "left_anti")  # each row once
    return in_repeats.unionByName(only_on_no_site).drop("__h")


def unique_keys(table, keys: list[str], name: str = "") -> CheckOutcome:
    """Every key value occurs once. Failing rows: all rows whose key occurs more than once (the table's rows)."""
    keys = list(keys)
    columns = _columns(table)
    key_sql = ", ".join(f'"{k}"' for k in keys)
    select = ", ".join(f'"{c}"' for c in columns)
    sql = f"SELECT * FROM (SELECT *, count(*) OVER (PARTITION BY {key_sql}) AS __copies FROM {{t}}) AS k WHERE __copies > 1"
    # each duplicated key value has __copies rows: summing 1 / __copies over them counts the key values
    values, sample, backend = _run(sql, {"t": table}, keys,
                                   {"n": "count(*)", "keys": "CAST(round(sum(1.0 / __copies)) AS BIGINT)"},
                                   sample_select=select)
    details = {"backend": backend, "keys": ", ".join(keys), "duplicated_keys": values["keys"]}
    if not values["n"]:
        return CheckOutcome(True, details=details, engine="sql")
    message = (f"{name + ' ' if name else ''}unique ({', '.join(keys)}): {values['keys']} key values occur more than "
               f"once ({values['n']} rows)")
    return CheckOutcome(False, message, values["n"], sample, details, engine="sql")
