# The AWS side of skinscan on EKS: network, cluster and node groups (one for CPU
# services, one for GPU inference), ECR repositories, the S3 model bucket, ElastiCache
# Redis, RDS PostgreSQL, and the IAM roles pods assume through IRSA.
#   terraform init && terraform apply -var region=eu-west-1
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Pinned to the version CI validates against (installed as a local plugin there).
      version = "= 5.100.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project = "skinscan"
    }
  }
}
