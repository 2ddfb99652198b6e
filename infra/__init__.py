"""Infrastructure: CloudFormation for AWS, packaging and deploy, and the embedded local stack (infra/local)."""
