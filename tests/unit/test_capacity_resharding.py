import itertools

import pytest

from capacity import quotas
from capacity.resharding import minimum_hours, resharding_path


@pytest.mark.parametrize(("current", "target"), [(4, 100), (100, 4), (3, 7), (1, 1_000), (50, 50), (7, 5)])
def test_every_call_at_most_doubles_or_halves(current: int, target: int) -> None:
    path = resharding_path(current, target)
    for step in path:
        assert step["to_shards"] <= step["from_shards"] * quotas.RESHARD_MAX_UP_FACTOR
        assert step["to_shards"] >= step["from_shards"] * quotas.RESHARD_MIN_DOWN_FACTOR
    assert (path[-1]["to_shards"] if path else current) == target
    assert all(a["to_shards"] == b["from_shards"] for a, b in itertools.pairwise(path))


def test_doubling_path_uses_the_fewest_calls() -> None:
    assert [step["to_shards"] for step in resharding_path(4, 100)] == [8, 16, 32, 64, 100]


def test_path_longer_than_the_daily_call_limit_spans_days() -> None:
    path = resharding_path(1, 2**12)
    assert len(path) == 12
    assert minimum_hours(path) == 24.0
    assert minimum_hours(resharding_path(4, 100)) == 0.0
