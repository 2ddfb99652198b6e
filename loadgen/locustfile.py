"""`locust -f loadgen/locustfile.py` — CDRs into Kinesis at a target records/s.

Headless: `locust -f loadgen/locustfile.py --headless --cdr-endpoint http://127.0.0.1:4566 --cdr-rate 200`
Web UI: the same without --headless. Distributed: add `--master` / `--worker` (options come from the master).
Options: `locust -f loadgen/locustfile.py --help` (group "cdrcap"), LOCUST_CDR_* env vars, or a config file.
"""

from __future__ import annotations

from typing import Any

from locust import events

from loadgen.options import add_arguments
from loadgen.shapes import CdrShape
from loadgen.users import KinesisCdrUser

__all__ = ["CdrShape", "KinesisCdrUser"]


@events.init_command_line_parser.add_listener
def _add_cdr_options(parser: Any) -> None:
    add_arguments(parser)
