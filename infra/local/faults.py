"""Test-only fault injection around the pipeline's store interfaces: crashes, timeouts, throttling, S3 errors.

Harness code: it wraps the handler from outside the Lambda package. The local runtime's worker calls
`install_from_env` after importing the handler when `CDRCAP_FAULT_INJECTION=1` is in the function's
environment (infra/local/esm/worker.py); tests call `configure_handler` or `with_faults` directly. The
template never sets either variable and the zip holds no fault code.
Spec: `CDRCAP_FAULTS="crash_after_apply:0.2,dynamo_throttle:0.1"` (point:probability per call),
`CDRCAP_FAULTS_SEED` makes a run repeatable. Each point names where the invocation dies or what fails:

  crash_before_apply   the handler dies before an aggregate transaction (nothing of the chunk written)
  crash_after_apply    it dies right after a transaction committed (aggregates written, nothing emitted)
  crash_before_emit    it dies before the output-stream put (aggregates written)
  crash_after_emit     it dies after the output-stream put, before archive and DLQ
  timeout              the invocation is cut at any store call (Lambda's timeout: a whole-batch failure)
  dynamo_throttle      a transaction stays throttled after the SDK's retries (TransientStoreError)
  output_throttle      every record of an output put fails (ProvisionedThroughputExceeded after retries)
  s3_error             the archive put fails (TransientStoreError)
  dlq_error            every message of a DLQ send fails
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

from infra.errors import InfraError

# pipeline is imported inside the functions, never at module level: a local runtime worker imports this
# module from the project before it switches to the function's task root, and the pipeline it wraps must
# be the one from the task root (infra/lambda_env.py).
if TYPE_CHECKING:
    from pipeline.aggregate import Claim, ItemKey
    from pipeline.stores import AggregateStore, ApplyResult, Archive, DeadLetterQueue, OutputStream, Stores

ENV_FAULT_INJECTION = "CDRCAP_FAULT_INJECTION"
ENV_FAULTS = "CDRCAP_FAULTS"
ENV_FAULTS_SEED = "CDRCAP_FAULTS_SEED"
CRASH_POINTS = ("crash_before_apply", "crash_after_apply", "crash_before_emit", "crash_after_emit")
FAILURE_POINTS = ("dynamo_throttle", "output_throttle", "s3_error", "dlq_error")
POINTS = (*CRASH_POINTS, "timeout", *FAILURE_POINTS)


class FaultSpecError(InfraError, ValueError):
    """CDRCAP_FAULTS or CDRCAP_FAULTS_SEED is malformed; the message names the bad part and the fix."""


class InjectedCrash(Exception):
    """The invocation dies here: Lambda sees a function error and re-delivers the whole batch."""


class InjectedTimeout(InjectedCrash):
    """The invocation ran out of time here."""


@dataclass
class FaultPlan:
    rates: dict[str, float]
    seed: int = 0
    fired: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def fires(self, point: str) -> bool:
        rate = self.rates.get(point, 0.0)
        if rate <= 0.0 or self._rng.random() >= rate:
            return False
        self.fired[point] = self.fired.get(point, 0) + 1
        return True

    def crash_if(self, point: str) -> None:
        if self.fires(point):
            raise InjectedCrash(point)
        if self.fires("timeout"):
            raise InjectedTimeout(f"timeout at {point}")


def parse_faults(spec: str, seed: int = 0) -> FaultPlan:
    """The plan of `point:rate,...`; FaultSpecError names the bad part and the valid points."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        point, _, rate_text = part.partition(":")
        if point not in POINTS:
            raise FaultSpecError(f"{ENV_FAULTS}: unknown point {point!r}: use one of {', '.join(POINTS)}.")
        try:
            rate = float(rate_text)
        except ValueError:
            raise FaultSpecError(f"{ENV_FAULTS}: {part!r} needs a probability, e.g. {point}:0.1.") from None
        if not 0.0 <= rate <= 1.0:
            raise FaultSpecError(f"{ENV_FAULTS}: {part!r}: the probability must be within 0..1.")
        rates[point] = rate
    return FaultPlan(rates, seed)


def plan_from_env(env: Mapping[str, str] | None = None) -> FaultPlan | None:
    """The fault plan, or None unless CDRCAP_FAULT_INJECTION=1 (the production default)."""
    env = os.environ if env is None else env
    if env.get(ENV_FAULT_INJECTION, "").strip() != "1":
        return None
    seed_text = env.get(ENV_FAULTS_SEED, "0").strip() or "0"
    if not seed_text.isdigit():
        raise FaultSpecError(f"{ENV_FAULTS_SEED}={seed_text!r} is not a whole number: set e.g. 7.")
    return parse_faults(env.get(ENV_FAULTS, ""), int(seed_text))


def configure_handler(handler_module: ModuleType, plan: FaultPlan) -> None:
    """Configure the pipeline handler with the AWS stores it builds itself, wrapped in `plan`'s faults."""
    from pipeline.aws_stores import aws_fraud_engine, aws_stores
    from pipeline.config import load_config

    config = load_config()
    handler_module.configure(config, with_faults(aws_stores(config), plan), aws_fraud_engine(config))


def install_from_env(handler_module: ModuleType, env: Mapping[str, str] | None = None) -> FaultPlan | None:
    """Wrap the handler's stores when the function's environment switches faults on; None when it does not."""
    plan = plan_from_env(env)
    if plan is not None:
        configure_handler(handler_module, plan)
    return plan


def _transient(message: str) -> Exception:
    from pipeline.errors import TransientStoreError

    return TransientStoreError(message)


@dataclass
class FaultyAggregates:
    inner: AggregateStore
    plan: FaultPlan

    @property
    def design(self) -> str:
        return self.inner.design

    def apply(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> ApplyResult:
        self.plan.crash_if("crash_before_apply")
        if self.plan.fires("dynamo_throttle"):
            raise _transient("injected: TransactWriteItems throttled after retries")
        result = self.inner.apply(claims, deltas, expires_at)
        self.plan.crash_if("crash_after_apply")
        return result

    def claim_owners(self, claims: Sequence[Claim]) -> dict[str, str]:
        self.plan.crash_if("claim_owners")
        return self.inner.claim_owners(claims)


@dataclass
class FaultyOutput:
    inner: OutputStream
    plan: FaultPlan

    def put(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        self.plan.crash_if("crash_before_emit")
        if self.plan.fires("output_throttle"):
            return list(range(len(records)))
        failed = self.inner.put(records)
        self.plan.crash_if("crash_after_emit")
        return failed


@dataclass
class FaultyArchive:
    inner: Archive
    plan: FaultPlan

    def put(self, key: str, body: bytes) -> None:
        self.plan.crash_if("archive")
        if self.plan.fires("s3_error"):
            raise _transient(f"injected: PutObject {key} failed (503 SlowDown)")
        self.inner.put(key, body)


@dataclass
class FaultyDeadLetters:
    inner: DeadLetterQueue
    plan: FaultPlan

    def send(self, bodies: Sequence[bytes]) -> list[int]:
        self.plan.crash_if("dlq")
        if self.plan.fires("dlq_error"):
            return list(range(len(bodies)))
        return self.inner.send(bodies)


def with_faults(stores: Stores, plan: FaultPlan) -> Stores:
    from pipeline.stores import Stores

    return Stores(
        FaultyAggregates(stores.aggregates, plan),
        FaultyArchive(stores.archive, plan),
        FaultyOutput(stores.output, plan),
        FaultyDeadLetters(stores.dlq, plan),
    )
