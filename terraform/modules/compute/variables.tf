variable "enabled" {
  description = "Create the EMR Serverless application."
  type        = bool
}

variable "name_prefix" {
  description = "Prefix of the application's name."
  type        = string
}

variable "release_label" {
  description = "EMR release of the application."
  type        = string
}

variable "image_uri" {
  description = "Custom image (empty: the release's default)."
  type        = string
}

variable "max_vcpu" {
  description = "Maximum vCPUs of the application."
  type        = number
}

variable "max_memory_gb" {
  description = "Maximum memory (GB) of the application."
  type        = number
}

variable "idle_timeout_minutes" {
  description = "Idle minutes before the application stops."
  type        = number
}

variable "scripts_bucket" {
  description = "Bucket of the job files (GENOLAKE_JOBS_URI's bucket)."
  type        = string
}

variable "jobs_prefix" {
  description = "Key prefix of the job files (GENOLAKE_JOBS_URI's prefix)."
  type        = string
}

variable "kms_key_arn" {
  description = "The key the job files are encrypted with."
  type        = string
}

variable "entry_point_source" {
  description = "Local path of the job's entry point (genolake_assets/spark_jobs/ingest_vcf.py)."
  type        = string
}
