# genolake on AWS: everything the aws mode reads from its environment (README "Run on AWS" and "Terraform").
# The outputs are named exactly as those environment variables: eval "$(terraform output -raw genolake_env)".

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_iam_session_context" "deployer" {
  arn = data.aws_caller_identity.current.arn
}

locals {
  account_id         = data.aws_caller_identity.current.account_id
  partition          = data.aws_partition.current.partition
  bucket_name_prefix = var.bucket_name_prefix != "" ? var.bucket_name_prefix : "${var.name_prefix}-${local.account_id}-${var.region}"

  # key prefixes inside the buckets (the URIs in the outputs end with them)
  prefixes = {
    landing        = var.landing_prefix
    raw            = "raw"
    quarantine     = "quarantine"
    warehouse      = "warehouse"
    jobs           = "jobs"
    athena_results = "results"
  }

  # The classifications of genolake's table contracts (genolake_assets/transforms/tables.py CLASSIFICATIONS): the
  # values of the LF-tag `classification` the governance reconciler sets on classified columns.
  # tests/terraform checks that the two lists agree.
  classifications = ["identifier"]

  # ONE source of truth for the governance roles: governance/policies.yaml. Each role's IAM role is named after its
  # principal ARN (arn:aws:iam::<account>:role[/path/]<name>), so the ARN Terraform creates is the ARN the policy
  # grants to. tests/terraform evaluates this map and fails when a policy principal would not be created.
  policy_file = var.governance_policy_file != "" ? var.governance_policy_file : "${path.module}/../governance/policies.yaml"
  policy      = yamldecode(file(local.policy_file))
  governance_roles = {
    for role, spec in local.policy.roles : role => {
      principal   = spec.principal
      parsed      = try(regex("^arn:([a-z-]+):iam::([0-9]{12}):role(/(?:[^/]+/)*)([^/]+)$", spec.principal), null)
      description = try(trimspace(spec.description), "")
      workgroup   = "${var.name_prefix}-${replace(role, "_", "-")}"
    }
  }
  governance_iam_roles = {
    for role, r in local.governance_roles : role => {
      name        = r.parsed == null ? "" : r.parsed[3]
      path        = r.parsed == null ? "/" : r.parsed[2]
      account_id  = r.parsed == null ? "" : r.parsed[1]
      description = r.description
      workgroup   = r.workgroup
    }
  }

  runner_workgroup = var.name_prefix
  workgroups = merge(
    { (local.runner_workgroup) = "genolake: queries of the Dagster runner (reports, checks)" },
    { for role, r in local.governance_roles : r.workgroup => "genolake: queries of governance role ${role}" },
  )
}

# The policy's principals must be roles of THIS account, or the roles created here would not be the ones the
# Lake Formation grants name (policies.yaml ships with the placeholder account 123456789012).
resource "terraform_data" "governance_policy" {
  input = { for role, r in local.governance_iam_roles : role => r.name }

  lifecycle {
    precondition {
      condition     = alltrue([for r in values(local.governance_roles) : r.parsed != null])
      error_message = "Every principal in ${local.policy_file} must be an IAM role ARN (arn:aws:iam::<account>:role/<name>): ${join(", ", [for role, r in local.governance_roles : "${role} = ${r.principal}" if r.parsed == null])}."
    }
    precondition {
      condition     = alltrue([for r in values(local.governance_iam_roles) : r.account_id == "" || r.account_id == local.account_id])
      error_message = "The principals in ${local.policy_file} must be role ARNs of account ${local.account_id} (set your account's ARNs in the policy): ${join(", ", [for role, r in local.governance_roles : "${role} = ${r.principal}" if r.parsed != null && try(r.parsed[1], "") != local.account_id])}."
    }
  }
}

module "storage" {
  source = "./modules/storage"

