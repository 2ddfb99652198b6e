"""The Locust user that drives CDRs into Kinesis, and the per-process state its users share.

One synthesizer, one producer (one connection pool) and one recorder per process. Each PutRecords call
fires ONE Locust request event (response_length = CDRs accepted; context = the counts). With
`aggregation = "kpl"` each user's send is one buffering window of CDRs, packed per shard into KPL
aggregates (loadgen/kpl.py) and flushed at the window's end. Workers ship their per-second measurements to
the master, which writes `<run_dir>/data/`.
"""

from __future__ import annotations

import os
import time
from typing import Any

import gevent
import gevent.lock
from locust import User, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from infra.aws import client
from infra.schema_registry import register_cdr_schema
from loadgen.keys import open_shards
from loadgen.kpl import KplPacker
from loadgen.measure import LoadRecorder, write_live
from loadgen.options import LoadOptions
from loadgen.pacing import Pacer
from loadgen.producer import CallResult, KinesisProducer, PutOutcome, RetryPolicy
from loadgen.synth import CdrSynthesizer
from loadgen.synth.labels import LABELS_DIR
from pipeline.avro_cdr import AvroEncoder

SECONDS_MESSAGE = "cdr_seconds"
FLUSH_INTERVAL_S = 1.0
LIVE_INTERVAL_S = 2.0
IDLE_S = 0.5
MAX_CDRS_PER_FLUSH = 50_000  # kpl: one user's buffer, bounded when it has to catch up


class EntriesRejected(Exception):
    """Some entries of a PutRecords call were not accepted (throttled or failed); counts in the context."""


class ProcessState:
    """What the users of one Locust process share."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.options = LoadOptions.from_parsed(environment.parsed_options)
        runner = environment.runner
        index = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        self.seed = self.options.seed * 1_000 + index
        labels_path = self.options.run_dir / LABELS_DIR / f"labels-{index}-{os.getpid()}.csv"
        self.synth = CdrSynthesizer(
            self.options.synth,
            self.seed,
            labels_path=labels_path,
            key_strategy=self.options.key_strategy,
            run_tag=run_tag(self.start_epoch_s()),
            avro_encoder=self._avro_encoder(),
        )
        self.producer = KinesisProducer(
            self.options.target,
            self.options.stream,
            transport=self.options.transport,
            retry=RetryPolicy(max_attempts=self.options.max_attempts),
            on_call=self._fire,
            sleep=gevent.sleep,
            seed=self.seed,
        )
        self.packer = self._packer()
        self.recorder = LoadRecorder()
        self.offered = 0
        self.users_started = 0  # spreads the users' call phases (Pacer)

    def _avro_encoder(self) -> AvroEncoder | None:
        """avro: the CDR v2 schema's version id, looked up (or registered) once per process."""
        options = self.options
        if options.synth.avro_share <= 0:
            return None
        glue = client(options.target, "glue", retries=3)
        return AvroEncoder(register_cdr_schema(glue, options.schema_registry, version=2), version=2)

    def _packer(self) -> KplPacker | None:
        """kpl: a packer over the stream's shard map (read once; a reshard mid-run only costs ordering)."""
        options = self.options
        if options.aggregation != "kpl":
            return None
        shards = open_shards(client(options.target, "kinesis", retries=2), options.stream)
        return KplPacker(shards, options.aggregation_max_bytes)

    def put(self, payloads: list[bytes], partition_keys: list[str], outcome: PutOutcome) -> None:
        if self.packer is None:
            self.producer.put(payloads, partition_keys, outcome=outcome)
            return
        packed = self.packer.pack(payloads, partition_keys)
        self.producer.put(packed.payloads, packed.partition_keys, outcome=outcome, cdrs=packed.cdrs)

    def _fire(self, call: CallResult) -> None:
        rejected = call.throttled + call.failed
        self.environment.events.request.fire(
            request_type="Kinesis",
            name="PutRecords" if call.attempt == 0 else "PutRecords (retry)",
            response_time=call.latency_ms,
            response_length=call.cdrs_settled,
            exception=EntriesRejected(call.error or ("throttled" if call.throttled else "failed"))
            if rejected
            else None,
            context={
                "cdrs": call.cdrs_sent,
                "offered": call.records,
                "throttled": call.throttled,
                "failed": call.failed,
                "attempt": call.attempt,
            },
        )

    def start_epoch_s(self) -> float:
        return float(getattr(self.environment.parsed_options, "cdr_t0_epoch_s", 0.0) or time.time())


_state: ProcessState | None = None


def run_tag(start_epoch_s: float) -> str:
    """A short tag of the run's start (base 36 seconds), the same on every worker of the run."""
    value, digits = int(start_epoch_s), ""
    while value:
        value, digit = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
    return digits or "0"


# Building the state yields to other greenlets (the Glue schema lookup, the KPL shard map): without the lock a
# second user starting meanwhile built its own, with the same seed: the same CDRs twice and two label headers.
_state_lock = gevent.lock.Semaphore()


def state(environment: Environment) -> ProcessState:
    global _state
    with _state_lock:
        if _state is None or _state.environment is not environment:
            _state = ProcessState(environment)
    return _state


