"""Infrastructure: CloudFormation for AWS, packaging and deploy, and the local stack (infra/local)."""
