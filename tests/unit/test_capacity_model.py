import math

import numpy as np
import pytest

from capacity import quotas
from capacity.model import ReadPath, effective_batch_size, steady_state

BUSY = ReadPath(poll_busy_s=0.2, poll_idle_s=1.0, delivery_s=0.0)


def test_busy_lane_cycle_matches_the_closed_form() -> None:
    # Given W=0: T = (P_busy + a) / (1 - lambda*b) while the batch size does not bind
    state = steady_state(200.0, 400, 1_000, 0, (50.0, 0.5, 0.0), BUSY)
    expected_cycle = (0.2 + 0.05) / (1 - 200 * 0.0005)
    assert float(state.cycle_s) == pytest.approx(expected_cycle, rel=1e-3)
    assert float(state.batch_records) == pytest.approx(200 * expected_cycle, rel=1e-3)


def test_e2e_p99_is_a_cycle_wait_plus_service() -> None:
    state = steady_state(200.0, 400, 1_000, 1, (50.0, 0.5, 0.0), BUSY)
    assert float(state.e2e_p99_s) == pytest.approx(
        0.99 * float(state.cycle_s) + float(state.service_s), rel=1e-3
    )


def test_lane_is_unstable_when_full_batches_cannot_keep_up() -> None:
    # Capacity = B / (S(B) + P_busy) = 100 / (0.02 + 0.05 + 0.2) = 370 records/s
    below = steady_state(300.0, 400, 100, 0, (20.0, 0.5, 0.0), BUSY)
    above = steady_state(400.0, 400, 100, 0, (20.0, 0.5, 0.0), BUSY)
    assert float(below.capacity_rps) == pytest.approx(100 / 0.27, rel=1e-6)
    assert bool(below.stable) and not bool(above.stable)
    assert math.isinf(float(above.e2e_p99_s))


def test_batch_size_caps_the_batch_and_sets_the_cycle() -> None:
    state = steady_state(1_000.0, 400, 100, 5, (10.0, 0.1, 0.0), BUSY)
    assert float(state.batch_records) == 100
    assert float(state.cycle_s) == pytest.approx(0.1)


def test_six_megabyte_payload_caps_large_records() -> None:
    cap = effective_batch_size(10_000, 100_000)
    assert cap == quotas.ESM_MAX_PAYLOAD_BYTES // 100_000


def test_light_load_waits_for_the_one_second_poll() -> None:
    state = steady_state(0.5, 400, 100, 0, (50.0, 0.5, 0.0), ReadPath.shared(1))
    assert 0.9 < float(state.e2e_p99_s) < 1.2


def test_model_evaluates_many_configurations_at_once() -> None:
    rates = np.array([10.0, 100.0, 1_000.0])
    state = steady_state(rates, 400, np.array([100, 500, 10_000]), 0, (20.0, 0.2, 0.0), BUSY)
    assert state.e2e_p99_s.shape == (3,)


def test_more_consumers_slow_the_shared_poll() -> None:
    one, five = ReadPath.shared(1), ReadPath.shared(5)
    assert one.poll_busy_s == pytest.approx(0.2)
    assert five.poll_busy_s == pytest.approx(1.0)
    assert ReadPath.efo().delivery_s == pytest.approx(0.07)
