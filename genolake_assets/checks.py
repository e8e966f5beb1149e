"""Wires quality/ into Dagster asset checks: every table gets pandera and Great Expectations checks.

Write-audit-publish: each asset writes its new data files, runs the table's checks on exactly those files, and only
commits them when every blocking check passed. When one fails, the check results (with the failing-row count and a
sample of the rows) are recorded, the files are dropped, the step fails naming the file and the checks, and nothing
downstream runs in that run. Warnings (severity WARN, not blocking) are recorded and never stop a run.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, Failure, MetadataValue

from quality.outcome import CheckOutcome

ASSET_KEYS = {
    "sites": ["processed", "sites"],
    "calls": ["processed", "calls"],
    "samples": ["processed", "samples"],
    "clinvar": ["processed", "clinvar"],
    "annotated_variants": ["annotated", "annotated_variants"],
    "variant_qc": ["qc", "variant_qc"],
    "sample_qc": ["qc", "sample_qc"],
    "drug_response_report": ["reports", "drug_response_report"],
}


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    blocking: bool = True


PANDERA = "pandera: columns, types, nullability and value ranges of the {} contract"
CHECKS: dict[str, list[Check]] = {
    "sites": [
        Check("schema", PANDERA.format("sites")),
        Check("genotype_counts", "n_hom_ref + n_het + n_hom_alt + n_missing equals the file's sample count at every "
              "site; ac <= an"),
        Check("gx_suite", "Great Expectations: AC, AN and AF of every site equal those recomputed from its calls "
              "(hom-ref samples counted from the site's ploidy)"),
    ],
    "calls": [
        Check("schema", PANDERA.format("calls")),
        Check("one_call_per_sample_and_site", "one row per (sample, site allele) of a file, or one per copy of a "
              "record the file repeats verbatim; never a call on a site that does not exist"),
        Check("gx_suite", "Great Expectations: the file's calls rows equal its sites' n_het + n_hom_alt + n_missing; "
              "every sample_id is one of the file's samples"),
    ],
    "samples": [
        Check("schema", PANDERA.format("samples") + "; one row per sample ID"),
        Check("gx_suite", "Great Expectations: as many rows as the VCF header has samples; sample_index unique, "
              "0 to n-1"),
    ],
    "clinvar": [
        Check("schema", PANDERA.format("clinvar")),
        Check("gx_suite", "Great Expectations: ids, assemblies, VCF-style alleles, rsIDs, unique AlleleID per "
              "assembly"),
    ],
    "annotated_variants": [
        Check("schema", PANDERA.format("annotated_variants")),
        Check("gx_suite", "Great Expectations: the fraction of sites joined to ClinVar does not drop beyond the "
              "threshold against the previous annotation; allele ids present; clinical significance mostly present"),
    ],
    "variant_qc": [
        Check("schema", PANDERA.format("variant_qc")),
        Check("gx_suite", "Great Expectations: one row per site; call rate and AF in [0, 1]"),
    ],
    "sample_qc": [
        Check("schema", PANDERA.format("sample_qc")),
        Check("gx_suite", "Great Expectations: one row per sample of each file; call rate in [0, 1]"),
        Check("concordance", "Samples typed in more than one file must have the same genotype at the sites the "
              "files share (implied hom-ref included, missing calls ignored). Warns, does not block: the report "
              "counts such a sample once under each genotype its files give", blocking=False),
    ],
    "drug_response_report": [
        Check("schema", "pandera: frequencies in (0, 1], sorted, at most 1 per variant, well-formed genotypes, "
              "ranks unique"),
        Check("gx_suite", "Great Expectations: frequencies in (0, 1]"),
        Check("cohort_has_samples", "Some sample ID matches the report's cohort. Warns, does not block: an empty "
              "cohort gives an empty report (the cohort is a setting: GENOLAKE_REPORT_COHORT, `genolake ingest "
              "--cohort`, or the asset's run config; every sample by default)", blocking=False),
    ],
}


def asset_key(table: str) -> AssetKey:
    return AssetKey(ASSET_KEYS[table])


def check_specs(table: str) -> list[AssetCheckSpec]:
    return [AssetCheckSpec(c.name, asset=asset_key(table), description=c.description, blocking=c.blocking)
            for c in CHECKS[table]]


def _check(table: str, name: str) -> Check:
    for check in CHECKS[table]:
        if check.name == name:
            return check
    raise KeyError(f"{table} has no check {name!r}")


def result(table: str, name: str, outcome: CheckOutcome) -> AssetCheckResult:
    """The Dagster result of one check: message, failing-row count and a Markdown sample of the failing rows."""
    from .layers.common import to_markdown

    check = _check(table, name)
    metadata = {"engine": outcome.engine or "genolake", "failing_rows": outcome.failing_rows,
                "message": MetadataValue.text(outcome.summary())}
    if not outcome.passed and outcome.sample is not None and outcome.sample.num_rows:
        metadata["failing_rows_sample"] = MetadataValue.md(to_markdown(outcome.sample))
    for key, value in (outcome.details or {}).items():
        metadata[key] = value if isinstance(value, (int, float, str, bool)) else MetadataValue.json(value)
    return AssetCheckResult(
        asset_key=asset_key(table), check_name=name, passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR if check.blocking else AssetCheckSeverity.WARN,
        metadata=metadata, description=check.description,
    )


def describe(results: list[AssetCheckResult], blocking_only: bool = True) -> list[str]:
    """'asset:check message' for each failed check (the blocking ones unless told otherwise)."""
    out = []
    for r in results:
        if r.passed or (blocking_only and r.severity != AssetCheckSeverity.ERROR):
            continue
        message = r.metadata.get("message")
        out.append(f"{r.asset_key.to_user_string()}:{r.check_name} {getattr(message, 'value', message) or ''}".strip())
    return out


def batch_check_result(asset_path, name: str, per_file: list) -> AssetCheckResult:
    """One check's result over a batch of files, from each file's own result ``(partition key, result)``: passed
    when every file passed; the message, failing rows and a per-file table (failures first) say which file."""
    from .layers.common import to_markdown
    import pyarrow as pa

    first = per_file[0][1]
    failed = [(key, r) for key, r in per_file if not r.passed]
    rows = sum(int(getattr(r.metadata.get("failing_rows"), "value", 0) or 0) for _, r in per_file)

    def text(r) -> str:
        message = r.metadata.get("message")
        return str(getattr(message, "value", message) or "")

    shown = (failed + [(k, r) for k, r in per_file if r.passed])[:50]
    table = pa.table({"partition": [k for k, _ in shown], "passed": [r.passed for _, r in shown],
                      "failing_rows": [int(getattr(r.metadata.get("failing_rows"), "value", 0) or 0)
                                       for _, r in shown], "message": [text(r)[:200] for _, r in shown]})
    summary = (f"{len(failed)} of {len(per_file)} files failed: " + "; ".join(f"{k}: {text(r)}" for k, r in failed[:5])
               if failed else f"passed on each of the batch's {len(per_file)} files")
    return AssetCheckResult(
        asset_key=AssetKey(list(asset_path)), check_name=name, passed=not failed, severity=first.severity,
        description=first.description,
        metadata={"engine": first.metadata.get("engine") or "genolake", "failing_rows": rows, "files": len(per_file),
                  "files_failed": len(failed), "message": MetadataValue.text(summary[:2000]),
                  "per_file": MetadataValue.md(to_markdown(table))},
    )


def gate(results: list[AssetCheckResult], what: str, drop=None):
    """Yield the check results; when a blocking one failed, drop the new files (``drop()``) and fail the step, so
    nothing is committed and nothing downstream runs. Use as ``yield from gate(...)`` before committing."""
    failures = describe(results)
    if failures:
        yield from results
        if drop is not None:
            drop()
        raise Failure(description=f"{what}: not published, blocking checks failed: " + "; ".join(failures),
                      allow_retries=False)


# -- the checks of each table, run on a run's new data files ----------------------------------------------------

SMALL_ROWS = 100_000  # up to this many rows a file's tables are validated in this process (pandas, DuckDB): no Spark job


def read_arrow(paths: list[str], table: str):
    """A run's data files of ``table`` as one Arrow table with the contract's columns (empty when no files)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    from genolake_assets.transforms.tables import TABLES
    from quality.schemas import arrow_type

    contract = TABLES[table]
    if not paths:
        return pa.schema([pa.field(c.name, arrow_type(c.type), c.nullable) for c in contract.all_columns]).empty_table()
    data = ds.dataset(paths, format="parquet").to_table(columns=contract.column_names)
    # plain values: files written from a partitioned read keep dictionary-encoded columns, one dictionary per file
    return data.cast(pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type,
                                         f.nullable) for f in data.schema]))


