"""Consumer-mode settings of the local stack: validation, CLI mapping, and the EFO byte budget's scale."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import pytest

from capacity.quotas import EFO_READ_BYTES_PER_S_PER_CONSUMER
from cdrcap.commands import up
from infra.local.esm.checkpoints import ShardProgress
from infra.local.esm.config import EsmConfig, EsmConfigError
from infra.local.esm.dispatch import ShardContext
from infra.local.esm.subscriber import ShardSubscriber
from infra.local.stack import PLACEHOLDER_OUTPUTS, LocalStack, LocalStackConfig


def esm_config(**overrides: object) -> EsmConfig:
    settings: dict[str, object] = {
        "stream_name": "s",
        "stream_arn": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
        "function_name": "cdrcap-cdr-processor",
        "kinesis_endpoint_url": "http://127.0.0.1:2",
        "endpoint_url": "http://127.0.0.1:1",
        "state_dir": Path("/tmp/unused"),
        **overrides,
    }
    return EsmConfig(**settings)  # type: ignore[arg-type]


def test_unknown_consumer_mode_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(EsmConfigError, match="use shared or efo"):
        esm_config(consumer_mode="fanout")


def test_other_consumers_are_bounded_by_the_consumers_a_stream_may_have() -> None:
    with pytest.raises(EsmConfigError, match="other_consumers=20"):
        esm_config(other_consumers=20)


def test_efo_consumer_has_the_templates_consumer_name() -> None:
    # infra/pipeline.yaml names its StreamConsumer ${ResourcePrefix}-cdr-processor, the function's name
    assert esm_config().efo_consumer_name == "cdrcap-cdr-processor"


def test_up_flags_select_efo_and_other_consumers() -> None:
    parser = argparse.ArgumentParser()
    up.register(parser)
    args = parser.parse_args(["--consumer-mode", "efo", "--other-consumers", "4"])
    config = up.config_from(args)
    assert (config.consumer_mode, config.other_consumers) == ("efo", 4)


def test_efo_byte_budget_scales_with_the_stack_like_the_shared_limits(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path)
    config = LocalStackConfig(scale=0.1, consumer_mode="efo", other_consumers=2)
    esm = stack._esm_config(config, PLACEHOLDER_OUTPUTS, {}, "http://127.0.0.1:1", "http://127.0.0.1:2")
    assert esm.efo_read_bytes_per_s == pytest.approx(EFO_READ_BYTES_PER_S_PER_CONSUMER * 0.1)
    assert (esm.consumer_mode, esm.other_consumers) == ("efo", 2)
    # 3 consumers share 0.5 calls/s per shard: each polls every 6 s
    assert esm.other_consumer_poll_interval_s == pytest.approx(6.0)


class RecordingStop(threading.Event):
    """A stop event whose waits return at once and are recorded, so the hold-back is seen, not slept."""

    def __init__(self) -> None:
        super().__init__()
        self.waits_s: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits_s.append(float(timeout or 0.0))
        return False


def subscriber(read_bytes_per_s: float) -> tuple[ShardSubscriber, RecordingStop]:
    stop = RecordingStop()
    config = esm_config(consumer_mode="efo", efo_read_bytes_per_s=read_bytes_per_s)
    shard = ShardContext(config, "shardId-000000000000", [], ShardProgress(None), None, stop)  # type: ignore[arg-type]
    return ShardSubscriber(shard, kinesis=None, consumer_arn="arn:consumer"), stop


def test_efo_reader_holds_back_beyond_its_bytes_per_second() -> None:
    # Given a consumer allowed 1,000 bytes/s on the shard (a full bucket holds one second of it)
    reader, stop = subscriber(1_000.0)
    # When one event brings 3,000 bytes
    reader._hold_back(3_000)
    # Then it waits about the 2 s the excess takes at 1,000 bytes/s before handing the records on
    assert sum(stop.waits_s) == pytest.approx(2.0, abs=0.05)


def test_efo_reader_within_its_budget_does_not_wait() -> None:
    reader, stop = subscriber(1_000.0)
    reader._hold_back(800)
    assert stop.waits_s == []
