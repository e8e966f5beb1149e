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
from .sensors import landing_sensor

ASSETS = [quarantine_spec, vcf_files, clinvar_releases, processed_vcf, clinvar, *catalog_assets, annotated_variants, variant_qc, sample_qc,
          drug_response_report, policy_file, permissions]

automation_sensor = AutomationConditionSensorDefinition(
    "publish_automation",
    target=AssetSelection.groups("catalog", "annotated", "qc", "reports", "governance"),
    default_status=DefaultSensorStatus.RUNNING,
    description="Keeps the catalog, annotations, QC tables and reports up to date after each ingest (eager conditions).",
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
    sensors=[*landing_sensors(), automation_sensor],
    resources=resources_for_mode(),
    executor=in_process_executor,
)
