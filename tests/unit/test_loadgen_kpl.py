import hashlib

import pytest

from loadgen.kpl import MAGIC, aggregate, aggregate_batch, corrupt
from loadgen.synth import CdrSynthesizer, SynthConfig


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes):
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        if tag & 7 == 0:
            value, pos = _varint(data, pos)
        else:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        yield tag >> 3, value


def deaggregate(record: bytes) -> list[tuple[str, bytes]]:
    """A reference de-aggregator written from the KPL format description (independent of loadgen.kpl)."""
    assert record[:4] == MAGIC
    body, digest = record[4:-16], record[-16:]
    assert hashlib.md5(body).digest() == digest
    keys, out = [], []
    for number, value in _fields(body):
        if number == 1:
            keys.append(value.decode())
        elif number == 3:
            inner = dict(_fields(value))
            out.append((inner[1], inner[3]))
    return [(keys[index], data) for index, data in out]


def test_an_aggregate_holds_every_payload_with_its_key():
    batch = CdrSynthesizer(SynthConfig(subscribers=1_000), seed=1).batch_with_keys(50)
    record = aggregate(batch.payloads, batch.partition_keys)
    assert deaggregate(record) == list(zip(batch.partition_keys, batch.payloads, strict=True))


def test_batches_are_split_by_count_and_keyed_by_their_first_record():
    batch = CdrSynthesizer(SynthConfig(subscribers=1_000), seed=1).batch_with_keys(250)
    aggregates, keys, counts = aggregate_batch(batch.payloads, batch.partition_keys, 100)
    assert counts == [100, 100, 50]
    assert keys == [batch.partition_keys[0], batch.partition_keys[100], batch.partition_keys[200]]
    assert [p for a in aggregates for _, p in deaggregate(a)] == batch.payloads


def test_a_corrupted_aggregate_fails_its_checksum():
    record = corrupt(aggregate([b"x"], ["k"]))
    with pytest.raises(AssertionError):
        deaggregate(record)
