"""Recorded arrivals saved with a run and read back for re-prediction."""

import numpy as np

from capacity.recorded import RecordedArrivals


def test_a_saved_lane_mask_keeps_the_lane_when_records_share_arrival_times() -> None:
    # Given a shard whose PutRecords calls gave 3 records at t=1 (1 of them the lane's) and 2 at t=2 (both)
    recorded = RecordedArrivals("s", 1, np.array([1.0, 2.0, 2.0]), np.array([2.0, 1.0, 1.0, 2.0, 1.0]))
    # When it is saved as a mask and read back, Then the lane has its 3 records, not all 5
    mask = recorded.lane_mask()
    assert mask.sum() == 3
    again = RecordedArrivals.from_mask(np.sort(recorded.shard_epoch_s), mask)
    assert again.lane_epoch_s.tolist() == [1.0, 2.0, 2.0]
    assert again.shard_epoch_s.tolist() == [1.0, 1.0, 1.0, 2.0, 2.0]
