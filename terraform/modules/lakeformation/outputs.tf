output "admins" {
  description = "The data lake administrators in force."
  value       = aws_lakeformation_data_lake_settings.this.admins
}

output "registration_role_arn" {
  description = "The role Lake Formation uses to access the registered warehouse location."
  value       = aws_iam_role.registration.arn
}

output "registered_location" {
  description = "The registered warehouse location (empty when registration is off)."
  value       = var.register_location ? aws_lakeformation_resource.warehouse[0].arn : ""
}

output "lf_tag" {
  description = "The classification LF-tag: key and values."
  value       = { key = aws_lakeformation_lf_tag.classification.key, values = aws_lakeformation_lf_tag.classification.values }
}
