import math

import numpy as np
import pytest

from capacity.intervals import Interval, coverage, from_replications
from capacity.measurability import (
    MIN_INVOCATIONS_FOR_P99,
    invocations_per_s,
    p99_measurable,
    step_plans,
    unmeasurable_note,
)


def test_interval_is_the_median_and_the_10th_and_90th_percentiles_of_the_replications() -> None:
    # Given eleven replications 0, 10, ..., 100
    interval = from_replications([float(v) for v in range(0, 101, 10)])
    # Then the central value is their median and the interval spans the 10th-90th percentiles
    assert (interval.central, interval.low, interval.high) == pytest.approx((50.0, 10.0, 90.0))
    assert interval.replications == 11
    assert interval.relative_width == pytest.approx(80.0 / 50.0)


def test_an_unbounded_replication_keeps_the_interval_on_replication_values() -> None:
    interval = from_replications([100.0, 110.0, 120.0, 130.0, math.inf])
    assert interval.central == 120.0
    assert interval.low == 100.0
    assert interval.high == math.inf
    assert interval.relative_width == math.inf


def test_no_replication_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one replication"):
        from_replications([])


def test_coverage_counts_measurements_inside_their_interval() -> None:
    # Given four predictions: three measurements inside their interval, one above
    pairs = [
        (Interval(100.0, 80.0, 120.0, 21), 90.0),
        (Interval(200.0, 150.0, 250.0, 21), 250.0),  # on the edge counts as inside
        (Interval(50.0, 40.0, 60.0, 21), 55.0),
        (Interval(100.0, 90.0, 110.0, 21), 200.0),
    ]
    result = coverage(pairs)
    assert (result.points, result.inside) == (4, 3)
    assert result.share_inside == pytest.approx(0.75)
    # widths 0.4, 0.5, 0.4, 0.2 -> median 0.4; APEs 11%, 20%, 9%, 50% -> median 15.6%
    assert result.median_relative_width == pytest.approx(0.4)
    assert result.median_ape == pytest.approx((10 / 90 + 50 / 250) / 2)


def test_coverage_leaves_out_missing_measurements_and_floors_the_ape() -> None:
    result = coverage([(Interval(5.0, 0.0, 10.0, 5), 0.0), (Interval(5.0, 0.0, 10.0, 5), math.nan)])
    assert (result.points, result.inside) == (1, 1)
    assert result.median_ape == pytest.approx(5.0)  # |5 - 0| / the 1 ms floor
    assert math.isnan(coverage([]).share_inside)


def test_a_p99_needs_a_hundred_invocations() -> None:
    assert MIN_INVOCATIONS_FOR_P99 == 100
    assert not p99_measurable(99)
    assert p99_measurable(100)


def test_below_the_rule_no_invocation_lies_above_the_p99() -> None:
    # The rule's reason, on n distinct values 1..n: below 100 the nearest-rank p99 is the maximum and the
    # interpolated one lies between the two largest values, (101 - n)% of the way to the maximum
    for n in (20, 50, 99):
        values = np.arange(1.0, n + 1.0)
        assert np.percentile(values, 99, method="inverted_cdf") == n
        assert np.percentile(values, 99) == pytest.approx(n - 1 + (101 - n) / 100)
    assert np.percentile(np.arange(1.0, 101.0), 99, method="inverted_cdf") == 99.0


def test_the_note_says_how_long_the_step_should_be() -> None:
    note = unmeasurable_note(step=1, invocations=25, duration_s=30.0)
    assert "step 1: 25 invocations" in note
    assert "~120 s long (now 30 s)" in note


def test_invocation_rate_is_bounded_by_the_window_the_batch_and_the_polls() -> None:
    # A 1 s window at a light load: one batch per 1.2 s per lane
    assert invocations_per_s(40.0, 1, 1, 500, 1.0) == pytest.approx(1 / 1.2)
    # Lanes add up: 2 shards x PF 2
    assert invocations_per_s(160.0, 2, 2, 500, 1.0) == pytest.approx(4 / 1.2)
    # A full batch closes the window early: batch 100 at 500 records/s fills in 0.2 s
    assert invocations_per_s(500.0, 1, 1, 100, 5.0) == pytest.approx(5.0)
    # Window 0: one batch per busy poll (5/s), but never more batches than records
    assert invocations_per_s(100.0, 1, 1, 500, 0.0) == pytest.approx(5.0)
    assert invocations_per_s(2.0, 1, 1, 500, 0.0) == pytest.approx(2.0)
    assert invocations_per_s(0.0, 1, 1, 500, 0.0) == 0.0


def test_a_handler_slower_than_the_window_makes_fewer_invocations() -> None:
    # S(n) = 105 + 4.85 n ms, window 0, 125 records/s: T = 0.105 / (1 - 0.606) = 0.266 s per batch
    assert invocations_per_s(125.0, 1, 1, 500, 0.0, (105.0, 4.85)) == pytest.approx(1 / 0.2665, rel=1e-3)
    # Saturated (250 records/s x 4.85 ms > 1): full batches back to back, S(500) = 2.53 s each
    assert invocations_per_s(250.0, 1, 1, 500, 0.0, (105.0, 4.85)) == pytest.approx(1 / 2.53)
    # A handler faster than the window changes nothing
    assert invocations_per_s(40.0, 1, 1, 500, 1.0, (10.0, 1.0)) == pytest.approx(1 / 1.2)
    # The step length a p99 needs grows with it: 100 invocations at 0.395/s
    (plan,) = step_plans([250.0], 25.0, 1, 1, 500, 0.0, (105.0, 4.85))
    assert plan.min_duration_s == pytest.approx(253.0)
    assert not plan.measurable


def test_step_plans_flag_steps_too_short_for_their_p99() -> None:
    # 1 shard, batch 500, 1 s window: ~0.83 invocations/s, so a 30 s step gives 25 and a p99 needs 120 s
    plans = step_plans([90.0, 180.0], 30.0, 1, 1, 500, 1.0)
    assert [round(p.expected_invocations) for p in plans] == [25, 25]
    assert [p.measurable for p in plans] == [False, False]
    assert plans[0].min_duration_s == pytest.approx(120.0)
