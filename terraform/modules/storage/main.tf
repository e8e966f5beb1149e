# The data buckets (one per zone), the access-log bucket and the customer-managed key that encrypts the data.
#
# Every data bucket: SSE-KMS with the key (S3 Bucket Keys on, so KMS calls stay few), versioning, all public
# access blocked, objects owned by the bucket owner (no ACLs), a TLS-only bucket policy, server access logging to
# the log bucket, and lifecycle rules (non-current versions and incomplete multipart uploads expire everywhere;
# quarantine and Athena results expire themselves).

locals {
  zones = {
    landing        = "Files dropped by sequencing centres (s3_landing_sensor lists or is notified about them)."
    raw            = "Verified copies of landed files (the raw zone)."
    processed      = "The Iceberg warehouse: table data and metadata, and the commit lease."
    quarantine     = "Rejected files with their reason."
    athena-results = "Athena query results."
    scripts        = "Spark job entry point and transforms archive, job logs and Pipes messages."
  }
  # zone -> days after which current objects expire (zones whose objects are kept until deleted are absent)
  expire_current = {
    quarantine       = var.quarantine_retention_days
    "athena-results" = var.athena_results_retention_days
  }
  log_bucket = "${var.bucket_name_prefix}-access-logs"
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's only resource is its key ("*" means this key); key administration belongs to the account, through IAM.
  #checkov:skip=CKV_AWS_111:A key policy's only resource is its key ("*" means this key); the statements name their principals (this account, S3 for this account's notifications).
  #checkov:skip=CKV_AWS_356:In a key policy "*" is the key itself; no other resource can be named there.
  # The account administers the key through IAM (no kms:* here: the actions are listed)
  statement {
    sid       = "AccountAdministersTheKey"
    effect    = "Allow"
    actions   = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand"]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${var.partition}:iam::${var.account_id}:root"]
    }
  }

  # Roles of this account use the key when their IAM policies allow it (the roles in modules/iam name this key)
  statement {
    sid       = "AccountIamPoliciesGrantUse"
    effect    = "Allow"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${var.partition}:iam::${var.account_id}:root"]
    }
  }

  # S3 sends the landing bucket's event notifications to the KMS-encrypted queue
  statement {
    sid       = "S3SendsEventNotificationsToTheEncryptedQueue"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_kms_key" "data" {
  description             = "${var.name_prefix}: data at rest (S3 zones, Glue Data Catalog, Athena results, SQS)"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "data" {
  name          = "alias/${var.name_prefix}-data"
  target_key_id = aws_kms_key.data.key_id
}

# ------------------------------------------------------------------------------------------------ data buckets

resource "aws_s3_bucket" "zone" {
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; the raw zone can be re-landed and the tables rebuilt. Add replication per deployment if your recovery objective needs it.
  #checkov:skip=CKV2_AWS_62:Only the landing bucket needs event notifications (modules/events); the other zones are written by genolake itself.
  for_each      = local.zones
  bucket        = "${var.bucket_name_prefix}-${each.key}"
  force_destroy = var.force_destroy
  tags          = { zone = each.key, purpose = each.value }
}

resource "aws_s3_bucket_ownership_controls" "zone" {
  for_each = local.zones
  bucket   = aws_s3_bucket.zone[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "zone" {
  for_each                = local.zones
  bucket                  = aws_s3_bucket.zone[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "zone" {
  for_each = local.zones
  bucket   = aws_s3_bucket.zone[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "zone" {
  for_each = local.zones
  bucket   = aws_s3_bucket.zone[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "zone" {
  for_each      = local.zones
  bucket        = aws_s3_bucket.zone[each.key].id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "${each.key}/"

  depends_on = [aws_s3_bucket_policy.logs] # the log bucket must accept deliveries first
}

resource "aws_s3_bucket_lifecycle_configuration" "zone" {
  for_each = local.zones
  bucket   = aws_s3_bucket.zone[each.key].id

  rule {
    id     = "noncurrent-versions-and-incomplete-uploads"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  dynamic "rule" {
    for_each = contains(keys(local.expire_current), each.key) ? [local.expire_current[each.key]] : []
    content {
      id     = "expire-${each.key}"
      status = "Enabled"
      filter {}
      expiration {
        days = rule.value
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.zone]
}

data "aws_iam_policy_document" "zone" {
  for_each = var.deny_insecure_transport ? local.zones : {}

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.zone[each.key].arn, "${aws_s3_bucket.zone[each.key].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "zone" {
  for_each = var.deny_insecure_transport ? local.zones : {}
  bucket   = aws_s3_bucket.zone[each.key].id
  policy   = data.aws_iam_policy_document.zone[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.zone]
}

# ------------------------------------------------------------------------------------------------ access logs

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_144:Access logs are not replicated to a second region (cost); they expire after access_log_retention_days.
  #checkov:skip=CKV_AWS_18:This is the access-log bucket; logging it into itself would log every log delivery.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to a new access-log object.
  #checkov:skip=CKV_AWS_145:S3 server access logging delivers only to buckets encrypted with SSE-S3 (AES256), not SSE-KMS.
  bucket        = local.log_bucket
  force_destroy = var.force_destroy
  tags          = { zone = "access-logs", purpose = "S3 server access logs of the data buckets." }
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256" # the only encryption server access logging delivers to
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.logs]
}

data "aws_iam_policy_document" "logs" {
  dynamic "statement" {
    for_each = var.deny_insecure_transport ? [1] : []
    content {
      sid       = "DenyInsecureTransport"
      effect    = "Deny"
      actions   = ["s3:*"]
      resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = "Bool"
        variable = "aws:SecureTransport"
        values   = ["false"]
      }
    }
  }

  statement {
    sid       = "S3ServerAccessLogDelivery"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [for b in aws_s3_bucket.zone : b.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket     = aws_s3_bucket.logs.id
  policy     = data.aws_iam_policy_document.logs.json
  depends_on = [aws_s3_bucket_public_access_block.logs]
}
