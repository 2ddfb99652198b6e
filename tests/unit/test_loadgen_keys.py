import hashlib
import itertools

import pytest

from loadgen.keys import (
    HOT_KEY,
    KeyStrategy,
    ShardRange,
    even_shards,
    hash_key,
    overloaded,
    predict_shard_load,
)
from loadgen.synth import CdrSynthesizer, SynthConfig


def test_hash_key_is_the_md5_as_a_128_bit_integer():
    assert hash_key("s42") == int(hashlib.md5(b"s42").hexdigest(), 16)


def test_even_shards_cover_the_hash_space():
    shards = even_shards(3)
    assert shards[0].starting_hash == 0
    assert shards[-1].ending_hash == 2**128 - 1
    assert all(a.ending_hash + 1 == b.starting_hash for a, b in itertools.pairwise(shards))


def test_a_key_lands_in_the_shard_whose_range_holds_its_hash():
    key = "c10001"
    shards = [ShardRange("low", 0, hash_key(key) - 1), ShardRange("high", hash_key(key), 2**128 - 1)]
    loads = predict_shard_load([key], [100], shards, rate_rps=10.0)
    assert [(s.shard_id, s.records_per_s) for s in loads] == [("low", 0.0), ("high", 10.0)]


def test_subscriber_keys_spread_evenly_over_shards():
    batch = CdrSynthesizer(SynthConfig(subscribers=50_000), seed=1).batch_with_keys(20_000)
    loads = predict_shard_load(batch.partition_keys, [len(p) for p in batch.payloads], even_shards(4), 4_000)
    for load in loads:
        assert load.records_per_s == pytest.approx(1_000, rel=0.1)


def test_a_hot_key_overloads_one_shard_and_is_warned_about():
    # Given 40 % of records on one key, 4 shards and 3,000 records/s (750/s per shard if even)
    synth = CdrSynthesizer(SynthConfig(subscribers=50_000), seed=1, key_strategy=KeyStrategy("hot", 0.4))
    batch = synth.batch_with_keys(20_000)
    assert batch.partition_keys.count(HOT_KEY) == pytest.approx(8_000, rel=0.05)
    loads = predict_shard_load(batch.partition_keys, [len(p) for p in batch.payloads], even_shards(4), 3_000)
    # Then the hot key's shard is predicted over 1,000 records/s and the warning names it
    warnings = overloaded(loads, 1_000, 1024 * 1024)
    assert len(warnings) == 1
    assert "records/s" in warnings[0]


def test_random_and_cell_keys():
    synth = CdrSynthesizer(SynthConfig(subscribers=5_000), seed=1, key_strategy=KeyStrategy("random"))
    keys = synth.batch_with_keys(1_000).partition_keys
    assert len(set(keys)) == 1_000
    synth = CdrSynthesizer(SynthConfig(subscribers=5_000), seed=1, key_strategy=KeyStrategy("cell"))
    assert all(k.startswith("c") for k in synth.batch_with_keys(100).partition_keys)


def test_unknown_strategy_names_the_choices():
    with pytest.raises(Exception, match=r"subscriber.*cell.*random.*hot"):
        KeyStrategy("imsi")
