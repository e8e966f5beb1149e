output "queue_url" {
  description = "URL of the landing queue (GENOLAKE_LANDING_QUEUE_URL)."
  value       = aws_sqs_queue.landing.id
}

output "queue_arn" {
  description = "ARN of the landing queue."
  value       = aws_sqs_queue.landing.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (look here when a landed file never ran)."
  value       = aws_sqs_queue.dead_letter.id
}
