"""Safety rails: a target only writes to the streams it names, and every run is capped in records and time."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from infra.aws import Target
from loadgen.errors import LoadConfigError, StreamNotAllowed

# Hard ceilings no option can lift: a typo in --rate or --duration must not become a runaway bill.
ABSOLUTE_MAX_RECORDS = 50_000_000
ABSOLUTE_MAX_DURATION_S = 24 * 3600


def check_stream_allowed(target: Target, stream_name: str) -> None:
    """Refuse a stream the target does not name (exact match: a near-miss is a typo, not a wildcard)."""
    if stream_name in target.allowed_streams:
        return
    allowed = ", ".join(target.allowed_streams) or "none"
    hint = difflib.get_close_matches(stream_name, target.allowed_streams, n=1)
    did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
    raise StreamNotAllowed(
        f"stream {stream_name!r} is not allowed for target {target.name!r} (allowed: {allowed})."
        f"{did_you_mean} "
        f"Add it to the target's allowed_streams if writing to it is intended."
    )


@dataclass(frozen=True)
class Caps:
    """Hard limits of one run; the producer stops offering records when either is reached."""

    max_records: int
    max_duration_s: float

    def __post_init__(self) -> None:
        if not 0 < self.max_records <= ABSOLUTE_MAX_RECORDS:
            raise LoadConfigError(
                f"max_records={self.max_records} must be within 1..{ABSOLUTE_MAX_RECORDS:,}; lower it"
            )
        if not 0 < self.max_duration_s <= ABSOLUTE_MAX_DURATION_S:
            raise LoadConfigError(
                f"max_duration_s={self.max_duration_s} must be within "
                f"(0, {ABSOLUTE_MAX_DURATION_S}]; lower it"
            )
