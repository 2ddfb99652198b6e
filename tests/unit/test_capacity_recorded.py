"""Recorded arrivals saved with a run and read back for re-prediction."""

import math

import numpy as np

from capacity.recorded import RecordedArrivals, stall_gap_s


def test_a_saved_lane_mask_keeps_the_lane_when_records_share_arrival_times() -> None:
    # Given a shard whose PutRecords calls gave 3 records at t=1 (1 of them the lane's) and 2 at t=2 (both)
    recorded = RecordedArrivals("s", 1, np.array([1.0, 2.0, 2.0]), np.array([2.0, 1.0, 1.0, 2.0, 1.0]))
    # When it is saved as a mask and read back, Then the lane has its 3 records, not all 5
    mask = recorded.lane_mask()
    assert mask.sum() == 3
    again = RecordedArrivals.from_mask(np.sort(recorded.shard_epoch_s), mask)
    assert again.lane_epoch_s.tolist() == [1.0, 2.0, 2.0]
    assert again.shard_epoch_s.tolist() == [1.0, 1.0, 1.0, 2.0, 2.0]


def test_a_gap_longer_than_the_producers_call_interval_is_a_stall_when_calls_reach_the_shard() -> None:
    # Given a shard that got 100 records/s for 10 s from 4 producers calling every 0.25 s (~6 per call)
    times = np.linspace(0.0, 10.0, 1_000)
    busy = RecordedArrivals("s", 0, times, times)
    # Then a gap longer than one call interval means the calls were held up
    assert stall_gap_s(busy, 4, 0.25) == 0.25
    # But at 2 records/s a call usually puts nothing on the shard, and a gap may be real
    sparse = RecordedArrivals("s", 0, times[::50], times[::50])
    assert math.isinf(stall_gap_s(sparse, 4, 0.25))
    # And without paced producers there is no call interval to judge by
    assert math.isinf(stall_gap_s(busy, 0, 0.25))
