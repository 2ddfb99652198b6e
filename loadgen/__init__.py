"""CDR load generator: vectorised synthesis, a producer that counts every record, Locust users/shapes."""
