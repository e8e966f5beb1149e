output "database_name" {
  description = "The Glue database's name."
  value       = aws_glue_catalog_database.this.name
}

output "database_arn" {
  description = "The Glue database's ARN."
  value       = aws_glue_catalog_database.this.arn
}
