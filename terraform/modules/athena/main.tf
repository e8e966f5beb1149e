# Athena workgroups: the runner's (GENOLAKE_ATHENA_WORKGROUP) and one per governance role, so that each role's
# query results land in a folder only that role can read (results are plain files: a shared folder would show one
# role's results to another). Configuration is enforced: clients cannot move results elsewhere, turn encryption
# off or raise the bytes-scanned cutoff.

resource "aws_athena_workgroup" "this" {
  for_each = var.enabled ? var.workgroups : {}

  name          = each.key
  description   = each.value
  state         = "ENABLED"
  force_destroy = var.force_destroy

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${var.results_bucket}/${var.results_prefix}/${each.key}/"
      expected_bucket_owner = var.account_id

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }
}
