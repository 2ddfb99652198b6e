import dataclasses
import math

import numpy as np
import pytest

from capacity.model import ReadPath, steady_state
from capacity.simulate import DeviationPools, LaneSimConfig, simulate_lane

SERVICE = (50.0, 0.5, 0.0)


@pytest.mark.parametrize(
    ("rate", "batch", "window", "read"),
    [
        (200.0, 1_000, 1, ReadPath.shared(1)),
        (200.0, 1_000, 0, ReadPath.shared(1)),
        (1_000.0, 10_000, 0, ReadPath.shared(3)),
        (300.0, 500, 0, ReadPath.efo()),
        (1_000.0, 1_000, 2, ReadPath.shared(1)),
    ],
)
def test_simulator_agrees_with_the_analytic_model_in_steady_busy_state(
    rate: float, batch: int, window: int, read: ReadPath
) -> None:
    # Given a steady load on a busy, stable lane (where both apply)
    analytic = steady_state(rate, 400, batch, window, SERVICE, read)
    # When simulated
    summary = simulate_lane(
        LaneSimConfig(batch, window, SERVICE, 400, read), [(200.0, rate)], seed=3
    ).summary(20.0)
    # Then batch size and e2e percentiles agree within 5%
    assert summary["mean_batch_records"] == pytest.approx(float(analytic.batch_records), rel=0.05)
    assert summary["e2e_p50_ms"] == pytest.approx(float(analytic.e2e_p50_s) * 1000, rel=0.05)
    assert summary["e2e_p99_ms"] == pytest.approx(float(analytic.e2e_p99_s) * 1000, rel=0.05)


def test_burst_above_capacity_builds_iterator_age_that_recovers_afterwards() -> None:
    # Given a lane with capacity ~370 records/s and a 20 s burst at 600 records/s
    config = LaneSimConfig(100, 0, (20.0, 0.5, 0.0), 400, ReadPath.shared(1))
    result = simulate_lane(config, [(30.0, 100.0), (20.0, 600.0), (150.0, 100.0)], seed=1)
    # Then the iterator age grows during the burst and comes back within the run
    assert result.summary(30.0, 50.0)["iterator_age_max_ms"] > 5_000
    recovery = result.recovery_s(after_s=50.0, iterator_age_threshold_ms=1_000)
    assert 0 < recovery < 150


def test_sustained_overload_never_recovers() -> None:
    config = LaneSimConfig(100, 0, (20.0, 0.5, 0.0), 400, ReadPath.shared(1))
    result = simulate_lane(config, [(60.0, 600.0)], seed=1)
    assert math.isinf(result.recovery_s(after_s=10.0, iterator_age_threshold_ms=1_000))


def test_retries_lengthen_end_to_end_latency() -> None:
    base = LaneSimConfig(500, 0, SERVICE, 400, ReadPath.shared(1))
    flaky = LaneSimConfig(500, 0, SERVICE, 400, ReadPath.shared(1), error_rate=0.3, max_retries=2)
    calm = simulate_lane(base, [(60.0, 200.0)], seed=2).summary(5.0)
    retried = simulate_lane(flaky, [(60.0, 200.0)], seed=2).summary(5.0)
    assert retried["e2e_p99_ms"] > calm["e2e_p99_ms"]


def test_records_are_delivered_in_order_and_each_exactly_once() -> None:
    result = simulate_lane(LaneSimConfig(50, 1, SERVICE, 400, ReadPath.shared(1)), [(30.0, 300.0)], seed=4)
    assert int(result.batch_records.sum()) == result.arrival_s.size
    completion = result.arrival_s + result.e2e_s
    assert (completion[1:] >= completion[:-1] - 1e-12).all()


def test_local_runtime_read_path_waits_half_a_poll_gap_then_the_service() -> None:
    # Given the local runtime's poller (reads ahead every 0.2 s while records come) and W=0
    read = ReadPath.local_runtime(poll_busy_s=0.2)
    config = LaneSimConfig(1_000, 0, (20.0, 0.5, 0.0), 400, read)
    summary = simulate_lane(config, [(120.0, 200.0)], seed=5).summary(10.0)
    # Then a record waits U(0, 0.2 s) for the poll and then S(40 records) = 40 ms
    assert summary["mean_batch_records"] == pytest.approx(40, rel=0.05)
    assert summary["e2e_p50_ms"] == pytest.approx(100 + 40, rel=0.08)
    assert summary["e2e_p99_ms"] == pytest.approx(198 + 40, rel=0.08)


def test_local_runtime_window_runs_while_the_lane_is_busy() -> None:
    # Given a 1 s window, records accumulate from the first buffered record, not from when the lane frees
    read = ReadPath.local_runtime(poll_busy_s=0.2)
    config = LaneSimConfig(10_000, 1, (20.0, 0.5, 0.0), 400, read)
    summary = simulate_lane(config, [(120.0, 200.0)], seed=5).summary(10.0)
    assert summary["e2e_p99_ms"] < 1_000 + 200 + 0.5 * 200 * 1.2 + 20


