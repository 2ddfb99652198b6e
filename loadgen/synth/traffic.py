"""One batch of CDRs as columns: who, what kind, when, how long, where to. Vectorised over the batch."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from loadgen.synth.config import RECORD_TYPES, SynthConfig
from loadgen.synth.numbering import DESTINATIONS, destination_numbers, random_nsn
from loadgen.synth.population import VISITED_NETWORKS, Population

MOC, MTC, SMS_MO, SMS_MT, DATA = range(len(RECORD_TYPES))
# How a number is written on the wire: index into `number_prefixes(plan)`.
FORM_E164, FORM_RAW, FORM_NATIONAL, FORM_INTERNATIONAL = range(4)
CAUSES: tuple[str, ...] = ("normalRelease", "abnormalRelease", "partialRecord")
RAT_WEIGHTS: tuple[float, ...] = (0.02, 0.08, 0.60, 0.28, 0.02)  # pipeline.schema.RATS order
# Network index 0 is home; i + 1 is VISITED_NETWORKS[i].
NETWORKS_OFFSET = 1


@dataclass
class Columns:
    """A batch of CDRs, one array per attribute (times are UTC epoch seconds; answer_s = -1 if none)."""

    record_type: np.ndarray
    sub: np.ndarray
    a_form: np.ndarray
    a_digits: np.ndarray
    b_form: np.ndarray
    b_digits: np.ndarray
    imsi: np.ndarray
    imei: np.ndarray
    seizure_s: np.ndarray
    answer_s: np.ndarray
    release_s: np.ndarray
    duration_s: np.ndarray
    cause: np.ndarray
    network: np.ndarray
    lac: np.ndarray
    cell_id: np.ndarray
    msc: np.ndarray
    call_ref: np.ndarray
    roaming: np.ndarray
    bytes_up: np.ndarray
    bytes_down: np.ndarray
    rat: np.ndarray
    fmt: np.ndarray

    def __len__(self) -> int:
        return int(self.record_type.shape[0])

    def take(self, order: np.ndarray) -> Columns:
        return Columns(**{f.name: getattr(self, f.name)[order] for f in fields(self)})

    def copy_row(self, source: int, dest: int) -> None:
        for f in fields(self):
            getattr(self, f.name)[dest] = getattr(self, f.name)[source]


def e164_digits(country_code: np.ndarray | int, nsn: np.ndarray) -> np.ndarray:
    """Country code and NSN concatenated as one integer (what follows the '+')."""
    length = np.floor(np.log10(np.maximum(nsn, 1))).astype(np.int64) + 1
    return np.asarray(country_code * 10**length + nsn, dtype=np.int64)


def _choose_form(rng: np.random.Generator, n: int, national_share: float, national_form: int) -> np.ndarray:
    return np.where(rng.random(n) < national_share, national_form, FORM_E164).astype(np.int8)


def other_party(
    config: SynthConfig, pop: Population, rng: np.random.Generator, record_type: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(form, digits) of the other party of each record: on-net, off-net, international or short code."""
    n = len(record_type)
    plan = pop.plan
    mo = (record_type == MOC) | (record_type == SMS_MO)
    intl_share = np.where(mo, config.international_share, config.international_share / 2)
    international = rng.random(n) < intl_share
    on_net = rng.random(n) < 0.4
    domestic_nsn = np.where(on_net, pop.nsn[pop.sample(rng, n)], random_nsn(plan, rng, n))
    form = _choose_form(rng, n, config.national_format_share, FORM_NATIONAL)
    digits = np.where(form == FORM_E164, e164_digits(plan.country_code, domestic_nsn), domestic_nsn)
    count = int(international.sum())
    if count:
        cc, nsn = destination_numbers(DESTINATIONS, rng, count)
        intl_form = _choose_form(rng, count, config.national_format_share, FORM_INTERNATIONAL)
        form[international] = intl_form
        digits[international] = e164_digits(cc, nsn)
    short = (record_type == SMS_MO) & ~international & (rng.random(n) < config.short_code_share)
    form[short] = FORM_RAW
    short_codes = np.asarray(plan.short_codes, dtype=np.int64)
    digits[short] = short_codes[rng.integers(0, len(short_codes), int(short.sum()))]
    return form, digits


