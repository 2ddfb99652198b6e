"""Drive the handler the way Lambda's Kinesis event source does, in-process: per-shard batches in order,
a function error re-delivers the whole batch, batchItemFailures re-deliver from the lowest failed sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.local.faults import FaultPlan, InjectedCrash, parse_faults, with_faults
from pipeline import handler as handler_module
from pipeline.stores import Stores
from tests.support.pipeline_events import PIPELINE_CONFIG, kinesis_event

Event = dict[str, Any]
Handler = Callable[[Event, Any], dict[str, list[dict[str, str]]]]


def shard_batches(payloads: list[bytes], shards: int, batch_size: int) -> list[Event]:
    """Contiguous payload ranges per shard, cut into batches, in round-robin delivery order."""
    per_shard = -(-len(payloads) // shards)
    queues = []
    for s in range(shards):
        part = payloads[s * per_shard : (s + 1) * per_shard]
        shard = f"shardId-{s:012d}"
        queues.append(
            [
                kinesis_event(part[i : i + batch_size], s * per_shard + i, shard)
                for i in range(0, len(part), batch_size)
            ]
        )
    return [queue[k] for k in range(max(map(len, queues))) for queue in queues if k < len(queue)]


def deliver(handler: Handler, event: Event, max_attempts: int = 300, *, bisect: bool = False) -> int:
    """Invoke until the batch succeeds; returns the number of invocations. Raises if it never drains.

    With `bisect` a function error splits the batch in two halves delivered in turn (each retried the
    same way), as BisectBatchOnFunctionError does; without it the whole batch is retried."""
    pending = event["Records"]
    for attempt in range(1, max_attempts + 1):
        try:
            response = handler({"Records": pending}, None)
        except InjectedCrash:
            if bisect and len(pending) > 1:
                middle = len(pending) // 2
                return attempt + sum(
                    deliver(handler, {"Records": half}, max_attempts, bisect=True)
                    for half in (pending[:middle], pending[middle:])
                )
            continue  # a function error (crash, timeout): Lambda retries the whole batch
        failures = response["batchItemFailures"]
        if not failures:
            return attempt
        lowest = min(int(f["itemIdentifier"]) for f in failures)
        pending = [r for r in pending if int(r["kinesis"]["sequenceNumber"]) >= lowest]
    raise AssertionError(f"batch did not drain in {max_attempts} invocations")


def deliver_with_faults(
    events: list[Event], stores: Stores, spec: str = "", seed: int = 0, *, bisect: bool = False
) -> tuple[int, FaultPlan]:
    """The real handler over `stores` with the faults `spec` injected (none when empty): every event
    delivered and re-delivered as Lambda would, in order. Returns (invocations, the plan: what fired)."""
    plan = parse_faults(spec, seed=seed)
    handler_module.configure(PIPELINE_CONFIG, with_faults(stores, plan))
    try:
        invocations = sum(deliver(handler_module.handler, event, bisect=bisect) for event in events)
    finally:
        handler_module._processor = None
    return invocations, plan
