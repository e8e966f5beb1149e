# Named exactly as the environment variables genolake's aws mode reads (resources/aws.py, resources/emr.py,
# resources/__init__.py). `eval "$(terraform output -raw genolake_env)"` exports them all.

locals {
  env = {
    GENOLAKE_MODE                   = "aws"
    GENOLAKE_LANDING_URI            = "s3://${module.storage.bucket_ids["landing"]}/${local.prefixes.landing}"
    GENOLAKE_RAW_URI                = "s3://${module.storage.bucket_ids["raw"]}/${local.prefixes.raw}"
    GENOLAKE_QUARANTINE_URI         = "s3://${module.storage.bucket_ids["quarantine"]}/${local.prefixes.quarantine}"
    GENOLAKE_WAREHOUSE_URI          = "s3://${module.storage.bucket_ids["processed"]}/${local.prefixes.warehouse}"
    GENOLAKE_GLUE_DATABASE          = module.catalog.database_name
    GENOLAKE_ATHENA_WORKGROUP       = local.runner_workgroup
    GENOLAKE_ATHENA_RESULTS_URI     = module.athena.results_uris[local.runner_workgroup]
    AWS_REGION                      = var.region
    GENOLAKE_LANDING_QUEUE_URL      = module.events.queue_url
    GENOLAKE_EMR_APPLICATION_ID     = module.compute.application_id
    GENOLAKE_EMR_EXECUTION_ROLE_ARN = var.enable_emr_serverless ? module.iam.job_role_arn : ""
    GENOLAKE_JOBS_URI               = var.enable_emr_serverless ? module.compute.jobs_uri : ""
  }
}

output "GENOLAKE_LANDING_URI" {
  description = "Where sequencing centres drop VCF / ClinVar files (s3://bucket/prefix)."
  value       = local.env.GENOLAKE_LANDING_URI
}

output "GENOLAKE_RAW_URI" {
  description = "The raw zone: verified copies of landed files."
  value       = local.env.GENOLAKE_RAW_URI
}

output "GENOLAKE_QUARANTINE_URI" {
  description = "Rejected files and their reasons."
  value       = local.env.GENOLAKE_QUARANTINE_URI
}

output "GENOLAKE_WAREHOUSE_URI" {
  description = "The Iceberg warehouse (table data and metadata, the commit lease)."
  value       = local.env.GENOLAKE_WAREHOUSE_URI
}

output "GENOLAKE_GLUE_DATABASE" {
  description = "The Glue database the tables are registered in."
  value       = local.env.GENOLAKE_GLUE_DATABASE
}

output "GENOLAKE_ATHENA_WORKGROUP" {
  description = "The runner's Athena workgroup."
  value       = local.env.GENOLAKE_ATHENA_WORKGROUP
}

output "GENOLAKE_ATHENA_RESULTS_URI" {
  description = "Where the runner's query results go (the workgroup enforces it)."
  value       = local.env.GENOLAKE_ATHENA_RESULTS_URI
}

output "AWS_REGION" {
  description = "The region."
  value       = local.env.AWS_REGION
}

output "GENOLAKE_LANDING_QUEUE_URL" {
  description = "The landing queue (S3 event notifications) for s3_landing_sensor's queue mode."
  value       = local.env.GENOLAKE_LANDING_QUEUE_URL
}

output "GENOLAKE_EMR_APPLICATION_ID" {
  description = "The EMR Serverless application of the ingest job (empty when enable_emr_serverless is false)."
  value       = local.env.GENOLAKE_EMR_APPLICATION_ID
}

output "GENOLAKE_EMR_EXECUTION_ROLE_ARN" {
  description = "The ingest job's execution role (empty when enable_emr_serverless is false)."
  value       = local.env.GENOLAKE_EMR_EXECUTION_ROLE_ARN
}

output "GENOLAKE_JOBS_URI" {
  description = "Where the job files live: `genolake upload-job` puts genolake_job.zip there (empty when enable_emr_serverless is false)."
  value       = local.env.GENOLAKE_JOBS_URI
}

output "genolake_env" {
  description = "The variables above as shell export lines (empty ones left out): eval \"$(terraform output -raw genolake_env)\"."
  value       = join("", [for name in sort(keys(local.env)) : "export ${name}='${local.env[name]}'\n" if local.env[name] != ""])
}

output "runner_role_arn" {
  description = "The role the Dagster code location and its runs assume."
  value       = module.iam.runner_role_arn
}

output "governance_role_arns" {
  description = "Governance role (governance/policies.yaml) -> the IAM role created for it."
  value       = module.iam.governance_role_arns
}

output "governance_workgroups" {
  description = "Governance role -> the Athena workgroup its members query in."
  value       = { for role, r in local.governance_roles : role => r.workgroup }
}

output "landing_dead_letter_queue_url" {
  description = "Landing notifications that failed max_receive_count times."
  value       = module.events.dead_letter_queue_url
}

output "kms_key_arn" {
  description = "The customer-managed key encrypting the data."
  value       = module.storage.kms_key_arn
}

output "data_lake_admins" {
  description = "The Lake Formation data lake administrators in force."
  value       = module.lakeformation.admins
}

output "lakeformation_registration_role_arn" {
  description = "The role Lake Formation uses for the registered warehouse location."
  value       = module.lakeformation.registration_role_arn
}
