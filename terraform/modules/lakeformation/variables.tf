variable "name_prefix" {
  description = "Prefix of the registration role's name."
  type        = string
}

variable "partition" {
  description = "AWS partition."
  type        = string
}

variable "account_id" {
  description = "The account whose data lake settings these are."
  type        = string
}

variable "admins" {
  description = "Data lake administrators (IAM role or user ARNs). Nobody else holds permissions by default."
  type        = list(string)

  validation {
    condition     = length(var.admins) > 0
    error_message = "Lake Formation needs at least one data lake administrator."
  }
}

variable "warehouse_bucket_arn" {
  description = "ARN of the bucket holding the Iceberg warehouse."
  type        = string
}

variable "warehouse_prefix" {
  description = "Key prefix of the warehouse inside its bucket (the registered location is <bucket>/<prefix>)."
  type        = string
}

variable "kms_key_arn" {
  description = "The key the warehouse objects are encrypted with (the registration role decrypts and encrypts with it)."
  type        = string
}

variable "register_location" {
  description = "Register the warehouse location with Lake Formation (off on an emulator that lacks it)."
  type        = bool
}

variable "lf_tag_key" {
  description = "The LF-tag key genolake's governance sets on classified columns."
  type        = string
  default     = "classification"
}

variable "lf_tag_values" {
  description = "The LF-tag's values: the classifications of genolake's table contracts (genolake_assets/transforms/tables.py CLASSIFICATIONS)."
  type        = list(string)

  validation {
    condition     = length(var.lf_tag_values) > 0 && length(var.lf_tag_values) <= 1000
    error_message = "lf_tag_values must hold 1 to 1000 values."
  }
}
