# The roles genolake runs as, and one role per governance role.
#
# * runner: the Dagster code location and its runs (sensor, ingest, publish, maintenance, governance apply).
#   It reads the landing zone and queue, writes the raw, quarantine and warehouse zones, registers tables in
#   Glue, queries through its Athena workgroup, starts EMR Serverless job runs with the job role, and applies the
#   governance policy as a Lake Formation administrator.
# * job: the EMR Serverless execution role of the VCF transform (reads raw and the job files, writes Parquet under
#   the warehouse and the Pipes messages and logs under the jobs prefix). It never touches the catalog.
# * one role per governance role: Athena in its own workgroup (results in its own prefix), Glue read, and
#   lakeformation:GetDataAccess. What each one sees is decided by Lake Formation grants (the policy).
#
# No statement allows "*" actions; "*" resources appear only for Lake Formation actions, which have no resource
# types (Lake Formation authorises them itself).

locals {
  arn = {
    landing        = var.bucket_arns["landing"]
    raw            = var.bucket_arns["raw"]
    processed      = var.bucket_arns["processed"]
    quarantine     = var.bucket_arns["quarantine"]
    athena_results = var.bucket_arns["athena-results"]
    scripts        = var.bucket_arns["scripts"]
  }
  glue_read_resources = [
    "arn:${var.partition}:glue:${var.region}:${var.account_id}:catalog",
    "arn:${var.partition}:glue:${var.region}:${var.account_id}:database/${var.glue_database}",
    "arn:${var.partition}:glue:${var.region}:${var.account_id}:table/${var.glue_database}/*",
  ]
  workgroup_arn = "arn:${var.partition}:athena:${var.region}:${var.account_id}:workgroup"
  athena_query_actions = [
    "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution",
    "athena:GetWorkGroup", "athena:ListQueryExecutions", "athena:BatchGetQueryExecution",
  ]
  glue_read_actions = [
    "glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetTableVersion",
    "glue:GetTableVersions", "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition",
  ]
}

# ------------------------------------------------------------------------------------------------ runner

