"""Recognise an embedded-metric-format (EMF) document on a log line: the handler's metrics line, which the
local stack turns into metrics (infra/local/emf.py) and the CloudWatch reader joins with its REPORT line."""

from __future__ import annotations

from typing import Any

import orjson


def parse_emf(line: str) -> dict[str, Any] | None:
    """The EMF document on a log line, or None when the line is not one."""
    if not line.startswith("{") or '"_aws"' not in line:
        return None
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("_aws"), dict):
        return None
    return document
