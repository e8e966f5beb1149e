# Lake Formation in force for genolake: the data lake settings (named administrators, NO default permissions for
# IAM_ALLOWED_PRINCIPALS on new databases and tables), the warehouse location registered with a dedicated role,
# and the LF-tag the governance policy's classifications use.
#
# The data lake settings are an ACCOUNT-WIDE SINGLETON (per region): exactly one Terraform state may manage them,
# or two states overwrite each other's administrators. If your account already manages them elsewhere, move
# genolake's administrators there and remove this resource from this state (terraform state rm).
#
# Table grants are not made here: tables appear at run time, so genolake's governance reconciler
# (`genolake governance apply`, the governance/permissions asset) grants what governance/policies.yaml says.

resource "aws_lakeformation_data_lake_settings" "this" {
  admins = var.admins

  # Empty on purpose: with no create_database_default_permissions / create_table_default_permissions blocks the
  # provider sends empty lists, so IAM_ALLOWED_PRINCIPALS gets nothing on new databases and tables and Lake
  # Formation grants are what decides access (see README "The IAM_ALLOWED_PRINCIPALS trap").
}

data "aws_iam_policy_document" "registration_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:SetContext"]
    principals {
      type        = "Service"
      identifiers = ["lakeformation.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

# Lake Formation assumes this role to vend temporary credentials for the registered location
# (lakeformation:GetDataAccess), so it may read and write only the warehouse prefix.
resource "aws_iam_role" "registration" {
  name                 = "${var.name_prefix}-lakeformation-data-access"
  description          = "Lake Formation's data access role for the genolake warehouse location"
  assume_role_policy   = data.aws_iam_policy_document.registration_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "registration" {
  statement {
    sid       = "ListWarehouse"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.warehouse_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.warehouse_prefix, "${var.warehouse_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadWriteWarehouseObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${var.warehouse_bucket_arn}/${var.warehouse_prefix}/*"]
  }

  statement {
    sid       = "UseTheDataKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "registration" {
  name   = "warehouse-location"
  role   = aws_iam_role.registration.id
  policy = data.aws_iam_policy_document.registration.json
}

resource "aws_lakeformation_resource" "warehouse" {
  count = var.register_location ? 1 : 0

  arn                     = "${var.warehouse_bucket_arn}/${var.warehouse_prefix}"
  role_arn                = aws_iam_role.registration.arn
  use_service_linked_role = false
  hybrid_access_enabled   = false

  # the caller must be a data lake administrator first
  depends_on = [aws_lakeformation_data_lake_settings.this, aws_iam_role_policy.registration]
}

resource "aws_lakeformation_lf_tag" "classification" {
  key    = var.lf_tag_key
  values = sort(var.lf_tag_values)

  depends_on = [aws_lakeformation_data_lake_settings.this]
}
