"""Jobs: per-file ingest (raw -> processed) and the publish step (catalog -> annotated -> reports)."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from .partitions import clinvar_releases_partitions, vcf_files_partitions

INGEST_VCF = AssetSelection.assets(["raw", "vcf_files"], ["processed", "sites"], ["processed", "calls"], ["processed", "samples"])
INGEST_CLINVAR = AssetSelection.assets(["raw", "clinvar_releases"], ["processed", "clinvar"])
PUBLISH = AssetSelection.groups("catalog", "annotated", "qc", "reports", "governance")
# dagster.yaml limits concurrent runs carrying this tag (tag_concurrency_limits)
RUN_KIND = "genolake/run-kind"
INGEST_TAGS = {RUN_KIND: "ingest"}
# A batch: one ingest_vcf run over a range of partitions (new files are added together, so their keys are
# contiguous); its fixed costs (run, Spark warm-up, checks set-up, Iceberg commit) are shared by its files.
BATCH_FILES = 50
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
BATCH_TAG = "genolake/batch-files"

ingest_vcf_job = define_asset_job(
    "ingest_vcf",
    selection=INGEST_VCF,
    partitions_def=vcf_files_partitions,
    executor_def=in_process_executor,
    description="Validate one landed VCF into the raw zone and parse it into processed sites, calls and samples.",
    tags=INGEST_TAGS,
)
ingest_clinvar_job = define_asset_job(
    "ingest_clinvar",
    selection=INGEST_CLINVAR,
    partitions_def=clinvar_releases_partitions,
    executor_def=in_process_executor,
    description="Validate one landed ClinVar release into the raw zone and type it into processed clinvar.",
    tags=INGEST_TAGS,
)
publish_job = define_asset_job(
    "publish",
    selection=PUBLISH,
    executor_def=in_process_executor,
    description="Register the processed tables in the catalog, annotate with ClinVar, compute variant and sample "
                "QC, build the reports and apply "
                "the governance policy.",
)
