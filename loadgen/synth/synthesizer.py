"""`CdrSynthesizer`: seeded, reproducible batches of wire payloads with partition keys and labels."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson

from loadgen.errors import LoadConfigError
from loadgen.keys import KeyStrategy, partition_keys
from loadgen.layouts import LayoutWriter
from loadgen.synth import defects, fraud, traffic
from loadgen.synth.config import FORMATS, SynthConfig
from loadgen.synth.encode import encode_sorted, variant
from loadgen.synth.labels import Label, LabelWriter
from loadgen.synth.population import Population
from pipeline.schema import JSON_RENAMED_V2

if TYPE_CHECKING:
    from pipeline.avro_cdr import AvroEncoder

_V2_TO_V1 = {new: old for old, new in JSON_RENAMED_V2.items()}

# Call references of different seeds (Locust workers) never overlap: seed * 10**10 + counter.
CALL_REF_SEED_STRIDE = 10**10
# A day is synthesised in slices of this many records: fraud episodes end at their slice's last release,
# so they spread over the day (one slice for the whole day put every episode in its last minute).
DAY_SLICE_RECORDS = 1_000


@dataclass(frozen=True)
class SynthBatch:
    payloads: list[bytes]
    partition_keys: list[str]
    labels: list[Label] = field(default_factory=list)

    @property
    def payload_bytes(self) -> int:
        return sum(map(len, self.payloads))


class CdrSynthesizer:
    """Same `config` + `seed` -> the same payloads, keys and labels (given the same release times)."""

    def __init__(
        self,
        config: SynthConfig | None = None,
        seed: int = 0,
        *,
        labels_path: Path | None = None,
        key_strategy: KeyStrategy | None = None,
        run_tag: str = "",
        avro_encoder: AvroEncoder | None = None,
    ) -> None:
        """`run_tag` (letters/digits) prefixes every call reference, so two runs with one seed do not
        resend the same cdr_ids (the pipeline would reject the second run's as duplicates).
        `avro_encoder` (its schema version id registered by the caller) writes the config's avro_share."""
        if not run_tag.isalnum() and run_tag:
            raise LoadConfigError(f"run_tag {run_tag!r} must be letters and digits only")
        self.run_tag = run_tag
        self.config = config or SynthConfig()
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.population = Population.build(self.config, np.random.default_rng([seed, 1]))
        self._next_call_ref = (seed % 100_000) * CALL_REF_SEED_STRIDE
        self._batches = 0
        lines = self.config.call_lines
        self._call_slots = traffic.CallSlots(self.population.size, lines) if lines else None
        self._open_episodes: list[fraud.OpenEpisode] = []
        self._episode_clock = fraud.EpisodeClock(self.config, np.random.default_rng([seed, 2]))
        self._last_release_s: float | None = None
        self._labels = LabelWriter(labels_path) if labels_path else None
        self.key_strategy = key_strategy or KeyStrategy()
        self._layouts = [(LayoutWriter.named(name), share) for name, share in self.config.layout_weights]
        if self.config.avro_share > 0 and avro_encoder is None:
            raise LoadConfigError(
                "an avro share needs the CDR schema's version id: register it (infra.schema_registry) and "
                "pass an AvroEncoder"
            )
        self._avro = avro_encoder if self.config.avro_share > 0 else None

    def batch(self, n: int, *, at_epoch_s: float | None = None) -> list[bytes]:
        """`n` payloads of CDRs that closed within `spread_s` before `at_epoch_s` (default: now)."""
        return self.batch_with_keys(n, at_epoch_s=at_epoch_s).payloads

    def batch_with_keys(self, n: int, *, at_epoch_s: float | None = None) -> SynthBatch:
        now_s = time.time() if at_epoch_s is None else at_epoch_s
        spread = self._rng.uniform(0.0, self.config.spread_s, n)
        return self.batch_at(np.floor(now_s - spread).astype(np.int64))

    def day(self, n: int, day_start_utc_s: int) -> SynthBatch:
        """`n` CDRs of one local day following the diurnal profile, in arrival order (for files)."""
        slices = list(self.day_slices(n, day_start_utc_s))
        return SynthBatch(
            [p for s in slices for p in s.payloads],
            [k for s in slices for k in s.partition_keys],
            [label for s in slices for label in s.labels],
        )

    def day_slices(
        self, n: int, day_start_utc_s: int, *, slice_records: int = DAY_SLICE_RECORDS
    ) -> Iterator[SynthBatch]:
        """The same day as `day`, streamed in slices of `slice_records` (bounded memory)."""
        release = traffic.diurnal_release_times(
            self.config, self._rng, n, day_start_utc_s, self.population.plan.utc_offset_min
        )
        for start in range(0, n, max(slice_records, 1)):
            yield self.batch_at(release[start : start + slice_records], keep_order=True)

    def _elapsed_s(self, release_s: np.ndarray) -> float:
        """Release time since the previous batch (this batch's own span for the first): what the open fraud
        episodes are due in this batch."""
        if len(release_s) == 0:
            return 0.0
        end_s = float(release_s.max())
        previous, self._last_release_s = self._last_release_s, end_s
        if previous is None:
            return max(end_s - float(release_s.min()), 1.0)
        return max(end_s - previous, 0.0)

    def batch_at(self, release_s: np.ndarray, *, keep_order: bool = False) -> SynthBatch:
        n = len(release_s)
        cols = traffic.generate(
            self.config, self.population, self._rng, release_s, self._next_call_ref, self._call_slots
        )
        self._next_call_ref += n
        self._batches += 1
        free = np.ones(n, dtype=bool)
        labels = fraud.inject(
            cols,
            self._episode_clock,
            self.population,
            self._rng,
            free,
            f"{self.seed}-{self._batches}",
            self._open_episodes,
            self._elapsed_s(release_s),
        )
        # Arrival order for `keep_order`: a fraud record cannot arrive before its (new) release time;
        # every other record keeps its slot, so late and out-of-order defects stay late.
        arrival_s = np.where(free, release_s, cols.release_s)
        labels += defects.apply_column_defects(cols, self.config, self._rng, free)
        # Encoding goes fastest in groups of one template; a file keeps its time order afterwards.
        order = np.argsort(variant(cols), kind="stable")
        cols, free = cols.take(order), free[order]
        payloads = encode_sorted(cols, self.population.plan, self.run_tag)
        labels += defects.apply_byte_defects(cols, payloads, self.config, self._rng, free)
        if self._layouts:
            self._rewrite_in_layouts(cols, payloads, free)
        if self._avro is not None:
            self._rewrite_as_avro(cols, payloads, free, self._avro)
        keys = partition_keys(self.key_strategy, cols, self._rng)
        if keep_order:
            restore = np.lexsort((order, arrival_s[order]))
            payloads = [payloads[i] for i in restore.tolist()]
            keys = [keys[i] for i in restore.tolist()]
        if self.run_tag:
            labels = [replace(label, cdr_id=self._tagged(label.cdr_id)) for label in labels]
        if self._labels and labels:
            self._labels.write(labels)
        return SynthBatch(payloads, keys, labels)

    def _rewrite_in_layouts(self, cols: traffic.Columns, payloads: list[bytes], free: np.ndarray) -> None:
        """Rewrite clean JSON v1 records in the configured switch layouts, each with its share of all records
        (a record the layout cannot carry, e.g. an SMS in an Asterisk layout, stays JSON v1). Records that
        carry a fraud or defect label are left as they are, so their labels stay true."""
        weights = self.config.format_weights
        json_v1 = FORMATS.index("json-v1")
        v1_share = weights[json_v1] / sum(weights)
        candidates = np.flatnonzero(free & (cols.fmt == json_v1)).tolist()
        draws = self._rng.random(len(candidates)).tolist()
        bounds = np.cumsum([share / v1_share for _, share in self._layouts]).tolist()
        for index, draw in zip(candidates, draws, strict=True):
            chosen = next((i for i, bound in enumerate(bounds) if draw < bound), None)
            if chosen is None:
                continue
            writer = self._layouts[chosen][0]
            cdr = json.loads(payloads[index])
            if writer.carries(cdr["record_type"]):
                payloads[index] = writer.write(cdr)

    def _rewrite_as_avro(
        self, cols: traffic.Columns, payloads: list[bytes], free: np.ndarray, encoder: AvroEncoder
    ) -> None:
        """Rewrite clean JSON v2 records as GSR-framed Avro v2, the config's avro_share of all records
        (labelled records keep their JSON, so a defect's expected reason stays true)."""
        weights = self.config.format_weights
        json_v2 = FORMATS.index("json-v2")
        chance = self.config.avro_share / (weights[json_v2] / sum(weights))
        candidates = np.flatnonzero(free & (cols.fmt == json_v2))
        chosen = candidates[self._rng.random(len(candidates)) < chance].tolist()
        for index in chosen:
            fields = orjson.loads(payloads[index])
            for new, old in _V2_TO_V1.items():
                fields[old] = fields.pop(new)
            payloads[index] = encoder.encode(fields)

    def _tagged(self, cdr_id: str) -> str:
        msc, call_ref, sequence = cdr_id.split(":")
        return f"{msc}:{self.run_tag}{call_ref}:{sequence}"

    def close(self) -> None:
        if self._labels:
            self._labels.close()
