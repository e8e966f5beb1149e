provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ project = var.name_prefix, "managed-by" = "terraform" }, var.tags)
  }
}
