# A role an AWS service assumes: the EKS control plane, or the nodes' EC2 instances.
data "aws_iam_policy_document" "service_assume" {
  for_each = {
    cluster = "eks.amazonaws.com"
    node    = "ec2.amazonaws.com"
  }
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value]
    }
  }
}

locals {
  oidc_issuer = replace(aws_iam_openid_connect_provider.cluster.url, "https://", "")
}

# A role a Kubernetes service account (namespace/name) may assume, and nothing else.
data "aws_iam_policy_document" "irsa" {
  for_each = {
    inference        = "inference"
    gateway          = "gateway"
    trainer          = "trainer"
    external_secrets = "external-secrets"
  }
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.cluster.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${each.value}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

# Inference reads the model repository.
resource "aws_iam_role" "inference" {
  name               = "${var.name}-inference"
  assume_role_policy = data.aws_iam_policy_document.irsa["inference"].json
}

data "aws_iam_policy_document" "read_models" {
  statement {
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn, "${aws_s3_bucket.models.arn}/*"]
  }
}

resource "aws_iam_role_policy" "inference" {
  name   = "read-models"
  role   = aws_iam_role.inference.id
  policy = data.aws_iam_policy_document.read_models.json
}

# The gateway keeps, reads and deletes images in the images bucket, and nothing else. Listing
# lets S3 answer a missing image with 404 (purged) rather than 403.
resource "aws_iam_role" "gateway" {
  name               = "${var.name}-gateway"
  assume_role_policy = data.aws_iam_policy_document.irsa["gateway"].json
}

data "aws_iam_policy_document" "keep_images" {
  statement {
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.images.arn}/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.images.arn]
  }
}

resource "aws_iam_role_policy" "gateway" {
  name   = "keep-images"
  role   = aws_iam_role.gateway.id
  policy = data.aws_iam_policy_document.keep_images.json
}

# The training Jobs read the training data and publish new versions to the model bucket
# (a version number is claimed with a conditional write, then its files are uploaded).
resource "aws_iam_role" "trainer" {
  name               = "${var.name}-trainer"
  assume_role_policy = data.aws_iam_policy_document.irsa["trainer"].json
}

data "aws_iam_policy_document" "train" {
  statement {
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.training_data.arn, "${aws_s3_bucket.training_data.arn}/*"]
  }
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.models.arn, "${aws_s3_bucket.models.arn}/*"]
  }
}

resource "aws_iam_role_policy" "trainer" {
  name   = "train"
  role   = aws_iam_role.trainer.id
  policy = data.aws_iam_policy_document.train.json
}

# External Secrets reads skinscan's secrets, and only those.
resource "aws_iam_role" "external_secrets" {
  name               = "${var.name}-external-secrets"
  assume_role_policy = data.aws_iam_policy_document.irsa["external_secrets"].json
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "read_secrets" {
  statement {
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [
      "arn:aws:secretsmanager:${var.region}:${data.aws_caller_identity.current.account_id}:secret:${var.name}/*",
    ]
  }
}

resource "aws_iam_role_policy" "external_secrets" {
  name   = "read-secrets"
  role   = aws_iam_role.external_secrets.id
  policy = data.aws_iam_policy_document.read_secrets.json
}
