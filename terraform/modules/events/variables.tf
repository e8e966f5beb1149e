variable "name_prefix" {
  description = "Prefix of the queue names."
  type        = string
}

variable "account_id" {
  description = "The account owning the landing bucket (the queue accepts its notifications only)."
  type        = string
}

variable "landing_bucket_id" {
  description = "Name of the landing bucket."
  type        = string
}

variable "landing_bucket_arn" {
  description = "ARN of the landing bucket."
  type        = string
}

variable "landing_prefix" {
  description = "Key prefix whose ObjectCreated events are sent (without trailing slash)."
  type        = string
}

variable "kms_key_arn" {
  description = "The key the queues are encrypted with (its policy lets S3 use it for notifications)."
  type        = string
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the landing queue (longer than a sensor tick)."
  type        = number
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue."
  type        = number
}

variable "partition" {
  description = "AWS partition."
  type        = string
}

variable "region" {
  description = "The queues' region."
  type        = string
}
