"""The local ESM runtime with Lambda's CPU share of memory (`cpu_share_of_memory`): a CPU-bound handler at
442 MB (a quarter of a core) takes at least about four times its CPU time in wall time. No timed assertion
on the host's speed: the ratio of CPU to wall time is bounded from above only (a slow host lowers it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.emulator import EmulatorProcess
from tests.support.local_esm_harness import StreamFixture, running, stream_fixture, wait_for

MEMORY_MB = 442  # 442 / 1,769 = 0.25 of a core
UPPER_BAND = 1.5  # the handler may get at most 1.5 x its share


@pytest.fixture
def stream(emulator: EmulatorProcess, tmp_path: Path) -> Iterator[StreamFixture]:
    with stream_fixture(emulator, tmp_path) as fixture:
        yield fixture


def test_a_cpu_bound_handler_runs_at_the_memorys_share_of_a_core(stream: StreamFixture) -> None:
    # Given the runtime giving its worker Lambda's CPU share of 442 MB
    config = stream.config("burn_cpu", memory_mb=MEMORY_MB, cpu_share_of_memory=True, batch_size=1)
    with running(config) as runtime:
        assert runtime.pool is not None and runtime.pool.limiter_kind != "none"
        # When three records each make the handler spin for 0.3 s of CPU
        stream.put([(f"key-{i}", b"x") for i in range(3)])
        wait_for(lambda: len(stream.invocations()) >= 3, deadline_s=60.0)
    # Then each took at least about four times that in wall time
    for invocation in stream.invocations():
        fraction = invocation["cpu_s"] / invocation["wall_s"]
        assert 0 < fraction <= 0.25 * UPPER_BAND, f"{fraction:.2f} of a core"
