variable "database_name" {
  description = "Name of the Glue database holding genolake's Iceberg tables."
  type        = string
}

variable "location_uri" {
  description = "The warehouse URI (s3://bucket/prefix); tables live at <location>/<table>."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key encrypting the Data Catalog and connection passwords."
  type        = string
}

variable "manage_encryption_settings" {
  description = "Manage the Data Catalog encryption settings (one per account and region: only one state may own them)."
  type        = bool
}
