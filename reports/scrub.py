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
# user:password@ in URLs.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def scrub_text(text: str) -> str:
    text = _ACCESS_KEY_VALUE.sub(REDACTED, text)
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
