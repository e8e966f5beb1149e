output "runner_role_arn" {
  description = "The Dagster runner role."
  value       = aws_iam_role.runner.arn
}

output "job_role_arn" {
  description = "The EMR Serverless execution role of the ingest job."
  value       = aws_iam_role.job.arn
}

output "governance_role_arns" {
  description = "Governance role name (as in the policy) -> ARN of the IAM role created for it."
  value       = { for name, role in aws_iam_role.governance : name => role.arn }
}
