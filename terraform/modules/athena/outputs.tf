output "results_uris" {
  description = "Workgroup name -> its results location (s3://bucket/prefix/<workgroup>), whether or not the workgroups are created."
  value       = { for name, _ in var.workgroups : name => "s3://${var.results_bucket}/${var.results_prefix}/${name}" }
}

output "workgroup_names" {
  description = "Names of the workgroups created (empty when disabled)."
  value       = [for wg in aws_athena_workgroup.this : wg.name]
}
