"""The state fold, the set cap, tokens: the pieces the idempotency and privacy arguments rest on."""

from __future__ import annotations

import pytest

from pipeline.constants import ENV_FRAUD_TOKEN_KEY
from pipeline.fraud.errors import RulesConfigError
from pipeline.fraud.state import Contribution, InMemoryStateStore, WindowKey, capped, fold, position
from pipeline.fraud.tokens import SubscriberTokenizer

KEY = WindowKey("tok", 60, 0)


def _contribution(seq: int, member: str = "m", source: str = "s") -> Contribution:
    return Contribution(source, position(seq), {"r.calls": 1}, {"r.b": (member,)})


def test_positions_compare_like_the_sequence_numbers() -> None:
    small, large = "49590338271490256608559692538361571095921575989136588802", "9" * 10

    assert (position(small) > position(large)) == (int(small) > int(large))


def test_fold_skips_records_at_or_below_the_watermark() -> None:
    change = fold([_contribution(i) for i in range(1, 6)], {"s": position(3)})

    assert change.counters == {"r.calls": 2}
    assert change.max_positions == {"s": position(5)}


def test_fold_of_a_fully_applied_batch_is_empty() -> None:
    assert fold([_contribution(1), _contribution(2)], {"s": position(2)}).empty


def test_fold_judges_each_source_by_its_own_watermark() -> None:
    change = fold([_contribution(5, source="a"), _contribution(5, source="b")], {"a": position(9)})

    assert change.counters == {"r.calls": 1}
    assert change.max_positions == {"b": position(5)}


def test_capped_stops_adding_once_the_cap_is_reached() -> None:
    assert capped({"a", "b"}, current_size=10, cap=10) == set()
    assert len(capped({str(i) for i in range(50)}, current_size=0, cap=10)) == 10


def test_store_set_never_exceeds_twice_the_cap() -> None:
    store = InMemoryStateStore()
    for batch in range(5):
        contributions = [_contribution(batch * 100 + i, f"{batch}-{i}") for i in range(30)]
        state = store.apply(KEY, contributions, {"r.b": 16}, 0)

    assert 16 <= len(state.members("r.b")) <= 32
    assert state.count("r.calls") == 150


def test_store_keeps_one_watermark_per_source() -> None:
    store = InMemoryStateStore()

    store.apply(KEY, [_contribution(5, source="shard-a")], {"r.b": 8}, 0)
    state = store.apply(KEY, [_contribution(1, source="shard-b")], {"r.b": 8}, 0)

    assert state.count("r.calls") == 2


def test_alert_claim_is_granted_once_until_released() -> None:
    store = InMemoryStateStore()

    claims = [store.claim_alert(KEY, "r", 0), store.claim_alert(KEY, "r", 0)]
    store.release_alert(KEY, "r")

    assert claims == [True, False]
    assert store.claim_alert(KEY, "r", 0)


def test_token_is_stable_keyed_and_not_the_number() -> None:
    one, other = SubscriberTokenizer(b"k" * 32), SubscriberTokenizer(b"j" * 32)

    token = one.token("+447700900001")

    assert token == one.token("+447700900001") and len(token) == 24
    assert token != other.token("+447700900001")
    assert "447700900001" not in token


def test_short_key_is_refused_with_the_fix() -> None:
    with pytest.raises(RulesConfigError, match="at least 16"):
        SubscriberTokenizer(b"short")


def test_missing_key_in_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_FRAUD_TOKEN_KEY, raising=False)

    with pytest.raises(RulesConfigError, match=ENV_FRAUD_TOKEN_KEY):
        SubscriberTokenizer.from_env()
