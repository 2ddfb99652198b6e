"""What the local runtime measured per call, as samples the simulator draws from (capacity/simulate.py).

Two measurements the iterator age of a lane depends on besides the handler:

- **GetRecords call times**, one per call of the shard's poller (the runtime's polls.csv,
  infra.local.esm.telemetry.PollRow): a poll's records reach the lanes when its call returns, and the
  poller's next call starts 0.2 s after the previous one started, or a call time later when the call
  took longer, or 1 s after an empty call returned. A per-second mean of these (the GetRecords.Latency
  metric) keeps neither their spread nor the slow calls of a busy host.
- **Poll-to-invoke times**, one per first invocation of a batch (the trace's due_epoch_ms and
  sent_epoch_ms): from the moment the batch was due (its window ran out, it filled, or the lane freed
  with it due) to the lane sending it (the iterator age's end), and from sending to the worker starting
  the handler.

A call that overlaps a stall of a replayed local run (a gap in the shard's arrivals longer than
ReadPath.stall_gap_s: the emulator handling nothing, puts and polls alike) is left out of the draws: the
replay already holds its delay (the simulated poll sent in the gap is answered when it ends), and such
calls are the slow ones (light-window run of 13:35: mean 105 ms in stalls, 21 ms outside, of 1,037).
Each sample carries the index of the load step it was measured in, so that a step draws from its own
(a shared host's slow spells come in episodes, as capacity.simulate.DeviationPools notes for durations).
On AWS neither is observable per call (docs/capacity.md Validation): the samples are empty there and the
simulator keeps the fixed read path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_SAMPLES = 5  # fewer than this per run: no draws (the fixed read path and no poll-to-invoke time)


@dataclass(frozen=True)
class RuntimeSamples:
    """Per-call samples of a run (ms), each with the index of its step; empty tuples: not measured."""

    poll_call_ms: tuple[float, ...] = ()
    poll_steps: tuple[int, ...] = ()
    wake_ms: tuple[float, ...] = ()  # due -> sent
    start_ms: tuple[float, ...] = ()  # sent -> the handler's start
    wake_steps: tuple[int, ...] = ()

    @property
    def has_polls(self) -> bool:
        return bool(self.poll_call_ms)

    @property
    def has_wakes(self) -> bool:
        return bool(self.wake_ms)


def _step_of(epoch_s: np.ndarray, windows_epoch_s: Sequence[tuple[float, float]]) -> np.ndarray:
    """The index of the window each time falls in; -1 outside every window."""
    steps = np.full(epoch_s.size, -1, dtype=int)
    for index, (start_s, end_s) in enumerate(windows_epoch_s):
        steps[(epoch_s >= start_s) & (epoch_s < end_s)] = index
    return steps


@dataclass(frozen=True)
class ProducerSeconds:
    """The load generator's own record of each second (data/load_seconds.csv, by intended send second):
    how many CDR attempts the stream throttled, how long the slowest put calls took and how late the
    slowest calls started against their schedule."""

    epoch_s: np.ndarray
    throttled: np.ndarray
    put_p99_ms: np.ndarray  # nan: no call recorded in that second
    lag_p99_ms: np.ndarray  # nan: not recorded

    @classmethod
    def of(cls, load_seconds: pd.DataFrame | None) -> ProducerSeconds | None:
        """None when the table lacks the columns (a run saved without them: every long gap a stall)."""
        if load_seconds is None or load_seconds.empty or not {"epoch_s", "throttled"} <= set(load_seconds):
            return None
        table = load_seconds.sort_values("epoch_s")

        def column(name: str) -> np.ndarray:
            values = table[name] if name in table else pd.Series(np.nan, index=table.index)
            return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)

        return cls(
            table["epoch_s"].to_numpy(dtype=float),
            table["throttled"].fillna(0).to_numpy(dtype=float),
            column("put_latency_p99_ms"),
            column("schedule_lag_ms"),
        )


def pause_gaps(
    starts: np.ndarray, ends: np.ndarray, producer: ProducerSeconds, backoff_s: float
) -> np.ndarray:
    """Which arrival gaps [start, end] were the producer not putting while the host ran, not a stall.

    The emulator stamps an arrival when it handles the put. When it stalls, the puts sent in the gap wait
    for its end, so the put p99 of a second the gap spans is at least half the gap; when the host's CPUs
    hold up the load generator (and with it the poller), its calls start late: a schedule lag of at least
    half the gap. Neither means the producer had nothing to put: its users in phase, one call interval
    apart, or its back-off from throttled puts; a throttled call sleeps before each retry (up to
    `backoff_s` in all, loadgen.producer.RetryPolicy), which shows as schedule lag of the next calls, so
    lag near a throttled second (within 1 + backoff_s before the gap) is not read as the host."""
    paused = np.zeros(starts.size, dtype=bool)
    throttled_s = producer.epoch_s[producer.throttled > 0]
    for index, (start_s, end_s) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        spanned = (producer.epoch_s >= np.floor(start_s)) & (producer.epoch_s <= end_s)
        if not spanned.any():
            continue  # no record of the producer then: a stall, as without the table
        half_ms = 0.5 * (end_s - start_s) * 1000.0
        slow = np.nanmax(producer.put_p99_ms[spanned], initial=0.0) >= half_ms
        backing_off = bool(((throttled_s <= end_s) & (throttled_s + 1.0 + backoff_s >= start_s)).any())
        late = not backing_off and np.nanmax(producer.lag_p99_ms[spanned], initial=0.0) >= half_ms
        paused[index] = not (slow or late)
    return paused


def long_gaps(shard_epoch_s: np.ndarray, stall_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (epoch s) of every gap between the shard's arrivals longer than `stall_gap_s`."""
    arrivals = np.sort(np.asarray(shard_epoch_s, dtype=float))
    if arrivals.size < 2 or not np.isfinite(stall_gap_s):
        return np.array([]), np.array([])
    long = np.diff(arrivals) > stall_gap_s
    return arrivals[:-1][long], arrivals[1:][long]


