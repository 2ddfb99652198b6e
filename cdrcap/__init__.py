"""cdrcap: the CLI and the orchestration of a capacity run."""

__version__ = "0.1.0"
