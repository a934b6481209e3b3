# The model repository: s3://<bucket>/models/<name>/<version>/ (the inference service
# reads it; training pushes to it). Versioned: an overwritten or deleted object can be had back.
resource "aws_s3_bucket" "models" {
  bucket_prefix = "${var.name}-models-"
}

resource "aws_s3_bucket_versioning" "models" {
  bucket = aws_s3_bucket.models.id
  versioning_configuration {
    status = "Enabled"
  }
}

# Kept images (only for clinics that opt in), encrypted by the gateway with the clinic's
# field keys before they arrive. Not versioned: a patient's erasure and the retention purge
# delete an image, and a versioned bucket would keep its old versions.
resource "aws_s3_bucket" "images" {
  bucket_prefix = "${var.name}-images-"
}

# Training data for the training Jobs (k8s/training): the data sets as their folders, e.g.
# s3://<bucket>/isic-binary/train/{benign,malignant}/ and s3://<bucket>/ham10000/.
resource "aws_s3_bucket" "training_data" {
  bucket_prefix = "${var.name}-training-data-"
}

locals {
  buckets = {
    models        = aws_s3_bucket.models.id
    images        = aws_s3_bucket.images.id
    training_data = aws_s3_bucket.training_data.id
  }
}

# Every bucket: encrypted at rest with KMS, and never public.
resource "aws_s3_bucket_server_side_encryption_configuration" "bucket" {
  for_each = local.buckets
  bucket   = each.value
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "bucket" {
  for_each                = local.buckets
  bucket                  = each.value
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