def test_measured_deviations_replace_the_log_normal_noise() -> None:
    # Given a lane whose invocations each take exactly 3x the fitted time, as measured, and a CV
    tripled = LaneSimConfig(
        100, 0, (20.0, 0.5, 0.0), 400, ReadPath.shared(1), service_cv=0.5, service_deviations=(3.0,)
    )
    # When it is simulated
    result = simulate_lane(tripled, [(60.0, 50.0)], seed=4)
    # Then every invocation took 3x S(n) (the deviations win over the CV's log-normal)
    fitted_s = (20.0 * result.batch_records.size + 0.5 * result.batch_records.sum()) / 1000.0
    assert result.busy_s == pytest.approx(3.0 * fitted_s)


def _first_record_after_gap_waits_s(
    stall_gap_s: float, seed: int, pause_ends_s: tuple[float, ...] = ()
) -> float:
    # Replayed arrivals every 50 ms for 2 s, nothing for 0.6 s, then every 50 ms again
    before = np.arange(0.0, 2.0, 0.05)
    after = np.arange(2.6, 4.0, 0.05)
    arrivals = np.concatenate([before, after])
    read = dataclasses.replace(
        ReadPath.local_runtime(poll_busy_s=0.2), stall_gap_s=stall_gap_s, pause_ends_s=pause_ends_s
    )
    config = LaneSimConfig(1_000, 0, (1.0, 0.0, 0.0), 400, read)
    result = simulate_lane(config, [(4.0, 25.0)], seed=seed, replay=(arrivals, arrivals))
    return float(result.e2e_s[before.size])


@pytest.mark.parametrize("seed", range(5))
def test_a_gap_in_replayed_arrivals_is_an_empty_poll_unless_it_is_a_stall(seed: int) -> None:
    # A 0.6 s gap with polls every 0.2 s: a poll comes back empty and the poller waits its idle second,
    # so the first record after the gap (2.6 s) waits for a poll >= 3.1 s (the last busy one saw 1.95 s)
    assert _first_record_after_gap_waits_s(math.inf, seed) >= 0.5
    # Read as a stall of the local stack (longer than its 0.25 s call interval), the poll sent in the gap
    # is answered when it ends, with that record
    assert _first_record_after_gap_waits_s(0.25, seed) < 0.01
    # A gap shorter than the stall threshold is still a real pause
    assert _first_record_after_gap_waits_s(1.0, seed) >= 0.5
    # And so is a long gap that was the producer backing off from throttled puts: the emulator answered
    # the poll sent in it at once, empty (capacity.runtime_samples.pause_gaps)
    assert _first_record_after_gap_waits_s(0.25, seed, pause_ends_s=(2.6,)) >= 0.5
    # Only the gap ending at a back-off's end is read so: another gap's end leaves this one a stall
    assert _first_record_after_gap_waits_s(0.25, seed, pause_ends_s=(1.0, 3.0)) < 0.01


def test_a_measured_stall_is_added_as_time_to_batches_of_its_step_and_size() -> None:
    # Given step 0's measured deviations: small batches (10 records) run at 1x except one stalled at 25x,
    # and large batches (200 records) always at 1x; step 1 had no stall; S(n) = 10 + 1 ms/record
    deviations = np.array([1.0] * 9 + [25.0] + [1.0] * 10 + [1.0] * 20)
    records = np.array([10.0] * 10 + [200.0] * 10 + [10.0] * 20)
    steps = np.array([0] * 20 + [1] * 20)
    pools = DeviationPools.of(deviations, records, steps, (10.0, 1.0))
    assert pools is not None
    rng = np.random.default_rng(3)
    # When step 0's 10-record batches draw, the stall adds its 24 x 20 ms = 480 ms, not a ratio
    assert max(pools.spent_s(0.020, 10, 0, 1.0, 1, rng) for _ in range(400)) == pytest.approx(0.020 + 0.480)
    # And a 15-record batch, drawing from the sizes nearest it, gets the same 480 ms (a ratio: 24 x 25 ms)
    assert max(pools.spent_s(0.025, 15, 0, 1.0, 1, rng) for _ in range(400)) == pytest.approx(0.025 + 0.480)
    # And 200-record batches draw only from batches of their size: never stalled
    assert {pools.spent_s(0.210, 200, 0, 1.0, 1, rng) for _ in range(100)} == {0.210}
    # And step 1 draws from its own invocations: never stalled either
    assert {pools.spent_s(0.020, 10, 1, 1.0, 1, rng) for _ in range(400)} == {0.020}


def test_a_measured_dispatch_gap_slows_a_backlogged_lane_but_not_its_invocations() -> None:
    # Given a lane at 90% of its limit (full batches of 100 at S = 100 ms, 900 records/s offered)
    base = LaneSimConfig(100, 0, (0.0, 1.0, 0.0), 400, ReadPath.local_runtime(poll_busy_s=0.2))
    gapped = dataclasses.replace(base, dispatch_gaps_ms=(20.0,))
    fast = simulate_lane(base, [(30.0, 900.0)], seed=2)
    slow = simulate_lane(gapped, [(30.0, 900.0)], seed=2)
    # When each invocation is followed by 20 ms of the runtime's own time, the lane's limit falls from
    # 1,000 to 833 records/s, below the load: the backlog grows and so does the iterator age
    assert slow.summary()["iterator_age_max_ms"] > 5 * fast.summary()["iterator_age_max_ms"]
    # And the handler's busy time is the same work: the gaps are not invocation time
    assert slow.busy_s == pytest.approx(fast.busy_s, rel=0.05)
