variable "enabled" {
  description = "Create the workgroups (off only on an emulator that cannot tag them)."
  type        = bool
}

variable "workgroups" {
  description = "Workgroup name -> description. Each one's results go to <results_uri>/<name>/."
  type        = map(string)
}

variable "results_bucket" {
  description = "Bucket of the query results."
  type        = string
}

variable "results_prefix" {
  description = "Key prefix under which each workgroup has its results folder."
  type        = string
}

variable "kms_key_arn" {
  description = "The key query results are encrypted with (SSE_KMS)."
  type        = string
}

variable "account_id" {
  description = "Expected owner of the results bucket."
  type        = string
}

variable "bytes_scanned_cutoff" {
  description = "Per-query limit of bytes scanned."
  type        = number
}

variable "force_destroy" {
  description = "Let terraform destroy delete a workgroup that still holds saved queries."
  type        = bool
  default     = false
}
