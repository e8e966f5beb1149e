"""Reports layer: the pharmacogenomic drug-response report, computed by the SQL engine over the catalog."""


import os

import pyarrow.parquet as pq
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    AutomationCondition,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from genolake_assets.transforms.report import DEFAULT_COHORT, DEFAULT_LIMIT, drug_response_sql
from genolake_assets.transforms.tables import DRUG_RESPONSE_REPORT
from quality.schemas import validate_report
from resources.catalog import LocalCatalog
from resources.query import DuckDBQueryEngine
from resources.storage import LocalStorage

from .catalog import register
from .common import OWNERS, column_schema, to_markdown


class ReportConfig(Config):
    cohort: str = DEFAULT_COHORT  # SQL LIKE pattern on sample IDs
    limit: int = DEFAULT_LIMIT


REPORT_COLUMNS = ["rank", "rsid", "genotype", "frequency", "sample_count", "gene_symbol", "phenotype_list"]


@asset(
    key=["reports", "drug_response_report"],
    deps=[
        AssetKey(["annotated", "annotated_variants"]),
        AssetKey(["catalog", "calls"]),
        AssetKey(["catalog", "samples"]),
    ],
    group_name="reports",
    kinds={"duckdb", "parquet"},
    owners=OWNERS,
    description=DRUG_RESPONSE_REPORT.description,
    metadata={"table": DRUG_RESPONSE_REPORT.qualified_name,
              "dagster/column_schema": column_schema(DRUG_RESPONSE_REPORT)},
    automation_condition=AutomationCondition.eager(),
    check_specs=[AssetCheckSpec("report_schema", asset=["reports", "drug_response_report"],
                                description="pandera: frequencies in (0, 1], sorted, at most 1 per variant, "
                                "well-formed genotypes")],
)
def drug_response_report(context, config: ReportConfig, query_engine: DuckDBQueryEngine, storage: LocalStorage,
                         catalog: LocalCatalog) -> MaterializeResult:
    report = query_engine.query(drug_response_sql(), [config.cohort, config.limit])
    with storage.staging() as staging:
        target = os.path.join(staging, "drug_response_report", "part-0.parquet")
        os.makedirs(os.path.dirname(target))
        pq.write_table(report, target, compression="zstd")
        storage.commit_table(staging, "drug_response_report")
    metadata = register(catalog, storage, DRUG_RESPONSE_REPORT)
    cohort_size = report["cohort_size"][0].as_py() if report.num_rows else 0
    metadata.update(
        {
            "cohort": config.cohort,
            "cohort_size": cohort_size,
            "report": MetadataValue.md(to_markdown(report.select(REPORT_COLUMNS))),
        }
    )
    context.log.info(f"drug-response report: {report.num_rows} rows, cohort {config.cohort} ({cohort_size} samples)")
    outcome = validate_report(report.to_pandas())
    return MaterializeResult(
        metadata=metadata,
        check_results=[AssetCheckResult(check_name="report_schema", passed=outcome.passed,
                                         metadata={"errors": outcome.summary(), "rows": report.num_rows})],
    )
