output "bucket_ids" {
  description = "Bucket name per zone (landing, raw, processed, quarantine, athena-results, scripts)."
  value       = { for zone, bucket in aws_s3_bucket.zone : zone => bucket.id }
}

output "bucket_arns" {
  description = "Bucket ARN per zone."
  value       = { for zone, bucket in aws_s3_bucket.zone : zone => bucket.arn }
}

output "access_log_bucket" {
  description = "The bucket receiving the data buckets' server access logs."
  value       = aws_s3_bucket.logs.id
}

output "kms_key_arn" {
  description = "ARN of the customer-managed key encrypting the data."
  value       = aws_kms_key.data.arn
}

output "kms_key_id" {
  description = "Key ID of the customer-managed key."
  value       = aws_kms_key.data.key_id
}

output "ready" {
  description = "Depend on this to wait until the buckets' encryption, policies and public access blocks are in place."
  value       = { for zone, bucket in aws_s3_bucket.zone : zone => aws_s3_bucket_server_side_encryption_configuration.zone[zone].id }
}
