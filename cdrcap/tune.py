"""`cdrcap tune`'s sweep: for each (memory, architecture), set the deployed function, replay the same CDR
batches as Kinesis events through real invocations, and read what its REPORT lines say.

The batches are the same CDRs for every configuration: synthesised by loadgen's synthesizer from a fixed
seed (a run's profile seed, formats and home region with --from), so only the call references differ (a
per-configuration tag): the pipeline's exactly-once claims would otherwise see the second configuration's
records as duplicates and do less work for them.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from capacity.log_invocations import invocation_rows
from capacity.quotas import US_EAST_1, Prices
from capacity.tuning import TuneRow, TuneTable, host_bound_note, summarise
from infra.local.esm.events import kinesis_event
from infra.power_tuning import TunableFunction
from loadgen.options import format_weights
from loadgen.synth import CdrSynthesizer, SynthConfig

DEFAULT_BATCHES = 20
SMALL_BATCHES = 4  # `--batches small`: a smoke sweep (one cold and three warm invocations each)
DEFAULT_BATCH_SIZE = 100
DEFAULT_SEED = 20
SWEEP_SUBSCRIBERS = 20_000
SEQUENCE_BASE = 49_000_000_000_000_000_000_000_000_000_000_000_000_000  # a Kinesis-like sequence number


@dataclass(frozen=True)
class SweepSource:
    """Where the replayed batches come from, and their size."""

    batch_size: int
    seed: int
    synth: SynthConfig
    description: str
    source_run: str | None = None


def source_from_run(run_dir: Path | None, batch_size: int | None, seed: int | None) -> SweepSource:
    """The run's planned batch size and its load's profile (seed, record formats); else the defaults."""
    if run_dir is None:
        size = batch_size or DEFAULT_BATCH_SIZE
        chosen_seed = DEFAULT_SEED if seed is None else seed
        return SweepSource(
            size,
            chosen_seed,
            SynthConfig(subscribers=SWEEP_SUBSCRIBERS),
            f"synthesised CDRs (loadgen, seed {chosen_seed}), {size}-record batches",
        )
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    profile = (summary.get("config") or {}).get("profile")
    profile = profile if isinstance(profile, dict) else {}  # an older or hand-made summary names it only
    planned = (summary.get("recommendation") or {}).get("batch_size")
    size = int(batch_size or planned or profile.get("batch_size") or DEFAULT_BATCH_SIZE)
    chosen_seed = int(seed if seed is not None else profile.get("seed", DEFAULT_SEED))
    formats = profile.get("record_formats") or {}
    mix = ",".join(f"{name.replace('_', '-')}={share}" for name, share in formats.items())
    synth = SynthConfig(subscribers=SWEEP_SUBSCRIBERS, **format_weights(mix))
    return SweepSource(
        size,
        chosen_seed,
        synth,
        f"run {run_dir.name}'s load re-synthesised (runs keep no input records: seed {chosen_seed}, its "
        f"formats), {size}-record batches ({'the plan' if planned and not batch_size else 'given'})",
        str(run_dir),
    )


def sweep_tag(index: int, now_s: float | None = None) -> str:
    """Letters and digits, unique per sweep and configuration: the call references' prefix."""
    stamp = int(now_s if now_s is not None else time.time())
    return f"tune{np.base_repr(stamp, 36).lower()}c{index:02d}"


def replay_events(
    function: TunableFunction, source: SweepSource, batches: int, tag: str, released_epoch_s: float
) -> tuple[list[bytes], float]:
    """The sweep's events for one configuration (same CDRs released around `released_epoch_s`, this
    configuration's call references), and the mean batch size in KiB of CDR payload."""
    synth = CdrSynthesizer(source.synth, seed=source.seed, run_tag=tag)
    events: list[bytes] = []
    payload_bytes = 0
    for index in range(batches):
        batch = synth.batch_with_keys(source.batch_size, at_epoch_s=released_epoch_s)
        payload_bytes += batch.payload_bytes
        events.append(
            kinesis_event(
                batch.payloads,
                batch.partition_keys,
                function.event_config,
                first_sequence=SEQUENCE_BASE + index * source.batch_size,
            )
        )
    return events, payload_bytes / batches / 1024.0


def _note(problem: str, cpu_share: float, host_cores: float) -> str:
    """What to know about a configuration's numbers: a function error first, else a host-bound share."""
    if problem:
        return f"the function failed: {problem}"
    return host_bound_note(cpu_share, host_cores)


def run_sweep(
    function: TunableFunction,
    memories_mb: tuple[int, ...],
    architectures: tuple[str, ...],
    source: SweepSource,
    batches: int,
    *,
    target: str,
    prices: Prices = US_EAST_1,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[TuneTable, pd.DataFrame]:
    """Every configuration, taking turns batch by batch (a drift of a shared host or of the services lands
    on all alike); returns the table and every invocation's row (with its setting)."""
    settings = [(memory, arch) for arch in architectures for memory in memories_mb]
    host_cores = function.host_cpu_cores()
    configured = [function.configure(memory, arch) for memory, arch in settings]
    started_s = time.time()
    replays: dict[str, list[bytes]] = {}
    batch_kib: list[float] = []
    for index, setting in enumerate(configured):
        if setting.measurable:
            replays[setting.key], kib = replay_events(
                function, source, batches, sweep_tag(index, started_s), started_s
            )
            batch_kib.append(kib)
    for batch in range(batches):
        for setting in configured:
            if setting.measurable:
                function.invoke(setting.key, replays[setting.key][batch])
        progress(f"batch {batch + 1}/{batches} through {len(replays)} configurations")
    rows: list[TuneRow] = []
    frames: list[pd.DataFrame] = []
    for (memory_mb, architecture), setting in zip(settings, configured, strict=True):
        if not setting.measurable:
            rows.append(TuneRow(memory_mb, architecture, "not measured", note=setting.note))
            continue
        invocations = invocation_rows(function.log_events(setting.key))
        rows.append(
            summarise(
                memory_mb,
                architecture,
                invocations,
                prices=prices,
                cpu_share=setting.cpu_share,
                handler_cpu_ms=function.handler_cpu_ms(setting.key),
                note=_note(function.problem(setting.key), setting.cpu_share, host_cores),
            )
        )
        if not invocations.empty:
            frames.append(invocations.assign(memory_mb=memory_mb, architecture=architecture))
    table = TuneTable(
        rows=tuple(rows),
        target=target,
        measured_on=function.measured_on,
        batch_size=source.batch_size,
        batches=batches,
        source=source.description,
        source_run=source.source_run,
        extra={
            "batch_kib": round(float(np.mean(batch_kib)), 3) if batch_kib else 0.0,
            "host_cpu_cores": None if math.isnan(host_cores) else round(host_cores, 3),
            "function_name": function.name,
            "durations": "warm invocations (no Init Duration); init_duration_ms is the cold start's",
            "cost": "Lambda only: GB-seconds of the billed duration plus requests, at the plan's prices",
        },
    )
    invocations = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return table, invocations
