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

# A role a Kubernetes service account (namespace:name) may assume, and nothing else.
data "aws_iam_policy_document" "irsa" {
  for_each = {
    inference        = "${var.namespace}:inference"
    gateway          = "${var.namespace}:gateway"
    trainer          = "${var.namespace}:trainer"
    external_secrets = "${var.namespace}:external-secrets"
    alb_controller   = "kube-system:aws-load-balancer-controller"
    ebs_csi          = "kube-system:ebs-csi-controller-sa"
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
      values   = ["system:serviceaccount:${each.value}"]
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

# The AWS Load Balancer Controller (the ALB Ingresses). Its permissions are the policy its
# project publishes for each release (docs/install/iam_policy.json), created beforehand with
# `aws iam create-policy` and passed as alb_controller_policy_arn (README, Deploy to EKS).
resource "aws_iam_role" "alb_controller" {
  name               = "${var.name}-alb-controller"
  assume_role_policy = data.aws_iam_policy_document.irsa["alb_controller"].json
}

resource "aws_iam_role_policy_attachment" "alb_controller" {
  count      = var.alb_controller_policy_arn == "" ? 0 : 1
  role       = aws_iam_role.alb_controller.name
  policy_arn = var.alb_controller_policy_arn
}

# The EBS CSI driver (the training Job's checkpoint volume), with AWS's managed policy.
resource "aws_iam_role" "ebs_csi" {
  name               = "${var.name}-ebs-csi"
  assume_role_policy = data.aws_iam_policy_document.irsa["ebs_csi"].json
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.ebs_csi.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}
