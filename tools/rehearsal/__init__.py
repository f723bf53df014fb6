"""make deploy-rehearsal: sam package, deploy and delete against a CloudFormation on loopback."""
