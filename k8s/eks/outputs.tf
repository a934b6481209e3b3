output "cluster_name" {
  value = aws_eks_cluster.main.name
}

output "ecr_registry" {
  description = "Where to push the images; the eks overlay's images: newName"
  value       = split("/", aws_ecr_repository.service["gateway"].repository_url)[0]
}

output "models_bucket" {
  value = aws_s3_bucket.models.bucket
}

output "images_bucket" {
  description = "The eks overlay's SKINSCAN_GATEWAY_IMAGE_STORE: s3://<this>/kept"
  value       = aws_s3_bucket.images.bucket
}

output "gateway_role_arn" {
  description = "The eks overlay's gateway ServiceAccount annotation"
  value       = aws_iam_role.gateway.arn
}

output "training_data_bucket" {
  description = "Where the training Jobs read their data sets (k8s/training)"
  value       = aws_s3_bucket.training_data.bucket
}

output "trainer_role_arn" {
  description = "The training ServiceAccount's annotation (k8s/training/common)"
  value       = aws_iam_role.trainer.arn
}

output "inference_role_arn" {
  description = "The eks overlay's inference ServiceAccount annotation"
  value       = aws_iam_role.inference.arn
}

output "external_secrets_role_arn" {
  value = aws_iam_role.external_secrets.arn
}

output "database_endpoint" {
  description = "For skinscan/gateway's database_url: postgresql://skinscan:<password>@<this>/skinscan"
  value       = aws_db_instance.records.endpoint
}

output "database_password_secret_arn" {
  description = "Where RDS keeps the generated master password"
  value       = aws_db_instance.records.master_user_secret[0].secret_arn
}

output "redis_endpoint" {
  description = "For skinscan/redis's url: rediss://:<auth token>@<this>:6379/0"
  value       = aws_elasticache_replication_group.jobs.primary_endpoint_address
}

output "alb_controller_role_arn" {
  description = "For the AWS Load Balancer Controller's Helm values (serviceAccount annotation)"
  value       = aws_iam_role.alb_controller.arn
}
