"""One module per `cdrcap` subcommand, each with `register(parser)` that sets `func`."""
