"""QC layer: variant QC per site and file, sample QC per sample and file (Spark over the catalogued sites, calls
and samples; hom-ref genotypes are never expanded), committed as Iceberg tables and checked before they are."""

from dagster import AssetKey, AutomationCondition, Config, MaterializeResult, MetadataValue, asset

from genolake_assets.checks import check_specs, empty_schema, gate, result, rows_of, staged as staged_data, table_checks
from genolake_assets.transforms import qc as qc_transform
from genolake_assets.transforms.tables import SAMPLE_QC, VARIANT_QC, Table
from resources.interfaces import Catalog, QueryEngine
from resources.spark import SparkResource

from .catalog import register
from .common import (SMALL_WRITE_ROWS, OWNERS, column_schema, commit_increment, increment_metadata, increment_rows,
                     write_spark_table)

_DEFAULTS = qc_transform.QcThresholds()


class QcConfig(Config):
    """QC thresholds (run config of qc/variant_qc and qc/sample_qc): a site or sample below one is flagged."""

    min_call_rate: float = _DEFAULTS.min_call_rate  # sites: called samples / samples
    min_maf: float = _DEFAULTS.min_maf  # sites: minor allele frequency
    min_hwe_p: float = _DEFAULTS.min_hwe_p  # sites: Hardy-Weinberg exact test p-value
    hwe_midp: bool = _DEFAULTS.hwe_midp  # the mid-p variant of the exact test (plink --hardy midp)
    min_sample_call_rate: float = _DEFAULTS.min_sample_call_rate  # samples: called site alleles / site alleles

    def thresholds(self) -> "qc_transform.QcThresholds":
        return qc_transform.QcThresholds(min_call_rate=self.min_call_rate, min_maf=self.min_maf,
                                         min_hwe_p=self.min_hwe_p, hwe_midp=self.hwe_midp,
                                         min_sample_call_rate=self.min_sample_call_rate)


def _inputs(spark, lakehouse, inputs, names, only=None):
    """Spark DataFrames of the catalogued tables at one recorded set (None for a table with no rows yet); with
    ``only`` (source_file keys), just those files' partitions: an increment reads O(its files)."""
    session = spark.spark_session
    frames = {}
    for name in names:
        files = [f.path for f in lakehouse.files(name, inputs.snapshot(name))
                 if only is None or f.partition.get("source_file") in only]
        files = lakehouse.localize(files)
        frames[name] = session.read.parquet(*files) if files else None
    return frames


def _publish(context, spark, lakehouse, catalog, query_engine, table: Table, df, checks_for, what: str, increment,
             input_rows: int):
    """Write, check, commit (write-audit-publish) the partitions of ``increment``; returns (commit metadata, the
    check results, staged rows: Arrow for a small table, else a Spark DataFrame over the new files). Unchanged
    partitions are neither read nor rewritten; with nothing to do nothing is committed."""
    staging = lakehouse.staging_root()
    paths = write_spark_table(df, staging, table, fingerprints=increment.fingerprints,
                              small=input_rows < SMALL_WRITE_ROWS) if df is not None else []
    staged = staged_data(paths, table.name, lambda: spark.spark_session)
    checks = checks_for(staged)

    def drop():
        lakehouse.delete_files(paths)
        lakehouse.discard_staging(staging)

    yield from gate(checks, what, drop)
    commit_set = commit_increment(lakehouse, table.name, increment, paths, staging, "qc", context.run_id)
    metadata = register(catalog, query_engine, table, commit_set)
    metadata.update(increment_metadata(increment))
    return metadata, checks, staged


def _flag_counts(staged, flags: list[str]) -> dict:
    import pyarrow.compute as pc

    if hasattr(staged, "sparkSession"):  # one aggregate row comes back
        row = staged.selectExpr(*(f"CAST(coalesce(sum(CAST({f} AS INT)), 0) AS BIGINT) AS {f}" for f in flags)).collect()
        return {name: int(row[0][name] or 0) for name in flags}
    return {name: int(pc.sum(pc.cast(staged[name], "int64")).as_py() or 0) if staged.num_rows else 0
            for name in flags}


