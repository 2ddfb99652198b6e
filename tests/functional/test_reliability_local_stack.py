"""The invariant on the real local stack (emulator + limits proxy + ESM runtime + real handler), with
injected handler faults, the ESM runtime SIGKILLed and restarted, and the emulator paused and restarted
mid-run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.emulator import pid_alive
from infra.local.faults import ENV_FAULT_INJECTION, ENV_FAULTS, ENV_FAULTS_SEED
from infra.local.stack import LocalStack, LocalStackConfig, StackInfo
from tests.support import reliability_stack as rs
from tests.support.local_esm_harness import wait_for
from tests.support.local_stack import two_free_ports

EVERY_FAULT = (
    "crash_before_apply:0.05,crash_after_apply:0.05,crash_before_emit:0.05,crash_after_emit:0.05,"
    "timeout:0.02,dynamo_throttle:0.05,output_throttle:0.05,s3_error:0.05,dlq_error:0.05"
)


@pytest.fixture
def faulty_stack(tmp_path: Path) -> Iterator[tuple[LocalStack, StackInfo]]:
    local = LocalStack(tmp_path / "state")
    config = LocalStackConfig(
        shards=2,
        batch_size=50,
        port=two_free_ports(),
        max_retries=-1,  # retry until it works: a discarded batch would be a loss, not a fault tolerated
        max_record_age_s=-1,
        concurrency_limit=4,
        persist_emulator=True,  # so the emulator can be restarted mid-run with its streams and tables
        handler_env={
            **rs.HANDLER_TIME_ENV,
            ENV_FAULT_INJECTION: "1",
            ENV_FAULTS: EVERY_FAULT,
            ENV_FAULTS_SEED: "3",
        },
    )
    info = local.up(config)
    try:
        yield local, info
    finally:
        if local.status() is not None:
            local.down()


def test_invariant_holds_through_faults_an_esm_sigkill_an_emulator_pause_and_restart(
    faulty_stack: tuple[LocalStack, StackInfo],
) -> None:
    local, info = faulty_stack
    first, second = rs.known_load(300), rs.known_load(200, first=10_000, with_bad=False)
    third = rs.known_load(200, first=20_000, with_bad=False)
    truth = rs.truth_of(first + second + third, info)
    # Given a faulty handler consuming the first half of a known load
    rs.put_all(info, first)
    time.sleep(2.0)  # let it get into the middle of it
    # When the ESM runtime is SIGKILLed mid-run and restarted on its checkpoints
    old_esm = info.pids["esm"]
    rs.kill_esm(info)
    wait_for(lambda: not pid_alive(old_esm), deadline_s=10)
    info = rs.restart_esm(local)
    # And the emulator stops answering for 3 s while the second half arrives
    rs.put_all(info, second)
    rs.pause_emulator(info, 3.0)
    # And the emulator is stopped and started again (state saved and reloaded) while the handler works
    old_emulator = info.pids["emulator"]
    info = local.restart_emulator()
    assert info.pids["emulator"] != old_emulator and not pid_alive(old_emulator)
    rs.put_all(info, third)
    # Then, once drained, every CDR is accounted for exactly once
    report = rs.wait_until_verified(info, truth)
    assert report.ok, report.text()
    # And the faults really happened: invocations failed or partially failed and were retried
    assert rs.failed_invocations(info) > 0
