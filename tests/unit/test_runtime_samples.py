"""The local runtime's per-call measurements as the simulator's draws (capacity/runtime_samples.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capacity.fit import dispatch_gaps_ms
from capacity.model import ReadPath
from capacity.runtime_samples import (
    ProducerSeconds,
    RuntimeSamples,
    invoke_gaps,
    pause_ends,
    poll_calls,
    runtime_samples,
    stall_spans,
)
from capacity.simulate import LaneSimConfig, StepDraws, simulate_lane

WINDOWS = [(100.0, 110.0), (110.0, 120.0)]


def _polls() -> pd.DataFrame:
    starts = np.arange(100.0, 120.0, 0.5)
    return pd.DataFrame(
        {
            "shard_id": ["s0", "s1"] * (starts.size // 2),
            "start_epoch_ms": starts * 1000.0,
            "call_ms": np.where(starts < 110.0, 10.0, 300.0),
            "records": 3,
        }
    )


def test_poll_calls_are_the_shards_call_times_with_the_step_each_started_in() -> None:
    calls, steps = poll_calls(_polls(), WINDOWS, "s0")
    assert calls.size == 20
    assert steps.tolist() == [0] * 10 + [1] * 10
    assert set(calls[steps == 0].tolist()) == {10.0}
    assert set(calls[steps == 1].tolist()) == {300.0}


def test_poll_calls_of_an_unknown_shard_are_every_shards_and_outside_the_windows_none() -> None:
    assert poll_calls(_polls(), WINDOWS, "")[0].size == 40
    assert poll_calls(_polls(), [(0.0, 50.0)])[0].size == 0
    assert poll_calls(pd.DataFrame(), WINDOWS)[0].size == 0


def _trace(due_ms: list[float], sent_ms: list[float], start_ms: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"due_epoch_ms": due_ms, "sent_epoch_ms": sent_ms, "start_epoch_ms": start_ms})


def test_invoke_gaps_are_due_to_sent_and_sent_to_start_of_first_invocations() -> None:
    # Given six batches, the last one a retry (no due time)
    due = [100_000.0, 101_000.0, 102_000.0, 111_000.0, 112_000.0, np.nan]
    trace = _trace(due, [d + 5.0 for d in due[:5]] + [113_000.0], [d + 7.0 for d in due[:5]] + [113_001.0])
    wake, start, steps = invoke_gaps(trace, WINDOWS)
    assert wake.tolist() == [5.0] * 5
    assert start.tolist() == [2.0] * 5
    assert steps.tolist() == [0, 0, 0, 1, 1]


def test_a_trace_without_due_times_gives_no_samples() -> None:
    samples = runtime_samples(pd.DataFrame(), pd.DataFrame({"start_epoch_ms": [1.0]}), WINDOWS)
    assert samples == RuntimeSamples()
    assert not samples.has_polls and not samples.has_wakes


def test_step_draws_come_from_the_steps_own_samples_or_the_nearest_steps() -> None:
    draws = StepDraws.of([0, 0, 2], [1.0, 1.0, 9.0], [5.0, 5.0, 7.0])
    assert draws is not None
    rng = np.random.default_rng(0)
    assert draws.draw(0, rng) == (1.0, 5.0)
    assert draws.draw(2, rng) == (9.0, 7.0)
    assert draws.draw(5, rng) == (9.0, 7.0)  # no samples in step 5: step 2's
    assert StepDraws.of([], []) is None


def _lane(runtime: RuntimeSamples, window_s: float = 0.0) -> LaneSimConfig:
    return LaneSimConfig(100, window_s, (10.0, 0.0, 0.0), 500, ReadPath.local_runtime(), runtime=runtime)


def test_a_slow_getrecords_call_hands_its_records_over_when_it_returns() -> None:
    # Given one record at 0.5 s and calls of 0 ms in the measurements, and the same with 400 ms calls
    lane = np.asarray([0.5])
    fast = RuntimeSamples(poll_call_ms=(0.0,) * 5, poll_steps=(0,) * 5)
    slow = RuntimeSamples(poll_call_ms=(400.0,) * 5, poll_steps=(0,) * 5)
    ages = [
        simulate_lane(_lane(runtime), [(3.0, 1.0)], replay=(lane, lane), seed=3).iterator_age_s[0]
        for runtime in (fast, slow)
    ]
    # Then, with the idle poller's last call 86 ms before the record (seed 3's first draw), the 0 ms
    # call came back empty and the next one is an idle second later; the 400 ms call returns it
    before_s = np.random.default_rng(3).uniform(0.0, ReadPath.local_runtime().poll_idle_s)
    assert before_s < 0.4
    assert ages[0] == pytest.approx(1.0 - before_s)
    assert ages[1] == pytest.approx(0.4 - before_s)


def test_an_empty_call_waits_the_idle_second_after_it_returned() -> None:
    # Given calls of 300 ms and a record 512 ms after the idle poller's last call started (seed 1's first
    # draw), so after that call returned empty
    lane = np.asarray([0.5])
    runtime = RuntimeSamples(poll_call_ms=(300.0,) * 5, poll_steps=(0,) * 5)
    sim = simulate_lane(_lane(runtime), [(5.0, 1.0)], replay=(lane, lane), seed=1)
    before_s = np.random.default_rng(1).uniform(0.0, ReadPath.local_runtime().poll_idle_s)
    assert before_s > 0.3
    # Then the next call starts 1 s after that one returned (not 1 s after it started), and returns the
    # record 300 ms later
    assert sim.batch_close_s[0] == pytest.approx(0.5 - before_s + 0.3 + 1.0 + 0.3)


def test_the_poll_to_invoke_time_adds_to_the_iterator_age_and_the_e2e() -> None:
    lane = np.asarray([0.5, 1.5, 2.5])
    calls = {"poll_call_ms": (5.0,) * 5, "poll_steps": (0,) * 5}
    none = RuntimeSamples(**calls)
    woken = RuntimeSamples(**calls, wake_ms=(40.0,) * 5, start_ms=(10.0,) * 5, wake_steps=(0,) * 5)
    plain, late = (
        simulate_lane(_lane(runtime), [(4.0, 1.0)], replay=(lane, lane), seed=2) for runtime in (none, woken)
    )
    assert late.iterator_age_s - plain.iterator_age_s == pytest.approx([0.04] * 3)
    assert late.e2e_s - plain.e2e_s == pytest.approx([0.05] * 3)


def test_dispatch_gaps_end_when_the_next_batch_was_due_when_the_runtime_says_so() -> None:
    # Given a backlogged lane: every batch full and waiting before the previous one ended
    starts = np.arange(10) * 1000.0 + 100_000.0
    trace = pd.DataFrame(
        {
            "shard_id": "s0",
            "lane": 0,
            "start_epoch_ms": starts,
            "end_epoch_ms": starts + 900.0,
            "batch_records": 100,
            "oldest_arrival_epoch_ms": starts - 5_000.0,
            "newest_arrival_epoch_ms": starts - 4_000.0,
        }
    )
    # Then without due times the gap runs to the next start (100 ms), with them to the due time (30 ms)
    assert dispatch_gaps_ms(trace, 100, 0.0, 0.2).tolist() == [100.0] * 9
    trace["due_epoch_ms"] = starts - 70.0
    assert dispatch_gaps_ms(trace, 100, 0.0, 0.2).tolist() == [30.0] * 9


def test_calls_overlapping_a_stall_of_the_replayed_arrivals_are_left_out() -> None:
    # Given arrivals every 0.1 s with a 2 s gap (a stall) between 104 and 106 s
    arrivals = np.concatenate([np.arange(100.0, 104.0, 0.1), np.arange(106.0, 110.0, 0.1)])
    stalls = stall_spans(arrivals, 0.25)
    assert stalls[0] == pytest.approx([103.9]) and stalls[1] == pytest.approx([106.0])
    # When calls start every 0.5 s, the one at 103.5 s taking 600 ms (into the stall)
    polls = _polls()
    polls.loc[polls["start_epoch_ms"] == 103_500.0, "call_ms"] = 600.0
    calls, _ = poll_calls(polls, [(100.0, 110.0)], stalls=stalls)
    # Then the calls from 103.5 s to 105.5 s are not drawn from: the replay holds their delay
    assert calls.size == 20 - 5
    assert calls.max() == 10.0
    assert stall_spans(arrivals, np.inf)[0].size == 0


def test_the_idle_pollers_phase_against_the_first_arrival_is_uniform_over_its_cycle() -> None:
    # Given one record and 0 ms calls: the poller idles before it, a call every second
    lane = np.asarray([0.5])
    runtime = RuntimeSamples(poll_call_ms=(0.0,) * 5, poll_steps=(0,) * 5)
    ages = [
        simulate_lane(_lane(runtime), [(3.0, 1.0)], replay=(lane, lane), seed=seed).iterator_age_s[0]
        for seed in range(400)
    ]
    # Then the record waits U(0, 1 s) for the next call, not the same ~1 s in every replication
    assert 0.0 <= min(ages) < 0.05 and 0.95 < max(ages) <= 1.0
    assert float(np.mean(ages)) == pytest.approx(0.5, abs=0.05)


def _producer(
    throttled: dict[int, int], put_p99_ms: dict[int, float], lag_ms: dict[int, float] | None = None
) -> ProducerSeconds:
    """The load generator's seconds 100-109: CDR attempts throttled, put p99 (default 20 ms) and schedule
    lag p99 (default 5 ms) per second."""
    seconds = pd.DataFrame({"epoch_s": range(100, 110)})
    seconds["throttled"] = seconds["epoch_s"].map(throttled).fillna(0)
    seconds["put_latency_p99_ms"] = seconds["epoch_s"].map(put_p99_ms).fillna(20.0)
    seconds["schedule_lag_ms"] = seconds["epoch_s"].map(lag_ms or {}).fillna(5.0)
    producer = ProducerSeconds.of(seconds)
    assert producer is not None
    return producer


# Arrivals every 0.1 s with one 0.8 s gap between 104.2 and 105.0 s
GAP_ARRIVALS = np.concatenate([np.arange(100.0, 104.25, 0.1), np.arange(105.0, 110.0, 0.1)])


def _is_stall(producer: ProducerSeconds | None) -> bool:
    starts, ends = stall_spans(GAP_ARRIVALS, 0.25, producer, 1.5)
    return bool(starts.size == 1 and starts[0] == pytest.approx(104.2) and ends[0] == pytest.approx(105.0))


def test_a_throttled_producers_back_off_gap_is_not_a_stall() -> None:
    # Given the producer throttled in second 103, its next calls late by its retries' sleeps (900 ms lag),
    # and its puts answered in 20 ms
    producer = _producer({103: 40}, {}, {103: 900.0, 104: 900.0})
    # Then the gap is its back-off (its retries sleep up to 1.5 s): no stall, and the gap's end is marked
    assert not _is_stall(producer)
    assert pause_ends(GAP_ARRIVALS, 0.25, producer, 1.5) == pytest.approx((105.0,))


def test_a_host_stall_with_no_throttling_is_a_stall() -> None:
    # Given no throttling and the puts of second 104 waiting 700 ms (the emulator not answering)
    assert _is_stall(_producer({}, {104: 700.0}))
    # Or the producer's calls starting 600 ms late (the host's CPUs holding it up, the poller with it)
    assert _is_stall(_producer({}, {}, {104: 600.0}))
    # And the same lag with a throttled second long before it (retries over by 102.5 s): a stall
    assert _is_stall(_producer({100: 40}, {}, {104: 600.0}))
    assert pause_ends(GAP_ARRIVALS, 0.25, _producer({}, {104: 700.0}), 1.5) == ()


def test_a_gap_is_a_stall_even_while_throttled_when_the_puts_waited_through_it() -> None:
    # Given throttling in second 104 but puts of that second taking 700 ms: the host did not answer
    assert _is_stall(_producer({104: 40}, {104: 700.0}))
    # And with 300 ms puts (under half of the 0.8 s gap) it is the back-off again
    assert not _is_stall(_producer({104: 40}, {104: 300.0}))


def test_a_gap_with_puts_answered_at_once_and_sent_on_time_is_the_producers_own_pause() -> None:
    # Given no throttling, 20 ms puts and 5 ms lag: the users' calls in phase, nothing to put
    assert not _is_stall(_producer({}, {}))


def test_without_the_producers_record_every_long_gap_is_a_stall() -> None:
    assert ProducerSeconds.of(pd.DataFrame({"epoch_s": [100]})) is None
    assert ProducerSeconds.of(None) is None
    assert _is_stall(None)
    assert pause_ends(GAP_ARRIVALS, 0.25, None, 1.5) == ()
    # And a gap in seconds the table does not cover
    late = GAP_ARRIVALS + 100.0
    assert stall_spans(late, 0.25, _producer({}, {}), 1.5)[0] == pytest.approx([204.2])
