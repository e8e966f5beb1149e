# Spark at scale: the EMR Serverless application the VCF transform runs on (README "Spark at scale"), and the
# job's entry point under GENOLAKE_JOBS_URI.
#
# The second job file, genolake_job.zip (the transform packages passed with --py-files), is built from the checkout
# by `genolake upload-job` (resources/emr.py job_archive): run it after `terraform apply` and on every release. It
# uploads ingest_vcf.py too, byte for byte the file below.

resource "aws_emrserverless_application" "this" {
  count = var.enabled ? 1 : 0

  name          = "${var.name_prefix}-ingest"
  release_label = var.release_label
  type          = "SPARK"

  maximum_capacity {
    cpu    = "${var.max_vcpu} vCPU"
    memory = "${var.max_memory_gb} GB"
  }

  auto_start_configuration {
    enabled = true
  }

  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = var.idle_timeout_minutes
  }

  dynamic "image_configuration" {
    for_each = var.image_uri == "" ? [] : [var.image_uri]
    content {
      image_uri = image_configuration.value
    }
  }
}

resource "aws_s3_object" "entry_point" {
  bucket                 = var.scripts_bucket
  key                    = "${var.jobs_prefix}/ingest_vcf.py"
  source                 = var.entry_point_source
  source_hash            = filemd5(var.entry_point_source)
  content_type           = "text/x-python"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
}
