# The landing queue for s3_landing_sensor's queue mode (GENOLAKE_LANDING_QUEUE_URL): S3 sends an event for every
# object created under the landing prefix; messages that keep failing move to a dead-letter queue.

resource "aws_sqs_queue" "dead_letter" {
  name                              = "${var.name_prefix}-landing-dlq"
  message_retention_seconds         = 1209600 # 14 days, the SQS maximum
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
}

locals {
  landing_queue_name = "${var.name_prefix}-landing"
  # known before the queue exists, so the queue is created with its policy in one step
  landing_queue_arn = "arn:${var.partition}:sqs:${var.region}:${var.account_id}:${local.landing_queue_name}"
}

resource "aws_sqs_queue" "landing" {
  name                              = local.landing_queue_name
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = 345600 # 4 days: time to fix a stopped sensor
  receive_wait_time_seconds         = 0      # the sensor polls once per tick
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })

  policy = data.aws_iam_policy_document.landing.json
}

data "aws_iam_policy_document" "landing" {
  statement {
    sid       = "LandingBucketNotifications"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [local.landing_queue_arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.landing_bucket_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.landing_queue_arn]
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

resource "aws_s3_bucket_notification" "landing" {
  bucket = var.landing_bucket_id

  queue {
    id            = "genolake-landing"
    queue_arn     = aws_sqs_queue.landing.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "${var.landing_prefix}/"
  }

}
