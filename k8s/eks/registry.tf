# One repository per service image; tags cannot be overwritten, so a deployed tag always
# means the same image.
resource "aws_ecr_repository" "service" {
  for_each             = toset(["gateway", "preprocessor", "inference", "trainer"])
  name                 = "${var.name}-${each.key}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}