def stall_spans(
    shard_epoch_s: np.ndarray,
    stall_gap_s: float,
    producer: ProducerSeconds | None = None,
    backoff_s: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The long gaps (long_gaps) that were stalls of the local stack: all of them, but those the
    `producer`'s record shows to be its own pauses (pause_gaps)."""
    starts, ends = long_gaps(shard_epoch_s, stall_gap_s)
    if producer is not None:
        stalled = ~pause_gaps(starts, ends, producer, backoff_s)
        starts, ends = starts[stalled], ends[stalled]
    return starts, ends


def pause_ends(
    shard_epoch_s: np.ndarray, stall_gap_s: float, producer: ProducerSeconds | None, backoff_s: float
) -> tuple[float, ...]:
    """The arrivals ending the long gaps that were the producer's own pauses (RecordedArrivals
    .pause_ends_epoch_s)."""
    starts, ends = long_gaps(shard_epoch_s, stall_gap_s)
    if producer is None or ends.size == 0:
        return ()
    return tuple(ends[pause_gaps(starts, ends, producer, backoff_s)].tolist())


def _overlaps(start_s: np.ndarray, end_s: np.ndarray, spans: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Whether each [start, end] overlaps one of the (sorted, disjoint) spans."""
    span_starts, span_ends = spans
    if span_starts.size == 0:
        return np.zeros(start_s.size, dtype=bool)
    # the last span starting before each call's end; it overlaps when it ends after the call's start
    index = np.searchsorted(span_starts, end_s, side="left") - 1
    return (index >= 0) & (span_ends[np.maximum(index, 0)] > start_s)


def poll_calls(
    polls: pd.DataFrame,
    windows_epoch_s: Sequence[tuple[float, float]],
    shard_id: str | None = None,
    stalls: tuple[np.ndarray, np.ndarray] = (np.array([]), np.array([])),
) -> tuple[np.ndarray, np.ndarray]:
    """The GetRecords call times (ms) of the calls started inside the windows, and their window indexes;
    only `shard_id`'s calls when it has any (the simulated lane's shard); calls overlapping one of the
    `stalls` (stall_spans) left out."""
    empty = (np.array([]), np.array([], dtype=int))
    if polls.empty or not {"start_epoch_ms", "call_ms"} <= set(polls.columns):
        return empty
    if shard_id is not None and "shard_id" in polls.columns and (polls["shard_id"] == shard_id).any():
        polls = polls[polls["shard_id"] == shard_id]
    started_s = polls["start_epoch_ms"].to_numpy(dtype=float) / 1000.0
    steps = _step_of(started_s, windows_epoch_s)
    calls = polls["call_ms"].to_numpy(dtype=float)
    inside = (steps >= 0) & np.isfinite(calls)
    inside &= ~_overlaps(started_s, started_s + np.nan_to_num(calls) / 1000.0, stalls)
    if inside.sum() < MIN_SAMPLES:
        return empty
    return np.maximum(calls[inside], 0.0), steps[inside]


def invoke_gaps(
    trace: pd.DataFrame, windows_epoch_s: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each first invocation of a batch with a due time: due -> sent and sent -> start (ms), and the
    index of its window (by when it was sent)."""
    empty = (np.array([]), np.array([]), np.array([], dtype=int))
    if not {"due_epoch_ms", "sent_epoch_ms", "start_epoch_ms"} <= set(trace.columns):
        return empty
    due = trace["due_epoch_ms"].to_numpy(dtype=float)
    sent = trace["sent_epoch_ms"].to_numpy(dtype=float)
    started = trace["start_epoch_ms"].to_numpy(dtype=float)
    known = np.isfinite(due) & np.isfinite(sent) & np.isfinite(started)
    steps = _step_of(sent / 1000.0, windows_epoch_s)
    keep = known & (steps >= 0)
    if keep.sum() < MIN_SAMPLES:
        return empty
    wake = np.maximum(sent[keep] - due[keep], 0.0)
    start = np.maximum(started[keep] - sent[keep], 0.0)
    return wake, start, steps[keep]


def runtime_samples(
    polls: pd.DataFrame,
    trace: pd.DataFrame,
    windows_epoch_s: Sequence[tuple[float, float]],
    shard_id: str | None = None,
    stalls: tuple[np.ndarray, np.ndarray] = (np.array([]), np.array([])),
) -> RuntimeSamples:
    """Both kinds of sample of a run's windows (either empty when the run did not record it)."""
    calls, call_steps = poll_calls(polls, windows_epoch_s, shard_id, stalls)
    wake, start, wake_steps = invoke_gaps(trace, windows_epoch_s)
    return RuntimeSamples(
        tuple(calls.tolist()),
        tuple(int(k) for k in call_steps),
        tuple(wake.tolist()),
        tuple(start.tolist()),
        tuple(int(k) for k in wake_steps),
    )
