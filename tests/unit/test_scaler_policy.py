"""The scaler's decision (scaler/policy.py): what the deployed function does with one minute of metrics."""

from __future__ import annotations

import pytest

from capacity.scaling import LIMITS
from scaler.policy import DAY_S, Observation, ScalerPolicy, decide

POLICY = ScalerPolicy()


def _minute(**overrides) -> Observation:
    values = {
        "now_s": 10 * DAY_S,
        "incoming_records_per_s": 2_000.0,
        "incoming_bytes_per_s": 2_000.0 * 400,
        "iterator_age_ms": 500.0,
        "open_shards": 4,
        "parallelization_factor": 1,
        "stream_updating": False,
    }
    return Observation(**(values | overrides))


def test_busy_shards_scale_out_toward_the_target_within_2x() -> None:
    # 3,800 records/s on 4 shards is 95 %: the target (50 %) needs 8, and a call may at most double
    decision = decide(_minute(incoming_records_per_s=3_800.0), LIMITS, POLICY)
    assert decision.shards == 8
    assert decision.parallelization_factor is None


def test_a_falling_behind_consumer_gets_pf_first() -> None:
    decision = decide(_minute(iterator_age_ms=45_000.0), LIMITS, POLICY)
    assert decision.parallelization_factor == 2
    assert decision.shards is None


def test_behind_at_maximum_pf_adds_shards() -> None:
    decision = decide(_minute(iterator_age_ms=45_000.0, parallelization_factor=10), LIMITS, POLICY)
    assert decision.shards is not None and decision.shards > 4


def test_no_call_while_the_stream_is_updating() -> None:
    decision = decide(_minute(incoming_records_per_s=3_900.0, stream_updating=True), LIMITS, POLICY)
    assert decision.shards is None


def test_scale_out_waits_for_its_cooldown() -> None:
    now = 10 * DAY_S
    recent = _minute(incoming_records_per_s=3_900.0, shard_calls_s=(now - 60.0,))
    assert decide(recent, LIMITS, POLICY).shards is None


def test_ten_calls_in_24h_stop_every_shard_call() -> None:
    now = 10 * DAY_S
    calls = tuple(now - 3_600.0 * (k + 1) for k in range(10))
    assert decide(_minute(incoming_records_per_s=3_900.0, shard_calls_s=calls), LIMITS, POLICY).shards is None


def test_quiet_stream_scales_in_by_at_most_half_keeping_calls_in_reserve() -> None:
    now = 10 * DAY_S
    quiet = _minute(
        incoming_records_per_s=100.0, incoming_bytes_per_s=100.0 * 400, open_shards=16, iterator_age_ms=100.0
    )
    assert decide(quiet, LIMITS, POLICY).shards == 8
    # With 7 calls spent in the last 24 h, the last 3 are kept for scaling out
    calls = tuple(now - 7_200.0 * (k + 1) for k in range(7))
    assert decide(_minute(**{**quiet.__dict__, "shard_calls_s": calls}), LIMITS, POLICY).shards is None


def test_caught_up_pf_comes_down_after_the_quiet_period() -> None:
    quiet = _minute(
        incoming_records_per_s=100.0,
        incoming_bytes_per_s=100.0 * 400,
        open_shards=1,
        iterator_age_ms=100.0,
        parallelization_factor=4,
    )
    assert decide(quiet, LIMITS, POLICY).parallelization_factor == 2


def test_inconsistent_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="scale_in < target < scale_out"):
        ScalerPolicy(scale_in_utilisation=0.9)