class CallSlots:
    """Per subscriber, `lines` "busy until" times (epoch seconds), one per slot: one active call plus one
    held or waiting (3GPP call hold / call waiting) is all a handset line carries, so by default (2) a
    subscriber's background voice calls (MOC/MTC) never overlap more than 2 at a time, across batches too.
    Each slot holds calls one after another (a call takes a slot only if it begins after the slot's last
    call ended), so the slots bound the concurrency exactly.

    A call that finds every slot of its subscriber busy is given to another subscriber: redrawn by activity
    `REDRAWS` times, then uniformly `REDRAWS` times, then among `SEARCH` uniform candidates at once. Only a
    load denser than the population can carry (most lines busy) gets past that: such a call keeps its last
    subscriber over the cap and is counted in `over_cap`. Every call is placed within a bounded number of
    rounds: a call never waits for a slot (the generator's batches are not in seizure order across redraws,
    so a slot freed "earlier" may never come back)."""

    REDRAWS = 3
    SEARCH = 64

    def __init__(self, subscribers: int, lines: int = 2) -> None:
        self.busy = np.zeros((subscribers, lines), dtype=np.int64)  # a subscriber's slots share a cache line
        self.over_cap = 0

    def place(
        self,
        pop: Population,
        rng: np.random.Generator,
        sub: np.ndarray,
        seizure: np.ndarray,
        release: np.ndarray,
    ) -> np.ndarray:
        """`sub` with every call that finds every slot of its subscriber busy given to another subscriber;
        takes the slots. Vectorised: each round places the earliest pending call (by seizure) of every
        subscriber; one round per repeat of a subscriber within the batch, plus one per redraw."""
        sub = sub.copy()
        tries = np.zeros(len(sub), dtype=np.int64)
        pending = np.argsort(seizure, kind="stable")
        while len(pending):
            first = _first_of_each(sub[pending])
            rows = pending[first]
            done = self._take(sub[rows], seizure[rows], release[rows], tries[rows] > 2 * self.REDRAWS)
            missed = rows[~done]
            if len(missed):
                tries[missed] += 1
                sub[missed] = self._redraw(pop, rng, tries[missed], seizure[missed], sub[missed])
            keep = np.ones(len(pending), dtype=bool)
            keep[first[done]] = False
            pending = pending[keep]
        return sub

    def _take(
        self, subs: np.ndarray, seizure: np.ndarray, release: np.ndarray, force: np.ndarray
    ) -> np.ndarray:
        """Whether each call (distinct subscribers) got a slot; a forced one gets the earliest-free slot even
        if busy. A fitting call takes the latest-free slot that is free at its seizure (best fit: the other
        slots stay free from earlier, for a call that began before this one)."""
        busy = self.busy[subs]
        free = busy <= seizure[:, None]
        fits = free.any(axis=1)
        slot = np.where(fits, np.argmax(np.where(free, busy, -1), axis=1), np.argmin(busy, axis=1))
        done = fits | force
        self.over_cap += int((force & ~fits).sum())
        rows = np.flatnonzero(done)
        self.busy[subs[rows], slot[rows]] = np.maximum(busy[rows, slot[rows]], release[rows])
        return done

    def _redraw(
        self,
        pop: Population,
        rng: np.random.Generator,
        tries: np.ndarray,
        seizure: np.ndarray,
        current: np.ndarray,
    ) -> np.ndarray:
        """New subscribers for calls that missed: by activity, then uniform, then the first of `SEARCH`
        uniform candidates with a slot free at the call's seizure (the current one if none)."""
        sub = np.where(
            tries <= self.REDRAWS, pop.sample(rng, len(tries)), rng.integers(0, pop.size, len(tries))
        )
        search = np.flatnonzero(tries == 2 * self.REDRAWS + 1)
        if len(search):
            candidates = rng.integers(0, pop.size, (len(search), self.SEARCH))
            free = self.busy[candidates].min(axis=2) <= seizure[search, None]
            found = free.any(axis=1)
            pick = candidates[np.arange(len(search)), np.argmax(free, axis=1)]
            sub[search] = np.where(found, pick, current[search])
        return sub


def _first_of_each(values: np.ndarray) -> np.ndarray:
    """Index of each distinct value's first occurrence, by value (np.unique's return_index, without its
    stable argsort: the keys value x n + index are distinct, so a plain sort of them decides it)."""
    n = len(values)
    keys = np.sort(values * n + np.arange(n))
    value = keys // n
    head = np.ones(n, dtype=bool)
    head[1:] = value[1:] != value[:-1]
    return np.asarray(keys[head] % n)


