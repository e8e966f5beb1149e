variable "bucket_name_prefix" {
  description = "Bucket names are <bucket_name_prefix>-<zone> (landing, raw, processed, quarantine, athena-results, scripts, access-logs)."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the KMS key alias."
  type        = string
}

variable "account_id" {
  description = "The AWS account the buckets and the key belong to."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the key is deleted."
  type        = number
}

variable "athena_results_retention_days" {
  description = "Days Athena query results are kept."
  type        = number
}

variable "quarantine_retention_days" {
  description = "Days quarantined files are kept."
  type        = number
}

variable "noncurrent_version_retention_days" {
  description = "Days non-current object versions are kept."
  type        = number
}

variable "access_log_retention_days" {
  description = "Days server access logs are kept."
  type        = number
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets."
  type        = bool
}

variable "deny_insecure_transport" {
  description = "Bucket policies deny every request not made over TLS. Off only for a local emulator served over plain HTTP."
  type        = bool
}
