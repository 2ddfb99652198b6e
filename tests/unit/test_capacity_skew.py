import numpy as np
import pytest

from capacity import skew
from capacity.errors import CapacityError


def test_uniform_keys_spread_evenly_over_shards_and_lanes() -> None:
    shares = skew.uniform().lane_shares(shards=4, parallelization_factor=5)
    assert shares.shape == (4, 5)
    assert np.allclose(shares, 1 / 20)


def test_lane_shares_always_sum_to_one() -> None:
    keys = skew.zipf(1.1, distinct_keys=10_000, head_keys=500)
    assert keys.lane_shares(7, 3).sum() == pytest.approx(1.0)


def test_a_single_hot_key_cannot_be_helped_by_more_shards() -> None:
    # Given one key with 30% of the traffic
    keys = skew.hot_key(0.3)
    # When the stream has ever more shards, Then the hottest shard never carries less than that key
    for shards in (1, 10, 100, 1_000):
        assert keys.max_shard_share(shards) >= 0.3
    assert keys.max_shard_share(1_000) == pytest.approx(0.3, abs=0.001)


def test_parallelization_factor_cannot_split_a_hot_key_either() -> None:
    keys = skew.hot_key(0.3)
    assert keys.max_lane_share(10, 10) >= 0.3


def test_parallelization_factor_keeps_each_key_on_one_lane() -> None:
    # Given measured counts of three keys, When spread over lanes
    keys = skew.from_counts({"a": 10, "b": 20, "c": 70})
    shares = keys.lane_shares(shards=1, parallelization_factor=10)
    # Then every key's whole share sits in exactly one lane (per-key order is kept)
    nonzero = sorted(share for share in shares.ravel() if share > 0)
    assert len(nonzero) <= 3
    assert sum(nonzero) == pytest.approx(1.0)
    assert all(
        any(share == pytest.approx(key_share) or share >= key_share for share in nonzero)
        for key_share in (0.1, 0.2, 0.7)
    )


def test_parallelization_factor_raises_lane_count_for_many_keys() -> None:
    keys = skew.uniform()
    assert keys.max_lane_share(2, 10) == pytest.approx(keys.max_shard_share(2) / 10)


def test_same_key_maps_to_same_shard_as_md5_hash_ranges() -> None:
    # MD5("a") starts with 0x0cc1... which is in the first of 4 equal hash ranges (< 0x4000...)
    keys = skew.from_counts({"a": 1})
    assert int(keys.shard_of_head_keys(4)[0]) == 0
    assert int(keys.shard_of_head_keys(16)[0]) == 0  # 0x0c.. / 0x10.. -> range 0


def test_zipf_hottest_key_share_matches_the_closed_form() -> None:
    keys = skew.zipf(1.0, distinct_keys=1_000)
    harmonic = sum(1 / k for k in range(1, 1_001))
    assert keys.hottest_key_share == pytest.approx(1 / harmonic)


def test_bad_shares_are_rejected() -> None:
    with pytest.raises(CapacityError, match=r"within 0\.\.1"):
        skew.hot_key(1.5)
    with pytest.raises(CapacityError, match="empty"):
        skew.from_counts({})