def generate(
    config: SynthConfig,
    pop: Population,
    rng: np.random.Generator,
    release_s: np.ndarray,
    call_ref_start: int,
    slots: CallSlots | None = None,
) -> Columns:
    """A batch with one CDR per entry of `release_s` (UTC epoch seconds at which each one closed).
    `slots`: keep each subscriber's voice calls at most `config.call_lines` at a time (see `CallSlots`)."""
    n = len(release_s)
    weights = np.asarray(config.record_type_weights, dtype=np.float64)
    record_type = rng.choice(len(RECORD_TYPES), size=n, p=weights / weights.sum()).astype(np.int8)
    sub = pop.sample(rng, n)
    plan = pop.plan

    is_data = record_type == DATA
    is_call = (record_type == MOC) | (record_type == MTC)
    answered = (is_call & (rng.random(n) < config.answer_rate)) | is_data
    call_s = rng.lognormal(np.log(config.duration_median_s), config.duration_sigma, n)
    data_s = rng.lognormal(np.log(config.data_duration_median_s), 1.0, n)
    ring_s = np.where(answered, rng.integers(2, 20, n), rng.integers(5, 40, n))
    ring_s = np.where(is_data, 0, ring_s)
    talk_s = np.where(is_data, data_s, call_s).round().astype(np.int64).clip(1, 86_400)
    talk_s = np.where(answered, talk_s, 0)
    is_sms = ~is_call & ~is_data
    ring_s = np.where(is_sms, 0, ring_s)
    seizure = release_s - talk_s - ring_s
    answer = np.where(answered, seizure + ring_s, -1)
    # 3GPP callDuration: chargeable time when answered, holding time when not.
    duration = np.where(answered, talk_s, ring_s)
    if slots is not None:
        calls = np.flatnonzero(is_call)
        sub[calls] = slots.place(pop, rng, sub[calls], seizure[calls], release_s[calls])
    own_form = _choose_form(rng, n, config.national_format_share, FORM_NATIONAL)
    own_digits = np.where(own_form == FORM_E164, e164_digits(plan.country_code, pop.nsn[sub]), pop.nsn[sub])
    other_form, other_digits = other_party(config, pop, rng, record_type)
    other_form = np.where(is_data, own_form, other_form).astype(np.int8)
    other_digits = np.where(is_data, own_digits, other_digits)
    mt = (record_type == MTC) | (record_type == SMS_MT)

    roaming = pop.roaming[sub]
    network = np.where(roaming, pop.visited[sub] + NETWORKS_OFFSET, 0).astype(np.int8)
    # Mostly the home cell, sometimes a random one (mobility); roamers are on a foreign cell.
    cell_index = np.where(rng.random(n) < 0.7, pop.home_cell[sub], rng.integers(0, len(pop.cells.cell_id), n))
    cell_id = pop.cells.cell_id[cell_index]
    lac = pop.cells.lac[cell_index]
    foreign_cell = rng.integers(1, 60_000, n)
    data_bytes = rng.lognormal(np.log(config.data_bytes_median), 1.3, n).astype(np.int64)
    format_weights = np.asarray(config.format_weights, dtype=np.float64)
    rat_weights = np.asarray(RAT_WEIGHTS)
    return Columns(
        record_type=record_type,
        sub=sub,
        a_form=np.where(mt, other_form, own_form).astype(np.int8),
        a_digits=np.where(mt, other_digits, own_digits),
        b_form=np.where(mt, own_form, other_form).astype(np.int8),
        b_digits=np.where(mt, own_digits, other_digits),
        imsi=pop.imsi[sub],
        imei=pop.imei[sub],
        seizure_s=seizure,
        answer_s=answer,
        release_s=release_s.astype(np.int64),
        duration_s=duration.astype(np.int64),
        cause=np.where(rng.random(n) < 0.02, 1, 0).astype(np.int8),
        network=network,
        lac=np.where(roaming, foreign_cell // 100 + 1, lac),
        cell_id=np.where(roaming, foreign_cell, cell_id),
        msc=rng.integers(0, config.msc_count, n).astype(np.int16),
        call_ref=np.arange(call_ref_start, call_ref_start + n, dtype=np.int64),
        roaming=roaming,
        bytes_up=np.where(is_data, data_bytes // 8, 0),
        bytes_down=np.where(is_data, data_bytes, 0),
        rat=rng.choice(len(rat_weights), size=n, p=rat_weights).astype(np.int8),
        fmt=rng.choice(len(format_weights), size=n, p=format_weights / format_weights.sum()).astype(np.int8),
    )


def visited_network(index: int) -> tuple[str, str]:
    return VISITED_NETWORKS[index - NETWORKS_OFFSET]


def diurnal_release_times(
    config: SynthConfig, rng: np.random.Generator, n: int, day_start_utc_s: int, utc_offset_min: int
) -> np.ndarray:
    """`n` sorted UTC epoch seconds over one local day, dense in the busy hours (the diurnal profile)."""
    weights = np.asarray(config.diurnal_hourly_weights, dtype=np.float64)
    hour = rng.choice(24, size=n, p=weights / weights.sum())
    local_s = hour * 3600 + rng.integers(0, 3600, n)
    return np.sort(day_start_utc_s - utc_offset_min * 60 + local_s).astype(np.int64)