  bucket_name_prefix                = local.bucket_name_prefix
  name_prefix                       = var.name_prefix
  account_id                        = local.account_id
  partition                         = local.partition
  kms_deletion_window_days          = var.kms_deletion_window_days
  athena_results_retention_days     = var.athena_results_retention_days
  quarantine_retention_days         = var.quarantine_retention_days
  noncurrent_version_retention_days = var.noncurrent_version_retention_days
  access_log_retention_days         = var.access_log_retention_days
  force_destroy                     = var.force_destroy_buckets
  deny_insecure_transport           = var.deny_insecure_transport
}

module "catalog" {
  source = "./modules/catalog"

  database_name              = var.glue_database
  location_uri               = "s3://${module.storage.bucket_ids["processed"]}/${local.prefixes.warehouse}"
  kms_key_arn                = module.storage.kms_key_arn
  manage_encryption_settings = var.enable_catalog_encryption_settings
}

module "events" {
  source = "./modules/events"

  name_prefix                = var.name_prefix
  partition                  = local.partition
  region                     = var.region
  account_id                 = local.account_id
  landing_bucket_id          = module.storage.bucket_ids["landing"]
  landing_bucket_arn         = module.storage.bucket_arns["landing"]
  landing_prefix             = local.prefixes.landing
  kms_key_arn                = module.storage.kms_key_arn
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  max_receive_count          = var.queue_max_receive_count
}

module "compute" {
  source = "./modules/compute"

  enabled              = var.enable_emr_serverless
  name_prefix          = var.name_prefix
  release_label        = var.emr_release_label
  image_uri            = var.emr_image_uri
  max_vcpu             = var.emr_max_vcpu
  max_memory_gb        = var.emr_max_memory_gb
  idle_timeout_minutes = var.emr_idle_timeout_minutes
  scripts_bucket       = module.storage.bucket_ids["scripts"]
  jobs_prefix          = local.prefixes.jobs
  kms_key_arn          = module.storage.kms_key_arn
  entry_point_source   = "${path.module}/../genolake_assets/spark_jobs/ingest_vcf.py"
}

module "athena" {
  source = "./modules/athena"

  enabled              = var.enable_athena_workgroups
  workgroups           = local.workgroups
  results_bucket       = module.storage.bucket_ids["athena-results"]
  results_prefix       = local.prefixes.athena_results
  kms_key_arn          = module.storage.kms_key_arn
  account_id           = local.account_id
  bytes_scanned_cutoff = var.athena_bytes_scanned_cutoff
}

module "iam" {
  source = "./modules/iam"

  name_prefix                       = var.name_prefix
  partition                         = local.partition
  account_id                        = local.account_id
  region                            = var.region
  bucket_arns                       = module.storage.bucket_arns
  prefixes                          = local.prefixes
  kms_key_arn                       = module.storage.kms_key_arn
  glue_database                     = module.catalog.database_name
  queue_arn                         = module.events.queue_arn
  runner_workgroup                  = local.runner_workgroup
  emr_application_arn               = module.compute.application_arn
  runner_trusted_services           = var.runner_trusted_services
  runner_trusted_principal_arns     = var.runner_trusted_principal_arns
  governance_roles                  = { for role, r in local.governance_iam_roles : role => { name = r.name, path = r.path, description = r.description, workgroup = r.workgroup } }
  governance_trusted_principal_arns = var.governance_trusted_principal_arns

  depends_on = [terraform_data.governance_policy]
}

module "lakeformation" {
  source = "./modules/lakeformation"

  name_prefix          = var.name_prefix
  partition            = local.partition
  account_id           = local.account_id
  admins               = distinct(concat([module.iam.runner_role_arn], var.data_lake_admins, var.add_deployer_as_data_lake_admin ? [data.aws_iam_session_context.deployer.issuer_arn] : []))
  warehouse_bucket_arn = module.storage.bucket_arns["processed"]
  warehouse_prefix     = local.prefixes.warehouse
  kms_key_arn          = module.storage.kms_key_arn
  register_location    = var.enable_lakeformation_registration
  lf_tag_values        = local.classifications

  depends_on = [module.catalog]
}