@asset(
    key=["qc", "variant_qc"],
    deps=[AssetKey(["catalog", "sites"]), AssetKey(["catalog", "samples"])],
    group_name="qc",
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    description=VARIANT_QC.description,
    metadata={"table": VARIANT_QC.qualified_name, "dagster/column_schema": column_schema(VARIANT_QC)},
    automation_condition=AutomationCondition.eager(),
    check_specs=check_specs("variant_qc"),
)
def variant_qc(context, config: QcConfig, spark: SparkResource, catalog: Catalog, query_engine: QueryEngine):
    lakehouse = catalog.lakehouse()
    lakehouse.ensure_tables()
    inputs = lakehouse.current_set()
    thresholds = config.thresholds()
    increment = lakehouse.plan_increment(VARIANT_QC.name, inputs, ["sites", "samples"], params=repr(thresholds))
    frames = _inputs(spark, lakehouse, inputs, ["sites", "samples"], only=set(increment.compute))
    df = None
    if frames["sites"] is not None:
        samples = frames["samples"]
        df = qc_transform.variant_qc(frames["sites"], samples, thresholds)
    sites_rows = increment_rows(lakehouse, inputs, "sites", increment.compute)  # the rows this run must give
    metadata, checks, staged = yield from _publish(
        context, spark, lakehouse, catalog, query_engine, VARIANT_QC, df,
        lambda staged: table_checks(VARIANT_QC.name, staged, sites_rows=sites_rows), "variant_qc", increment,
        sites_rows)
    flags = _flag_counts(staged, ["low_call_rate", "low_maf", "hwe_failed", "qc_pass"])
    metadata.update({
        "thresholds": MetadataValue.json(thresholds.__dict__),
        "flagged_low_call_rate": flags["low_call_rate"],
        "flagged_low_maf": flags["low_maf"],
        "flagged_hwe": flags["hwe_failed"],
        "sites_passing_qc": flags["qc_pass"],
        "input_snapshots": {t: inputs.snapshot(t) for t in ("sites", "samples")},
    })
    context.log.info(f"variant_qc: {rows_of(staged)} site alleles, {flags['qc_pass']} pass; flagged: "
                     f"{flags['low_call_rate']} call rate, {flags['low_maf']} MAF, {flags['hwe_failed']} HWE")
    yield MaterializeResult(metadata=metadata)
    yield from checks


@asset(
    key=["qc", "sample_qc"],
    deps=[AssetKey(["catalog", "sites"]), AssetKey(["catalog", "calls"]), AssetKey(["catalog", "samples"])],
    group_name="qc",
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    description=SAMPLE_QC.description,
    metadata={"table": SAMPLE_QC.qualified_name, "dagster/column_schema": column_schema(SAMPLE_QC)},
    automation_condition=AutomationCondition.eager(),
    check_specs=check_specs("sample_qc"),
)
def sample_qc(context, config: QcConfig, spark: SparkResource, catalog: Catalog, query_engine: QueryEngine):
    lakehouse = catalog.lakehouse()
    lakehouse.ensure_tables()
    inputs = lakehouse.current_set()
    thresholds = config.thresholds()
    increment = lakehouse.plan_increment(SAMPLE_QC.name, inputs, ["sites", "calls", "samples"],
                                         params=repr(thresholds))
    computed = set(increment.compute)
    frames = _inputs(spark, lakehouse, inputs, ["sites", "calls", "samples"], only=computed)
    df, found = None, None
    if frames["samples"] is not None:
        session = spark.spark_session
        # a file whose samples have no calls row (all hom-ref, or no GT) still has sample QC rows; a file without
        # records has samples but no sites (n_sites 0)
        calls = frames["calls"] if frames["calls"] is not None else _empty(session, "calls")
        sites = frames["sites"] if frames["sites"] is not None else _empty(session, "sites")
        df = qc_transform.sample_qc(calls, sites, frames["samples"], thresholds)
        found = discordance(_discordant(spark, lakehouse, inputs, computed))
    samples_rows = increment_rows(lakehouse, inputs, "samples", increment.compute)

    def checks_for(staged):
        return [*table_checks(SAMPLE_QC.name, staged, samples_rows=samples_rows),
                result("sample_qc", "concordance", concordance_outcome(found))]

    metadata, checks, staged = yield from _publish(context, spark, lakehouse, catalog, query_engine, SAMPLE_QC, df,
                                                   checks_for, "sample_qc", increment,
                                                   increment_rows(lakehouse, inputs, "calls", increment.compute))
    flags = _flag_counts(staged, ["low_call_rate", "qc_pass"])
    metadata.update({
        "thresholds": MetadataValue.json({"min_sample_call_rate": thresholds.min_sample_call_rate}),
        "flagged_low_call_rate": flags["low_call_rate"],
        "samples_passing_qc": flags["qc_pass"],
        "discordant_samples": found["samples"] if found is not None else 0,
        "input_snapshots": {t: inputs.snapshot(t) for t in ("sites", "calls", "samples")},
    })
    yield MaterializeResult(metadata=metadata)
    yield from checks


