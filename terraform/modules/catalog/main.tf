# The Glue database the Iceberg tables are registered in, and the Data Catalog's encryption settings.
#
# The tables themselves are created by genolake (pyiceberg's Glue catalog) when data first arrives: their schemas
# come from the table contracts in genolake_assets/transforms/tables.py, not from here.

resource "aws_glue_catalog_database" "this" {
  name         = var.database_name
  description  = "genolake: genomics lakehouse (Iceberg tables written by genolake)"
  location_uri = var.location_uri
}

# Account-and-region singleton (like the Lake Formation data lake settings): one state manages it.
resource "aws_glue_data_catalog_encryption_settings" "this" {
  count = var.manage_encryption_settings ? 1 : 0

  data_catalog_encryption_settings {
    encryption_at_rest {
      catalog_encryption_mode = "SSE-KMS"
      sse_aws_kms_key_id      = var.kms_key_arn
    }
    connection_password_encryption {
      return_connection_password_encrypted = true
      aws_kms_key_id                       = var.kms_key_arn
    }
  }
}
