"""The genolake code location: assets, checks, sensors, jobs and the resources of the current mode."""

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    in_process_executor,
)

from resources import resources_for_mode

from .mode import current

from .jobs import ingest_clinvar_job, ingest_vcf_job, publish_job
from .maintenance import maintenance, maintenance_schedule
from .layers.annotated import annotated_variants
from .layers.catalog import catalog_assets
from .layers.governance import matches_policy, permissions, policy_file
from .layers.processed import clinvar, processed_vcf
from .layers.quarantine import quarantine_spec
from .layers.raw import clinvar_releases, vcf_files
from .layers.qc import sample_qc, variant_qc
from .layers.reports import drug_response_report
from .sensors import landing_sensor, policy_file_sensor

ASSETS = [quarantine_spec, vcf_files, clinvar_releases, processed_vcf, clinvar, *catalog_assets, annotated_variants, variant_qc, sample_qc,
          drug_response_report, policy_file, permissions]

# Two automation sensors, so their runs go side by side: after an ingest the catalog, annotation, report and
# governance run (the live path to the report) does not wait for QC, which it does not depend on.
# Dagster's daemon loops every 5 s; a minimum interval of 5 s made every sensor skip one loop in two (10 s between
# ticks, measured): with 1 s each one is evaluated on every loop.
TICK_SECONDS = 1
automation_sensor = AutomationConditionSensorDefinition(
    "publish_automation",
    target=AssetSelection.groups("catalog", "annotated", "reports", "governance"),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=TICK_SECONDS,
    description="Keeps the catalog, annotations, reports and permissions up to date after each ingest (eager "
                "conditions; only the new files' partitions are computed).",
)
qc_automation_sensor = AutomationConditionSensorDefinition(
    "qc_automation",
    target=AssetSelection.groups("qc"),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=TICK_SECONDS,
    description="Keeps variant and sample QC up to date after each ingest, in runs of their own (eager conditions; "
                "only the new files' partitions are computed).",
)


def landing_sensors() -> list:
    """The folder sensor locally; the S3 sensor (listing or SQS queue mode) in aws mode."""
    if current().mode == "aws":
        from .s3_sensor import s3_landing_sensor

        return [s3_landing_sensor]
    return [landing_sensor]


defs = Definitions(
    assets=ASSETS,
    asset_checks=[matches_policy],
    jobs=[ingest_vcf_job, ingest_clinvar_job, publish_job, maintenance],
    schedules=[maintenance_schedule],
    sensors=[*landing_sensors(), policy_file_sensor, automation_sensor, qc_automation_sensor],
    resources=resources_for_mode(),
    executor=in_process_executor,
)