def staged(paths: list[str], table: str, spark_session=None):
    """A run's new data files of ``table`` for its checks: an Arrow table up to SMALL_ROWS rows (counted from the
    Parquet footers), else a Spark DataFrame over the files (``spark_session()`` gives the session), so a large
    table is checked where the data is and never read into this process."""
    from quality.schemas import parquet_rows

    if spark_session is None or parquet_rows(paths) <= SMALL_ROWS:
        return read_arrow(paths, table)
    return spark_session().read.parquet(*paths)


def rows_of(data) -> int:
    """Rows of an Arrow table or a Spark DataFrame."""
    return int(data.count()) if hasattr(data, "sparkSession") else int(data.num_rows)


def vcf_file_checks(files: dict[str, list[str]], n_samples: int, spark_session=None) -> list[AssetCheckResult]:
    """Every check of sites, calls and samples on one file's new data files (not yet committed). Small files are
    validated with pandera's pandas backend, DuckDB and GX on pandas; large ones with Spark (``spark_session()``
    gives the session, started only then)."""
    from quality import consistency, gx_suites, schemas
    from quality.schemas import parquet_rows

    rows = sum(parquet_rows(files.get(t) or []) for t in ("sites", "calls", "samples"))
    if rows <= SMALL_ROWS or spark_session is None:
        data = {t: read_arrow(files.get(t) or [], t) for t in ("sites", "calls", "samples")}
    else:
        spark = spark_session()
        data = {t: spark.read.parquet(*files[t]) if files.get(t) else spark.createDataFrame(
            [], schema=empty_schema(t)) for t in ("sites", "calls", "samples")}
    sites, calls, samples = data["sites"], data["calls"], data["samples"]
    results = [
        result("sites", "schema", schemas.validate("sites", sites)),
        result("sites", "genotype_counts", consistency.genotype_counts(sites, n_samples)),
        result("sites", "gx_suite", gx_suites.validate("sites", sites, calls=calls, n_samples=n_samples)),
        result("calls", "schema", schemas.validate("calls", calls)),
        result("calls", "one_call_per_sample_and_site", consistency.one_call_per_sample_and_site(calls, sites)),
        result("calls", "gx_suite", gx_suites.validate("calls", calls, sites=sites, samples=samples)),
        result("samples", "schema", schemas.validate("samples", samples)),  # unique (source_file, sample_id) included
        result("samples", "gx_suite", gx_suites.validate("samples", samples, n_samples=n_samples)),
    ]
    gx_suites.release()  # the cached sites/calls reconciliation
    return results


def empty_schema(table: str):
    """The Spark schema of a table's contract (for an empty DataFrame of a table with no rows)."""
    from pyspark.sql import types as T

    from genolake_assets.transforms.tables import TABLES
    from quality.schemas import spark_type

    return T.StructType([T.StructField(c.name, spark_type(c.type), c.nullable) for c in TABLES[table].all_columns])


def table_checks(table: str, data, **inputs) -> list[AssetCheckResult]:
    """The pandera schema and the GX suite of a whole (staged) table: an Arrow table."""
    from quality import gx_suites, schemas

    return [result(table, "schema", schemas.validate(table, data)),
            result(table, "gx_suite", gx_suites.validate(table, data, **inputs))]