data "aws_iam_policy_document" "runner_trust" {
  dynamic "statement" {
    for_each = length(var.runner_trusted_services) > 0 ? [1] : []
    content {
      sid     = "TrustedServices"
      actions = ["sts:AssumeRole"]
      principals {
        type        = "Service"
        identifiers = var.runner_trusted_services
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [var.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.runner_trusted_principal_arns) > 0 ? [1] : []
    content {
      sid     = "TrustedPrincipals"
      actions = ["sts:AssumeRole"]
      principals {
        type        = "AWS"
        identifiers = var.runner_trusted_principal_arns
      }
    }
  }
}

resource "aws_iam_role" "runner" {
  name                 = "${var.name_prefix}-dagster-runner"
  description          = "genolake: the Dagster code location and its runs"
  assume_role_policy   = data.aws_iam_policy_document.runner_trust.json
  max_session_duration = 3600

  lifecycle {
    precondition {
      condition     = length(var.runner_trusted_services) + length(var.runner_trusted_principal_arns) > 0
      error_message = "Nobody could assume the runner role: set runner_trusted_services or runner_trusted_principal_arns."
    }
  }
}

data "aws_iam_policy_document" "runner" {
  statement {
    sid     = "ListTheZones"
    actions = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.arn.landing, local.arn.raw, local.arn.quarantine, local.arn.processed, local.arn.athena_results,
    local.arn.scripts]
  }

  statement {
    sid       = "ReadAndRetireLandedFiles"
    actions   = ["s3:GetObject", "s3:GetObjectAttributes", "s3:DeleteObject"]
    resources = ["${local.arn.landing}/${var.prefixes.landing}/*"]
  }

  statement {
    sid       = "WriteRawAndQuarantine" # deletes: a rejected file's raw version, a copy that failed verification
    actions   = ["s3:GetObject", "s3:GetObjectAttributes", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${local.arn.raw}/${var.prefixes.raw}/*", "${local.arn.quarantine}/${var.prefixes.quarantine}/*"]
  }

  statement {
    sid       = "ReadWriteTheWarehouse"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${local.arn.processed}/${var.prefixes.warehouse}/*"]
  }

  statement {
    sid       = "AthenaResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.arn.athena_results}/${var.prefixes.athena_results}/${var.runner_workgroup}/*"]
  }

  statement {
    sid       = "JobFilesLogsAndPipesMessages"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.arn.scripts}/${var.prefixes.jobs}/*"]
  }

  statement {
    sid       = "UseTheDataKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "LandingQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = [var.queue_arn]
  }

  statement {
    sid = "CatalogTheTables"
    actions = concat(local.glue_read_actions, [
      "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable", "glue:CreateDatabase", "glue:UpdateDatabase",
    ])
    resources = local.glue_read_resources
  }

  statement {
    sid       = "QueryInItsWorkgroup"
    actions   = local.athena_query_actions
    resources = ["${local.workgroup_arn}/${var.runner_workgroup}"]
  }

  dynamic "statement" {
    for_each = var.emr_application_arn == "" ? [] : [1]
    content {
      sid       = "RunTheIngestJob"
      actions   = ["emr-serverless:StartJobRun", "emr-serverless:GetJobRun", "emr-serverless:CancelJobRun", "emr-serverless:GetDashboardForJobRun", "emr-serverless:TagResource", "emr-serverless:GetApplication"]
      resources = [var.emr_application_arn, "${var.emr_application_arn}/jobruns/*"]
    }
  }

  statement {
    sid       = "PassTheJobRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.job.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["emr-serverless.amazonaws.com"]
    }
  }

  statement {
    #checkov:skip=CKV_AWS_356:Lake Formation permission and LF-tag actions have no resource types; Lake Formation authorises them (the runner is a data lake administrator).
    sid = "ApplyTheGovernancePolicy"
    actions = [
      "lakeformation:GetDataAccess", "lakeformation:GetDataLakeSettings", "lakeformation:ListPermissions",
      "lakeformation:GrantPermissions", "lakeformation:RevokePermissions", "lakeformation:BatchGrantPermissions",
      "lakeformation:BatchRevokePermissions", "lakeformation:ListDataCellsFilter", "lakeformation:GetDataCellsFilter",
      "lakeformation:CreateDataCellsFilter", "lakeformation:UpdateDataCellsFilter", "lakeformation:DeleteDataCellsFilter",
      "lakeformation:GetLFTag", "lakeformation:CreateLFTag", "lakeformation:UpdateLFTag", "lakeformation:ListLFTags",
      "lakeformation:GetResourceLFTags", "lakeformation:AddLFTagsToResource", "lakeformation:RemoveLFTagsFromResource",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "runner" {
  name   = "genolake-runner"
  role   = aws_iam_role.runner.id
  policy = data.aws_iam_policy_document.runner.json
}

# ------------------------------------------------------------------------------------------------ EMR job

data "aws_iam_policy_document" "job_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["emr-serverless.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${var.partition}:emr-serverless:${var.region}:${var.account_id}:/applications/*"]
    }
  }
}

resource "aws_iam_role" "job" {
  name                 = "${var.name_prefix}-emr-job"
  description          = "genolake: EMR Serverless execution role of the VCF ingest job"
  assume_role_policy   = data.aws_iam_policy_document.job_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ListTheZones"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.arn.raw, local.arn.processed, local.arn.scripts]
  }

  statement {
    sid       = "ReadRawFiles"
    actions   = ["s3:GetObject"]
    resources = ["${local.arn.raw}/${var.prefixes.raw}/*"]
  }

  statement {
    sid       = "WriteTableDataFiles"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${local.arn.processed}/${var.prefixes.warehouse}/*"]
  }

  statement {
    sid       = "JobFilesLogsAndPipesMessages"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.arn.scripts}/${var.prefixes.jobs}/*"]
  }

  statement {
    sid       = "UseTheDataKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "genolake-ingest-job"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

# ------------------------------------------------------------------------------------------------ governance roles

data "aws_iam_policy_document" "governance_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = length(var.governance_trusted_principal_arns) > 0 ? var.governance_trusted_principal_arns : ["arn:${var.partition}:iam::${var.account_id}:root"]
    }
  }
}

resource "aws_iam_role" "governance" {
  for_each = var.governance_roles

  name                 = each.value.name
  path                 = each.value.path
  description          = substr("genolake governance role ${each.key}: ${each.value.description}", 0, 1000)
  assume_role_policy   = data.aws_iam_policy_document.governance_trust.json
  max_session_duration = 3600
  tags                 = { "genolake-governance-role" = each.key }
}

data "aws_iam_policy_document" "governance" {
  for_each = var.governance_roles

  statement {
    sid       = "QueryInItsWorkgroup"
    actions   = local.athena_query_actions
    resources = ["${local.workgroup_arn}/${each.value.workgroup}"]
  }

  statement {
    sid       = "ReadTheCatalog"
    actions   = local.glue_read_actions
    resources = local.glue_read_resources
  }

  statement {
    #checkov:skip=CKV_AWS_356:lakeformation:GetDataAccess has no resource types; Lake Formation grants decide what the role reads.
    sid       = "LakeFormationVendsDataAccess"
    actions   = ["lakeformation:GetDataAccess"]
    resources = ["*"]
  }

  # Athena writes a query's results with the caller's credentials: only into the role's own results folder
  statement {
    sid       = "ItsOwnQueryResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.arn.athena_results}/${var.prefixes.athena_results}/${each.value.workgroup}/*"]
  }

  statement {
    sid       = "ListItsOwnQueryResults"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.arn.athena_results]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.prefixes.athena_results}/${each.value.workgroup}/*"]
    }
  }

  statement {
    sid       = "DecryptCatalogAndResults"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "governance" {
  for_each = var.governance_roles

  name   = "genolake-read-through-lake-formation"
  role   = aws_iam_role.governance[each.key].id
  policy = data.aws_iam_policy_document.governance[each.key].json
}
