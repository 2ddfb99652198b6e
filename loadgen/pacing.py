"""Open-model pacing: each user sends its share of the profile's rate on a schedule of intended send
times. A late send does not push the schedule back; its lateness is reported (schedule lag) and latency
is measured from the intended time, so a slow stream cannot hide behind fewer requests (no coordinated
omission).
"""

from __future__ import annotations

from dataclasses import dataclass

from loadgen.profiles import RateProfile

TARGET_CALL_INTERVAL_S = 0.25  # aim for a call per user every ~250 ms: small batches at low rates
IDLE_POLL_S = 0.1


@dataclass(frozen=True)
class Send:
    intended_epoch_s: float
    records: int
    window_s: float = 0.0  # buffered sends: the records arrive over this window after the intended time


class Pacer:
    """The send schedule of one of `users` users sharing `profile`, starting at `start_epoch_s`."""

    def __init__(
        self,
        profile: RateProfile,
        users: int,
        start_epoch_s: float,
        max_batch: int,
        phase: float = 0.0,
        *,
        buffered_s: float = 0.0,
    ) -> None:
        """`phase` (0..1): where in the call interval this user's calls fall. Users on one phase send in
        bursts every ~0.25 s that a consumer polling every 0.2 s keeps missing (an empty poll waits a whole
        second), which no crowd of independent switches does; spread phases make the arrivals smooth.

        `buffered_s` > 0: a buffering producer (KPL aggregation). Each send is what arrives during one
        buffering window, flushed at its end (`Send.window_s`), so the buffering delay is really spent."""
        self.profile = profile
        self.users = max(users, 1)
        self.start_epoch_s = start_epoch_s
        self.max_batch = max_batch
        self.buffered_s = buffered_s
        self.interval_s = buffered_s or TARGET_CALL_INTERVAL_S
        self._next_epoch_s = start_epoch_s + (phase % 1.0) * self.interval_s

    def next_send(self, now_epoch_s: float) -> Send | None:
        """The next batch and when it is due (may be in the past: we are late), or None when over."""
        while True:
            elapsed = self._next_epoch_s - self.start_epoch_s
            if elapsed >= self.profile.duration_s:
                return None
            share_rps = self.profile.rate_at(elapsed) / self.users
            if share_rps <= 0:
                self._next_epoch_s = max(self._next_epoch_s, now_epoch_s) + IDLE_POLL_S
                continue
            # Behind schedule: everything already due goes in one (bigger) call, so a user catches up
            # instead of being capped at batch / latency. Its intended time is the oldest record's.
            due_s = max(now_epoch_s - self._next_epoch_s, 0.0) + self.interval_s
            # ...but never past the end of the profile.
            due_s = min(due_s, self.profile.duration_s - elapsed)
            records = max(1, min(self.max_batch, round(share_rps * due_s)))
            # Time advances by what was sent, so the average rate is exact whatever the batch size.
            intended = self._next_epoch_s
            self._next_epoch_s = intended + records / share_rps
            return Send(intended, records, records / share_rps if self.buffered_s else 0.0)
