variable "name_prefix" {
  description = "Prefix of the runner's and the job's role names."
  type        = string
}

variable "partition" {
  description = "AWS partition."
  type        = string
}

variable "account_id" {
  description = "The account the roles are created in."
  type        = string
}

variable "region" {
  description = "The region of the resources the roles reach."
  type        = string
}

variable "bucket_arns" {
  description = "Bucket ARN per zone: landing, raw, processed, quarantine, athena-results, scripts."
  type        = map(string)

  validation {
    condition     = length(setsubtract(["landing", "raw", "processed", "quarantine", "athena-results", "scripts"], keys(var.bucket_arns))) == 0
    error_message = "bucket_arns must name the landing, raw, processed, quarantine, athena-results and scripts buckets."
  }
}

variable "prefixes" {
  description = "Key prefix per zone (no slashes at either end): landing, raw, quarantine, warehouse, jobs, athena_results (the parent of each workgroup's results folder)."
  type        = map(string)

  validation {
    condition     = length(setsubtract(["landing", "raw", "quarantine", "warehouse", "jobs", "athena_results"], keys(var.prefixes))) == 0
    error_message = "prefixes must name landing, raw, quarantine, warehouse, jobs and athena_results."
  }
}

variable "kms_key_arn" {
  description = "The data key (S3 zones, catalog, Athena results, queues)."
  type        = string
}

variable "glue_database" {
  description = "The Glue database of genolake's tables."
  type        = string
}

variable "queue_arn" {
  description = "The landing queue the sensor reads in queue mode."
  type        = string
}

variable "runner_workgroup" {
  description = "The Athena workgroup the Dagster runner queries in."
  type        = string
}

variable "emr_application_arn" {
  description = "The EMR Serverless application the runner starts jobs on (empty: none)."
  type        = string
}

variable "runner_trusted_services" {
  description = "Service principals that may assume the runner role."
  type        = list(string)
}

variable "runner_trusted_principal_arns" {
  description = "IAM principals that may assume the runner role."
  type        = list(string)
}

variable "governance_roles" {
  description = "One IAM role per governance role (governance/policies.yaml): key = policy role name; name and path from the principal ARN; workgroup = the Athena workgroup the role queries in."
  type = map(object({
    name        = string
    path        = string
    description = string
    workgroup   = string
  }))

  validation {
    condition     = alltrue([for r in values(var.governance_roles) : can(regex("^[\\w+=,.@-]{1,64}$", r.name))])
    error_message = "Every governance role name (the last part of its principal ARN) must be a valid IAM role name: 1-64 of letters, digits and +=,.@_-."
  }

  validation {
    condition     = alltrue([for r in values(var.governance_roles) : can(regex("^/([\\w+=,.@-]+/)*$", r.path))])
    error_message = "Every governance role path must be / or /segment/.../ (from the principal ARN)."
  }
}

variable "governance_trusted_principal_arns" {
  description = "Who may assume the governance roles; empty: this account (its IAM policies decide)."
  type        = list(string)
}
