"""Property: under any Kinesis-like re-delivery pattern, every record is counted exactly once.

A delivery presents, per lane, a contiguous run of records starting at or before the lane's checkpoint
(Kinesis never skips ahead of it) and ending anywhere after; runs of several lanes interleave in one batch.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.fraud.state import Contribution, InMemoryStateStore, WindowKey, position

KEY = WindowKey("tok", 60, 0)
RECORDS_PER_LANE = 30


@st.composite
def deliveries(draw: st.DrawFn) -> list[list[tuple[str, int]]]:
    lanes = draw(st.lists(st.sampled_from(["s0/a", "s0/b", "s1/a"]), min_size=1, max_size=3, unique=True))
    checkpoint = dict.fromkeys(lanes, 0)
    batches: list[list[tuple[str, int]]] = []
    for _ in range(draw(st.integers(1, 8))):
        batch: list[tuple[str, int]] = []
        for lane in lanes:
            if checkpoint[lane] >= RECORDS_PER_LANE or not draw(st.booleans()):
                continue
            start = draw(st.integers(0, checkpoint[lane]))  # a re-delivery may start anywhere before
            end = draw(st.integers(checkpoint[lane] + 1, RECORDS_PER_LANE))
            batch += [(lane, seq) for seq in range(start, end)]
            if draw(st.booleans()):  # the batch succeeded: the checkpoint moves on
                checkpoint[lane] = end
        batches.append(batch)
    # finally every lane is delivered to its end, possibly re-delivering its tail once more
    batches.append([(lane, seq) for lane in lanes for seq in range(checkpoint[lane], RECORDS_PER_LANE)])
    return batches


@settings(max_examples=200, deadline=None)
@given(deliveries())
def test_every_record_counts_exactly_once(batches: list[list[tuple[str, int]]]) -> None:
    store = InMemoryStateStore()
    lanes = {lane for batch in batches for lane, _ in batch}

    for batch in batches:
        contributions = [Contribution(lane, position(seq), {"r.calls": 1}, {}) for lane, seq in batch]
        state = store.apply(KEY, contributions, {}, 0)

    assert state.count("r.calls") == RECORDS_PER_LANE * len(lanes)
