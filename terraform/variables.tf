variable "region" {
  description = "AWS region everything is created in (also the AWS_REGION output)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1 or eu-west-2."
  }
}

variable "name_prefix" {
  description = "Prefix of every name this configuration creates (roles, queues, workgroup, application, KMS alias)."
  type        = string
  default     = "genolake"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 characters: lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "bucket_name_prefix" {
  description = "Prefix of the S3 bucket names (<prefix>-landing, -raw, ...). Empty: <name_prefix>-<account id>-<region>, which is globally unique."
  type        = string
  default     = ""

  validation {
    condition     = var.bucket_name_prefix == "" || can(regex("^[a-z0-9][a-z0-9-]{1,44}[a-z0-9]$", var.bucket_name_prefix))
    error_message = "bucket_name_prefix must be empty or 3-46 characters of lower-case letters, digits and hyphens (bucket names stay under 63 characters)."
  }
}

variable "glue_database" {
  description = "Glue database the Iceberg tables are registered in (GENOLAKE_GLUE_DATABASE)."
  type        = string
  default     = "genolake"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,254}$", var.glue_database))
    error_message = "glue_database must be lower-case letters, digits and underscores (Athena reads only lower-case names)."
  }
}

variable "landing_prefix" {
  description = "Key prefix in the landing bucket where sequencing centres drop files; the S3 event notification filters on it."
  type        = string
  default     = "incoming"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9!_.*'()-]*(/[A-Za-z0-9!_.*'()-]+)*$", var.landing_prefix))
    error_message = "landing_prefix must be a non-empty S3 key prefix without leading or trailing slashes."
  }
}

variable "governance_policy_file" {
  description = "The governance policy whose roles get IAM roles (one per role, named after its principal ARN). Empty: governance/policies.yaml of this repository."
  type        = string
  default     = ""
}

variable "data_lake_admins" {
  description = "IAM role or user ARNs made Lake Formation data lake administrators, besides the Dagster runner role (it applies the governance policy) and, with add_deployer_as_data_lake_admin, the identity running Terraform."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.data_lake_admins : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "data_lake_admins must be IAM role or user ARNs."
  }
}

variable "add_deployer_as_data_lake_admin" {
  description = "Make the identity running Terraform a data lake administrator too (it must be one to manage LF-tags and registrations after the settings take effect)."
  type        = bool
  default     = true
}

variable "runner_trusted_services" {
  description = "AWS services that may assume the Dagster runner role (where Dagster runs: ecs-tasks.amazonaws.com for ECS/Fargate, ec2.amazonaws.com for an instance profile)."
  type        = list(string)
  default     = ["ecs-tasks.amazonaws.com"]

  validation {
    condition     = alltrue([for s in var.runner_trusted_services : can(regex("^[a-z0-9.-]+\\.amazonaws\\.com$", s))])
    error_message = "runner_trusted_services must be service principals such as ecs-tasks.amazonaws.com."
  }
}

variable "runner_trusted_principal_arns" {
  description = "IAM principals (role ARNs, e.g. an EKS pod role or a CI role) that may also assume the Dagster runner role."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.runner_trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "runner_trusted_principal_arns must be IAM role or user ARNs."
  }
}

variable "governance_trusted_principal_arns" {
  description = "Who may assume the governance roles (e.g. your SSO permission-set roles). Empty: principals of this account whose IAM policies allow sts:AssumeRole on them."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.governance_trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", arn))])
    error_message = "governance_trusted_principal_arns must be IAM role, user or account-root ARNs."
  }
}

variable "athena_bytes_scanned_cutoff" {
  description = "Per-query limit of bytes scanned in every workgroup (Athena cancels a query past it). Athena's minimum is 10 MB."
  type        = number
  default     = 107374182400 # 100 GiB: $0.49 at $5/TB

  validation {
    condition     = var.athena_bytes_scanned_cutoff >= 10485760
    error_message = "athena_bytes_scanned_cutoff must be at least 10485760 (10 MB), Athena's minimum."
  }
}

variable "athena_results_retention_days" {
  description = "Days Athena query results are kept before they expire."
  type        = number
  default     = 7

  validation {
    condition     = var.athena_results_retention_days >= 1 && floor(var.athena_results_retention_days) == var.athena_results_retention_days
    error_message = "athena_results_retention_days must be a whole number of days, at least 1."
  }
}

variable "quarantine_retention_days" {
  description = "Days a quarantined file (and its .reason.json) is kept before it expires."
  type        = number
  default     = 90

  validation {
    condition     = var.quarantine_retention_days >= 7 && floor(var.quarantine_retention_days) == var.quarantine_retention_days
    error_message = "quarantine_retention_days must be a whole number of days, at least 7 (time to look at a rejection)."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days overwritten or deleted object versions are kept in the versioned buckets (Iceberg maintenance deletes files; versioning keeps them this long)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_retention_days >= 1 && floor(var.noncurrent_version_retention_days) == var.noncurrent_version_retention_days
    error_message = "noncurrent_version_retention_days must be a whole number of days, at least 1."
  }
}