def _discordant(spark, lakehouse, inputs, changed: set):
    """Discordant genotypes between a changed file and any other file sharing a sample with it: only the files of
    those pairs are read (samples is read whole: one row per sample and file)."""
    from pyspark.sql import functions as F

    session = spark.spark_session
    samples_files = lakehouse.localize([f.path for f in lakehouse.files("samples", inputs.snapshot("samples"))])
    if not samples_files or not changed:
        return None
    samples = session.read.parquet(*samples_files).select("sample_id", "source_file")
    mine = samples.where(F.col("source_file").isin(sorted(changed))).select("sample_id").distinct()
    involved = {r[0] for r in samples.join(mine, "sample_id", "left_semi").select("source_file").distinct().collect()}
    if len(involved) < 2:
        return None
    frames = _inputs(spark, lakehouse, inputs, ["sites", "calls", "samples"], only=involved)
    if frames["calls"] is None or frames["sites"] is None:
        return None
    return qc_transform.discordant_genotypes(frames["calls"], frames["sites"], frames["samples"], changed=changed)


def _empty(session, table: str):
    """An empty DataFrame with the contract's columns (a table with no rows yet)."""
    return session.createDataFrame([], schema=empty_schema(table))


def discordance(rows) -> dict:
    """What the concordance check reports of the discordant genotypes (a Spark DataFrame): their count, the number
    of samples, up to 100 sample IDs and SAMPLE_ROWS rows. Counts and a bounded sample come back, never all rows."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from quality.outcome import SAMPLE_ROWS

    if rows is None:
        return None
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        totals = rows.agg(F.count(F.lit(1)).alias("n"), F.countDistinct("sample_id").alias("samples")).collect()[0]
        n, samples = int(totals["n"]), int(totals["samples"])
        if not n:
            return {"rows": 0, "samples": 0, "sample_ids": [], "sample": None}
        ids = [r[0] for r in rows.select("sample_id").distinct().orderBy("sample_id").limit(100).collect()]
        sample = rows.orderBy("sample_id", "chromosome", "start", "alt").limit(SAMPLE_ROWS).toArrow()
        return {"rows": n, "samples": samples, "sample_ids": ids, "sample": sample}
    finally:
        rows.unpersist()


def concordance_outcome(found):
    """Warn (never block) when a sample typed in several files has discordant genotypes at a shared site.
    ``found``: what ``discordance`` says of the discordant genotypes (None: nothing to compare)."""
    from quality.outcome import CheckOutcome

    if found is None or not found["rows"]:
        return CheckOutcome(True, engine="spark", details={"discordant_samples": 0, "discordant_genotypes": 0})
    ids = found["sample_ids"]
    shown = ", ".join(ids[:20]) + (" ..." if found["samples"] > 20 else "")
    return CheckOutcome(False, f"{found['samples']} sample(s) typed in several files disagree at {found['rows']} "
                        f"site(s): {shown}", found["rows"], found["sample"], engine="spark",
                        details={"discordant_samples": found["samples"], "discordant_genotypes": found["rows"],
                                 "samples": ", ".join(ids)})
