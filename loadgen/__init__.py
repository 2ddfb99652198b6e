"""CDR load generator: vectorised synthesis, a Kinesis producer that counts every record, Locust users/shapes."""