class KinesisCdrUser(User):
    """Sends its share of the profile's records/s on an open-model schedule."""

    def on_start(self) -> None:
        shared = state(self.environment)
        self.shared = shared
        shared.users_started += 1
        self.pacer = Pacer(
            shared.options.profile,
            shared.options.users,
            shared.start_epoch_s(),
            MAX_CDRS_PER_FLUSH if shared.packer else shared.options.batch_size,
            phase=shared.users_started / max(shared.options.users, 1),
            buffered_s=shared.options.max_buffered_ms / 1000 if shared.packer else 0.0,
        )
        self.record_cap = -(-shared.options.max_records // max(shared.options.users, 1))
        self.offered = 0

    @task
    def send(self) -> None:
        shared = self.shared
        send = self.pacer.next_send(time.time())
        if send is None or self.offered >= self.record_cap:
            # Idle until the shape ends the test: a stopped user could be respawned by the runner.
            gevent.sleep(IDLE_S)
            return
        records = min(send.records, self.record_cap - self.offered)
        # A buffering producer flushes at the end of its window: the buffering delay is really spent.
        delay_s = send.intended_epoch_s + send.window_s - time.time()
        if delay_s > 0:
            gevent.sleep(delay_s)
        started = time.time()
        batch = shared.synth.batch_with_keys(records, at_epoch_s=started)
        outcome = PutOutcome()
        self.offered += records
        try:
            shared.put(batch.payloads, batch.partition_keys, outcome)
        finally:
            # Recorded even when the stop interrupts the put: what was not settled counts as dropped.
            elapsed = send.intended_epoch_s - self.pacer.start_epoch_s
            shared.recorder.record(
                send.intended_epoch_s,
                outcome,
                started_epoch_s=started - send.window_s,  # the lag behind the flush's due time
                finished_epoch_s=time.time(),
                target_rps=self.pacer.profile.rate_at(elapsed),
                step=self.pacer.profile.step_at(elapsed),
            )


# ----- process-level wiring: start time, worker -> master measurements, files at the end -----


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        gevent.spawn(_ship_seconds, environment)
    else:
        # Set before the spawn messages go out: workers receive it with the master's parsed options.
        parsed: Any = environment.parsed_options
        parsed.cdr_t0_epoch_s = time.time() + 0.5
        gevent.spawn(_write_live, environment)


def _write_live(environment: Environment) -> None:
    """Keep data/load_live.json current so `cdrcap run` can show offered/accepted/throttled as it goes."""
    run_dir = LoadOptions.from_parsed(environment.parsed_options).run_dir
    while True:
        gevent.sleep(LIVE_INTERVAL_S)
        recorder: LoadRecorder | None = getattr(environment, "cdr_recorder", None)
        if recorder is None and _state is not None:
            recorder = _state.recorder
        if recorder is not None:
            write_live(recorder, run_dir / "data")


def _ship_seconds(environment: Environment) -> None:
    while True:
        gevent.sleep(FLUSH_INTERVAL_S)
        if _state is not None and environment.runner is not None:
            messages = _state.recorder.drain(before_epoch_s=time.time() - 2)
            if messages:
                environment.runner.send_message(SECONDS_MESSAGE, {"seconds": messages})


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        if _state is not None:
            environment.runner.send_message(SECONDS_MESSAGE, {"seconds": _state.recorder.drain()})
            _state.synth.close()
    elif isinstance(environment.runner, MasterRunner):
        # Web UI runs stop without quitting: write once the workers' last seconds have arrived
        # (written again, complete, when the master quits).
        gevent.spawn_later(3.0, write_results, environment)
    else:
        write_results(environment)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        master_recorder = LoadRecorder()
        environment.cdr_recorder = master_recorder  # type: ignore[attr-defined]
        environment.runner.register_message(
            SECONDS_MESSAGE, lambda msg, **__: master_recorder.merge(msg.data["seconds"])
        )


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        write_results(environment)


def write_results(environment: Environment) -> None:
    options = LoadOptions.from_parsed(environment.parsed_options)
    recorder: LoadRecorder | None = getattr(environment, "cdr_recorder", None)
    if recorder is None:
        recorder = _state.recorder if _state is not None else LoadRecorder()
        if _state is not None:
            _state.synth.close()
    profile = options.profile
    recorder.write(
        options.run_dir / "data",
        {
            "profile": {
                "shape": profile.shape,
                "rate_rps": profile.rate_rps,
                "duration_s": profile.duration_s,
                "steps": [step.__dict__ for step in profile.step_table()],
                "users": options.users,
                "batch_size": options.batch_size,
                "partition_key": options.key_strategy.kind,
                "aggregation": options.aggregation,
                "max_buffered_ms": options.max_buffered_ms if options.aggregation != "none" else None,
                "aggregation_max_bytes": options.aggregation_max_bytes
                if options.aggregation != "none"
                else None,
            },
            "stream": options.stream,
            "start_epoch_s": getattr(environment.parsed_options, "cdr_t0_epoch_s", None),
        },
    )
