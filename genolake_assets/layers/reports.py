"""Reports layer: the pharmacogenomic drug-response report, computed by the SQL engine over the catalog and
committed as an Iceberg table that keeps the snapshot ids of everything it read."""


import os
import uuid

import pyarrow.parquet as pq
from dagster import (
    AssetKey,
    AutomationCondition,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from genolake_assets import mode
from genolake_assets.transforms.report import COHORT_SIZE_SQL, DEFAULT_LIMIT, REPORT_INPUTS, with_inputs, drug_response_sql
from genolake_assets.transforms.tables import DRUG_RESPONSE_REPORT, data_dir
from genolake_assets.checks import check_specs, gate, result, table_checks
from resources.interfaces import Catalog
from resources.lakehouse import Change
from resources.interfaces import QueryEngine

from .catalog import register
from .common import OWNERS, column_schema, to_markdown


class ReportConfig(Config):
    # SQL LIKE pattern on sample IDs; empty: the GENOLAKE_REPORT_COHORT setting, by default every sample ('%')
    cohort: str = ""
    limit: int = DEFAULT_LIMIT

    def resolved_cohort(self) -> str:
        return self.cohort.strip() or mode.current().report_cohort


def cohort_outcome(cohort: str, cohort_size: int):
    """Warn (never block) when no sample matches the cohort: the report is then empty, which is not wrong data."""
    from quality.outcome import CheckOutcome

    details = {"cohort": cohort, "cohort_size": int(cohort_size or 0)}
    if cohort_size:
        return CheckOutcome(True, engine="genolake", details=details)
    return CheckOutcome(False, f"no sample ID matches the cohort {cohort!r}: the report is empty (set the cohort with "
                        "`genolake ingest --cohort PATTERN`, GENOLAKE_REPORT_COHORT or the asset's run config)",
                        0, None, details, engine="genolake")


REPORT_COLUMNS = ["rank", "rsid", "genotype", "frequency", "sample_count", "gene_symbol", "phenotype_list"]


@asset(
    key=["reports", "drug_response_report"],
    deps=[
        AssetKey(["annotated", "annotated_variants"]),
        AssetKey(["catalog", "calls"]),
        AssetKey(["catalog", "samples"]),
    ],
    group_name="reports",
    kinds={"duckdb", "iceberg"},
    owners=OWNERS,
    description=DRUG_RESPONSE_REPORT.description,
    metadata={"table": DRUG_RESPONSE_REPORT.qualified_name,
              "dagster/column_schema": column_schema(DRUG_RESPONSE_REPORT)},
    automation_condition=AutomationCondition.eager(),
    check_specs=check_specs("drug_response_report"),
)
def drug_response_report(context, config: ReportConfig, query_engine: QueryEngine, catalog: Catalog):
    lakehouse = catalog.lakehouse()
    lakehouse.ensure_tables()
    inputs = lakehouse.current_set()  # the report reads every input at this one recorded set
    cohort = config.resolved_cohort()
    report = with_inputs(query_engine.query_at(drug_response_sql(), [cohort, config.limit], inputs), inputs.snapshots)
    staging = lakehouse.staging_root()
    target = os.path.join(data_dir(staging, DRUG_RESPONSE_REPORT.name), f"report-{uuid.uuid4().hex[:12]}.parquet")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    pq.write_table(report, target, compression="zstd")
    cohort_size = query_engine.query_at(COHORT_SIZE_SQL, [cohort], inputs)["n"][0].as_py() or 0
    checks = [*table_checks(DRUG_RESPONSE_REPORT.name, report, cohort_size=cohort_size),
              result(DRUG_RESPONSE_REPORT.name, "cohort_has_samples", cohort_outcome(cohort, cohort_size))]

    def drop():
        lakehouse.delete_files([target])
        lakehouse.discard_staging(staging)

    yield from gate(checks, "drug_response_report", drop)
    try:
        commit_set = lakehouse.commit([Change(DRUG_RESPONSE_REPORT.name, lakehouse.publish([target], staging), {})],
                                      operation="report", run_id=context.run_id)
    finally:
        lakehouse.discard_staging(staging)
    metadata = register(catalog, query_engine, DRUG_RESPONSE_REPORT, commit_set)
    metadata.update(
        {
            "cohort": cohort,
            "cohort_size": cohort_size,
            "input_snapshots": {t: inputs.snapshot(t) for t in REPORT_INPUTS},
            "input_commit_id": inputs.commit_id or "none",
            "recompute": MetadataValue.text(f"genolake report --as-of {commit_set.snapshot(DRUG_RESPONSE_REPORT.name)}"
                                            f" --cohort '{cohort}'"),
            "report": MetadataValue.md(to_markdown(report.select(REPORT_COLUMNS))),
            "samples_in_several_files": MetadataValue.text(
                "A sample typed in several files counts once per variant and genotype; if its files disagree at a "
                "variant it counts under each genotype they give (listed by the qc/sample_qc concordance check)."),
        }
    )
    if not cohort_size:
        metadata["warning"] = MetadataValue.text(f"no sample ID matches the cohort {cohort!r}: the report is empty")
        context.log.warning(f"drug-response report: no sample ID matches the cohort {cohort!r}; the report is empty")
    context.log.info(f"drug-response report: {report.num_rows} rows, cohort {cohort} ({cohort_size} samples)")
    yield MaterializeResult(metadata=metadata)
    yield from checks
