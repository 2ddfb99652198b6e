"""The invariant on the real local stack (emulator + limits proxy + ESM runtime + real handler), with
injected handler faults, the ESM runtime SIGKILLed and restarted, and the emulator paused and restarted
mid-run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.emulator import pid_alive
from infra.local.stack import LocalStack, StackInfo
from tests.support import reliability_stack as rs
from tests.support.local_esm_harness import wait_for


@pytest.fixture
def faulty_stack(tmp_path: Path) -> Iterator[tuple[LocalStack, StackInfo]]:
    # persist_emulator: so the emulator can be restarted mid-run with its streams and tables
    with rs.faulty_stack(tmp_path / "state", seed=3, persist_emulator=True) as stack:
        yield stack


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