variable "access_log_retention_days" {
  description = "Days S3 server access logs are kept."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_retention_days >= 30 && floor(var.access_log_retention_days) == var.access_log_retention_days
    error_message = "access_log_retention_days must be a whole number of days, at least 30."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the customer-managed KMS key is deleted after a destroy (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "queue_visibility_timeout_seconds" {
  description = "SQS visibility timeout of the landing queue: longer than a sensor tick (s3_landing_sensor runs every 30 s and deletes a message on the tick after its run request was recorded)."
  type        = number
  default     = 120

  validation {
    condition     = var.queue_visibility_timeout_seconds >= 60 && var.queue_visibility_timeout_seconds <= 43200
    error_message = "queue_visibility_timeout_seconds must be between 60 (two sensor ticks) and 43200 (the SQS maximum)."
  }
}

variable "queue_max_receive_count" {
  description = "Receives after which a landing notification moves to the dead-letter queue."
  type        = number
  default     = 10

  validation {
    condition     = var.queue_max_receive_count >= 1 && var.queue_max_receive_count <= 1000
    error_message = "queue_max_receive_count must be between 1 and 1000."
  }
}

variable "emr_release_label" {
  description = "EMR Serverless release of the Spark application (its custom image must be built from the same release)."
  type        = string
  default     = "emr-7.9.0"

  validation {
    condition     = can(regex("^emr-[0-9]+\\.[0-9]+\\.[0-9]+$", var.emr_release_label))
    error_message = "emr_release_label must look like emr-7.9.0."
  }
}

variable "emr_image_uri" {
  description = "Custom EMR Serverless image (ECR URI) carrying dagster-pipes, boto3, pyarrow, numpy and cyvcf2 (README 'Spark at scale'). Empty: the release's default image, which lacks cyvcf2."
  type        = string
  default     = ""

  validation {
    condition     = var.emr_image_uri == "" || can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/.+", var.emr_image_uri))
    error_message = "emr_image_uri must be empty or an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)."
  }
}

variable "emr_max_vcpu" {
  description = "Upper bound of the EMR Serverless application's vCPUs across all running jobs (a cost ceiling)."
  type        = number
  default     = 200

  validation {
    condition     = var.emr_max_vcpu >= 4 && floor(var.emr_max_vcpu) == var.emr_max_vcpu
    error_message = "emr_max_vcpu must be a whole number, at least 4 (one executor)."
  }
}

variable "emr_max_memory_gb" {
  description = "Upper bound of the EMR Serverless application's memory in GB across all running jobs."
  type        = number
  default     = 800

  validation {
    condition     = var.emr_max_memory_gb >= 16 && floor(var.emr_max_memory_gb) == var.emr_max_memory_gb
    error_message = "emr_max_memory_gb must be a whole number, at least 16."
  }
}

variable "emr_idle_timeout_minutes" {
  description = "Minutes without jobs after which the EMR Serverless application stops (and stops costing)."
  type        = number
  default     = 15

  validation {
    condition     = var.emr_idle_timeout_minutes >= 1 && var.emr_idle_timeout_minutes <= 10080
    error_message = "emr_idle_timeout_minutes must be between 1 and 10080."
  }
}

variable "enable_athena_workgroups" {
  description = "Create the Athena workgroups. Off only for a local emulator without Athena tagging (moto)."
  type        = bool
  default     = true
}

variable "enable_emr_serverless" {
  description = "Create the EMR Serverless application (the GENOLAKE_EMR_* outputs are empty without it, and the VCF transform runs in the Dagster process)."
  type        = bool
  default     = true
}

variable "enable_lakeformation_registration" {
  description = "Register the warehouse location with Lake Formation. Off only for a local emulator that lacks it."
  type        = bool
  default     = true
}

variable "enable_catalog_encryption_settings" {
  description = "Manage the Glue Data Catalog encryption settings (an account-and-region singleton, like the data lake settings). Off when another state manages them, or on an emulator that lacks them."
  type        = bool
  default     = true
}

variable "deny_insecure_transport" {
  description = "Bucket policies deny every request not made over TLS. Off only for a local emulator served over plain HTTP."
  type        = bool
  default     = true
}

variable "force_destroy_buckets" {
  description = "Let terraform destroy delete non-empty buckets. Keep false for real data."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource (with project and managed-by)."
  type        = map(string)
  default     = {}
}
