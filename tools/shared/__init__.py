"""What the tools share: template.yaml read as SAM and CloudFormation read it, a local AWS (moto), the Lambda Invoke API."""
