"""What every rule is made of: the touch a CDR makes on a window, the detection, the detector base class."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from pipeline.fraud.state import WindowKey, WindowState
from pipeline.schema import CanonicalCDR, RecordType


class Touch(NamedTuple):
    """One CDR's contribution to one subscriber's window of one rule (names prefixed by the rule id)."""

    subscriber: str  # clear number: the engine tokenises it before it reaches any store
    window_start_ms: int
    counters: Mapping[str, int]
    members: Mapping[str, tuple[str, ...]]
    tags_cdr: bool = True  # False for context-only counts (a SIM-box suspect's incoming calls)


@dataclass(frozen=True, slots=True)
class Detection:
    score: float  # observed / threshold of the binding condition: >= 1.0 when fired
    evidence: Mapping[str, int]


Touches = tuple[Touch, ...]
NO_TOUCHES: Touches = ()


class Detector:
    """A rule as code. Subclasses set the three attributes and implement `touches` and `detect`."""

    rule_id: str
    window_s: int
    set_caps: dict[str, int]  # rule-prefixed set name -> member cap
    record_types: frozenset[RecordType]  # the engine skips `touches` for other records (hot path)

    def touches(self, cdr: CanonicalCDR) -> Touches:
        """What this CDR adds to which windows (usually zero or one touch)."""
        raise NotImplementedError

    def detect(self, state: WindowState, key: WindowKey) -> Detection | None:
        raise NotImplementedError

    def wants_previous_window(self, state: WindowState) -> bool:
        """Whether a window that did not fire on its own is worth judging together with the previous one
        (one extra read). Off unless a rule opts in."""
        return False


def window_start_ms(event_ms: int, window_s: int) -> int:
    return event_ms - event_ms % (window_s * 1000)


Hasher = Callable[[str], str]


def ratio(observed: float, threshold: float) -> float:
    return round(observed / threshold, 2)
