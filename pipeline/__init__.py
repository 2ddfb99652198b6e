"""The cdrcap Lambda function: decode, validate, normalise, aggregate and emit telecom CDRs from Kinesis."""
