"""Remove credentials from anything a run writes out: config, target, metadata.

Reports are pasted into pull requests and CI logs, so a secret must never reach them, whatever its nesting.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"

# Key names that carry secrets, matched case-insensitively anywhere in the key.
_SECRET_KEY = re.compile(
    r"secret|token|password|passwd|credential|private[_-]?key|api[_-]?key|session|"
    r"aws_access_key_id|access[_-]?key",
    re.IGNORECASE,
)
# Values that look like AWS access key ids even under an innocent key.
_ACCESS_KEY_VALUE = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
# A secret given as `NAME=value`, `NAME: value` or `--name value` inside free text (env lines, CLI args).
_SECRET_ASSIGNMENT = re.compile(
    r"(?P<name>-{0,2}[\w-]*(?:secret|token|password|passwd|session|credential)[\w-]*)(?P<sep>\s*[=:]\s*|\s+)"
    r"(?P<value>[^\s,;\"']+)",
    re.IGNORECASE,
)
# user:password@ in URLs.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def _mask_assignment(match: re.Match[str]) -> str:
    name, sep = match.group("name"), match.group("sep")
    if not sep.strip() and not name.startswith("-"):
        return match.group(0)  # prose ("the session ended"), not a `--flag value`
    return f"{name}{sep}{REDACTED}"


def scrub_text(text: str) -> str:
    text = _ACCESS_KEY_VALUE.sub(REDACTED, text)
    text = _SECRET_ASSIGNMENT.sub(_mask_assignment, text)
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)


def scrub(value: Any) -> Any:
    """A deep copy of `value` with secret-named keys redacted and secret-looking strings masked."""
    if isinstance(value, dict):
        return {
            key: (REDACTED if isinstance(key, str) and is_secret_key(key) else scrub(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value
