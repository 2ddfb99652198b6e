"""A resharding path between two shard counts that UpdateShardCount accepts.

Each call may at most double or at least halve the shard count, and a stream takes at most
RESHARD_CALLS_PER_24H calls per rolling 24 hours, so a path longer than that spans several days.
"""

from __future__ import annotations

import math

from capacity import quotas
from capacity.errors import CapacityError


def resharding_path(current_shards: int, target_shards: int) -> list[dict[str, int]]:
    """The fewest UpdateShardCount calls from current to target: [{from_shards, to_shards}, ...]."""
    if current_shards < 1 or target_shards < 1:
        raise CapacityError(f"shard counts must be >= 1 (got {current_shards} -> {target_shards})")
    steps: list[dict[str, int]] = []
    shards = current_shards
    while shards != target_shards:
        if target_shards > shards:
            following = min(target_shards, math.floor(shards * quotas.RESHARD_MAX_UP_FACTOR))
        else:
            following = max(target_shards, math.ceil(shards * quotas.RESHARD_MIN_DOWN_FACTOR))
        steps.append({"from_shards": shards, "to_shards": following})
        shards = following
    return steps


def minimum_hours(path: list[dict[str, int]]) -> float:
    """Earliest completion of a path under the calls-per-24-hours limit (ignoring each call's duration)."""
    if len(path) <= quotas.RESHARD_CALLS_PER_24H:
        return 0.0
    return 24.0 * ((len(path) - 1) // quotas.RESHARD_CALLS_PER_24H)
