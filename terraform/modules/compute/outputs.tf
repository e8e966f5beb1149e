output "application_id" {
  description = "ID of the EMR Serverless application (empty when disabled)."
  value       = var.enabled ? aws_emrserverless_application.this[0].id : ""
}

output "application_arn" {
  description = "ARN of the EMR Serverless application (empty when disabled)."
  value       = var.enabled ? aws_emrserverless_application.this[0].arn : ""
}

output "jobs_uri" {
  description = "Where the job files live (GENOLAKE_JOBS_URI)."
  value       = "s3://${var.scripts_bucket}/${var.jobs_prefix}"
}

output "entry_point_uri" {
  description = "The uploaded entry point."
  value       = "s3://${aws_s3_object.entry_point.bucket}/${aws_s3_object.entry_point.key}"
}
