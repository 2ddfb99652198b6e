"""Hand-built CDRs and a fake-backed engine for the fraud unit tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TypeVar

from pipeline.fraud.alerts import InMemoryAlertSink
from pipeline.fraud.engine import FraudEngine, FraudOutcome
from pipeline.fraud.rules import RuleConfig, RuleSet, load_rules
from pipeline.fraud.state import InMemoryStateStore
from pipeline.fraud.tokens import SubscriberTokenizer
from pipeline.schema import CanonicalCDR, Cell, NumberKind, RecordType

DAY0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: every window length divides into it
HOME_SUBSCRIBER = "+447700900001"
FOREIGN_LURE = "+22507000001"
TEST_KEY = b"unit-test-fraud-token-key-0123456789"
CELL = Cell("234", "15", 100, 1)
_serial = itertools.count(1)
RuleT = TypeVar("RuleT", bound=RuleConfig)


def cdr(
    a_number: str,
    b_number: str,
    at_s: float,
    duration_s: int = 60,
    *,
    record_type: RecordType = RecordType.MOC,
    answered: bool = True,
    a_kind: NumberKind = NumberKind.E164,
    b_kind: NumberKind = NumberKind.E164,
    roaming: bool = False,
    cell: Cell = CELL,
    imei: str | None = None,
) -> CanonicalCDR:
    """A CDR seized `at_s` seconds after DAY0, released `duration_s` later, with only the fields the fraud
    rules read set to something meaningful."""
    seizure_ms = DAY0_MS + int(at_s * 1000)
    serial = next(_serial)
    return CanonicalCDR(
        cdr_id=f"TEST:{serial:09d}:0",
        record_type=record_type,
        a_number_raw=a_number,
        a_number=a_number,
        a_number_kind=a_kind,
        b_number_raw=b_number,
        b_number=b_number,
        b_number_kind=b_kind,
        b_country=None,
        imsi=None,
        imei=imei,
        seizure_utc_ms=seizure_ms,
        answer_utc_ms=seizure_ms if answered else None,
        release_utc_ms=seizure_ms + duration_s * 1000,
        utc_offset_min=0,
        duration_s=duration_s,
        answered=answered,
        cause_for_term=None,
        cell=cell,
        msc_id="TEST",
        call_reference=f"{serial:09d}",
        partial_sequence=0,
        last_partial=True,
        roaming=roaming,
        bytes_up=0,
        bytes_down=0,
        rat=None,
        schema_version=2,
        source_format="synthetic",
    )


def home_number(index: int) -> str:
    return f"+4477009{index:05d}"


def lure_calls(
    count: int, *, first: int = 0, start_s: float = 0, step_s: float = 5, a_number: str = FOREIGN_LURE
) -> list[CanonicalCDR]:
    """Unanswered 2-second calls from `a_number` to distinct home numbers, `step_s` apart."""
    return [
        cdr(
            a_number,
            home_number(first + i),
            start_s + i * step_s,
            2,
            record_type=RecordType.MTC,
            answered=False,
        )
        for i in range(count)
    ]


class Harness:
    """An engine on the in-memory fakes, feeding batches with increasing sequence numbers."""

    def __init__(self, rules: RuleSet | None = None, state: InMemoryStateStore | None = None) -> None:
        self.rules = rules or load_rules()
        self.state = state or InMemoryStateStore()
        self.sink = InMemoryAlertSink()
        self.tokenizer = SubscriberTokenizer(TEST_KEY)
        self.engine = FraudEngine(self.rules, self.state, self.sink, self.tokenizer, home_region="GB")
        self._next_sequence = 1

    def feed(self, cdrs: Sequence[CanonicalCDR], *, batch_id: str | None = None) -> FraudOutcome:
        """One batch from shard 0, sequence numbers continuing from the previous batch."""
        first = self._next_sequence
        self._next_sequence += len(cdrs)
        return self.redeliver(cdrs, first_sequence=first, batch_id=batch_id)

    def redeliver(
        self, cdrs: Sequence[CanonicalCDR], *, first_sequence: int, batch_id: str | None = None
    ) -> FraudOutcome:
        sequences = [str(first_sequence + i) for i in range(len(cdrs))]
        return self.engine.evaluate(
            cdrs,
            batch_id or f"b{first_sequence}",
            shard_id="shardId-000000000000",
            sequence_numbers=sequences,
        )

    def alerts(self, rule_id: str) -> list[str]:
        return [alert.subscriber_token for alert in self.sink.alerts if alert.rule_id == rule_id]

    def token(self, number: str) -> str:
        return self.tokenizer.token(number)

    def config(self, rule_type: type[RuleT]) -> RuleT:
        """The loaded settings of one rule, typed."""
        rule = self.rules.rule(rule_type.rule_id)
        assert isinstance(rule, rule_type)
        return rule
