variable "region" {
  description = "AWS region for everything"
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Prefix of every resource's name"
  type        = string
  default     = "skinscan"
}

variable "kubernetes_version" {
  description = "EKS control plane version"
  type        = string
  default     = "1.33"
}

variable "vpc_cidr" {
  type    = string
  default = "10.40.0.0/16"
}

variable "cpu_instance_types" {
  description = "Gateway and preprocessor nodes"
  type        = list(string)
  default     = ["c7i.2xlarge"]
}

variable "cpu_nodes" {
  description = "CPU node group size: min, desired, max"
  type        = object({ min = number, desired = number, max = number })
  default     = { min = 2, desired = 3, max = 10 }
}

variable "gpu_instance_types" {
  description = "Inference nodes: one NVIDIA GPU each (H100: p5; L4: g6; A10G: g5)"
  type        = list(string)
  default     = ["g6.2xlarge"]
}

variable "gpu_nodes" {
  description = "GPU node group size: min, desired, max"
  type        = object({ min = number, desired = number, max = number })
  default     = { min = 1, desired = 1, max = 4 }
}

variable "namespace" {
  description = "Kubernetes namespace of skinscan (the eks overlay's)"
  type        = string
  default     = "skinscan"
}

variable "db_instance_class" {
  type    = string
  default = "db.t4g.medium"
}

variable "redis_node_type" {
  type    = string
  default = "cache.t4g.medium"
}

variable "redis_auth_token" {
  description = "ElastiCache AUTH token (16-128 characters, e.g. `openssl rand -hex 32`); also stored in Secrets Manager as skinscan/redis"
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.redis_auth_token) >= 16 && length(var.redis_auth_token) <= 128
    error_message = "The Redis AUTH token must have 16 to 128 characters."
  }
}

variable "alb_controller_policy_arn" {
  description = "The AWS Load Balancer Controller's IAM policy (created from its project's iam_policy.json); empty: attach it later"
  type        = string
  default     = ""
}
