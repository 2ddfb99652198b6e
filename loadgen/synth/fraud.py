"""Fraud scenarios injected into a batch's columns as bursts (episodes), with their ground-truth labels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from loadgen.synth.config import SynthConfig
from loadgen.synth.labels import Label
from loadgen.synth.numbering import DESTINATIONS, destination_numbers, random_nsn
from loadgen.synth.population import Population
from loadgen.synth.traffic import FORM_E164, MOC, MTC, SMS_MO, Columns, e164_digits

HIGH_RISK = tuple(d for d in DESTINATIONS if d.high_risk)


def cdr_id(cols: Columns, index: int) -> str:
    return f"MSC{int(cols.msc[index]):02d}:{int(cols.call_ref[index])}:0"


def _as_subscriber(cols: Columns, pos: np.ndarray, pop: Population, subs: np.ndarray) -> None:
    cols.sub[pos] = subs
    cols.imsi[pos] = pop.imsi[subs]
    cols.imei[pos] = pop.imei[subs]


def _timing(
    cols: Columns, pos: np.ndarray, rng: np.random.Generator, end_s: int, window_s: int, talk_s: np.ndarray
) -> None:
    """Answered (talk_s > 0) or unanswered (talk_s == 0, 1-3 s of ringing) within the burst window."""
    release = end_s - np.sort(rng.integers(0, max(window_s, 1), len(pos)))[::-1]
    ring = np.where(talk_s > 0, rng.integers(2, 8, len(pos)), rng.integers(1, 4, len(pos)))
    cols.release_s[pos] = release
    cols.seizure_s[pos] = release - talk_s - ring
    cols.answer_s[pos] = np.where(talk_s > 0, release - talk_s, -1)
    cols.duration_s[pos] = np.where(talk_s > 0, talk_s, ring)


def _wangiri(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator, end_s: int,
             window_s: int) -> np.ndarray:  # fmt: skip
    cc, nsn = destination_numbers(HIGH_RISK, rng, 1, weighted=False)
    caller = e164_digits(cc, nsn)[0]
    cols.record_type[pos] = MTC
    cols.a_form[pos], cols.a_digits[pos] = FORM_E164, caller
    victims = rng.integers(0, pop.size, len(pos))
    cols.b_form[pos], cols.b_digits[pos] = FORM_E164, e164_digits(pop.plan.country_code, pop.nsn[victims])
    _as_subscriber(cols, pos, pop, victims)
    _timing(cols, pos, rng, end_s, window_s, np.zeros(len(pos), dtype=np.int64))
    return np.full(len(pos), caller)


def _outgoing(cols: Columns, pos: np.ndarray, pop: Population, subs: np.ndarray) -> np.ndarray:
    _as_subscriber(cols, pos, pop, subs)
    own = e164_digits(pop.plan.country_code, pop.nsn[subs])
    cols.a_form[pos], cols.a_digits[pos] = FORM_E164, own
    return own


def _irsf(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator, end_s: int,
          window_s: int) -> np.ndarray:  # fmt: skip
    actor = _outgoing(cols, pos, pop, np.full(len(pos), rng.integers(0, pop.size)))
    cc, nsn = destination_numbers(HIGH_RISK, rng, len(pos), weighted=False)
    cols.record_type[pos] = MOC
    cols.b_form[pos], cols.b_digits[pos] = FORM_E164, e164_digits(cc, nsn)
    talk = rng.lognormal(np.log(1_200.0), 0.5, len(pos)).astype(np.int64).clip(60, 7_200)
    _timing(cols, pos, rng, end_s, window_s, talk)
    return actor


def _simbox(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator, end_s: int,
            window_s: int) -> np.ndarray:  # fmt: skip
    sims = rng.integers(0, pop.size, 8)
    actor = _outgoing(cols, pos, pop, sims[rng.integers(0, len(sims), len(pos))])
    # One box: every SIM shows the same IMEI and the same cell, at home, calling many national numbers.
    cols.imei[pos] = pop.imei[sims[0]]
    cell = rng.integers(0, len(pop.cells.cell_id))
    cols.cell_id[pos], cols.lac[pos] = pop.cells.cell_id[cell], pop.cells.lac[cell]
    cols.roaming[pos], cols.network[pos] = False, 0
    cols.record_type[pos] = MOC
    cols.b_form[pos] = FORM_E164
    cols.b_digits[pos] = e164_digits(pop.plan.country_code, random_nsn(pop.plan, rng, len(pos)))
    talk = rng.lognormal(np.log(90.0), 0.6, len(pos)).astype(np.int64).clip(5, 3_600)
    _timing(cols, pos, rng, end_s, window_s, talk)
    return actor


def _velocity(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator, end_s: int,
              window_s: int) -> np.ndarray:  # fmt: skip
    actor = _outgoing(cols, pos, pop, np.full(len(pos), rng.integers(0, pop.size)))
    cols.record_type[pos] = np.where(rng.random(len(pos)) < 0.7, SMS_MO, MOC)
    cols.b_form[pos] = FORM_E164
    cols.b_digits[pos] = e164_digits(pop.plan.country_code, random_nsn(pop.plan, rng, len(pos)))
    talk = np.where(cols.record_type[pos] == MOC, rng.integers(1, 10, len(pos)), 0)
    _timing(cols, pos, rng, end_s, max(window_s // 6, 1), talk)
    sms = pos[cols.record_type[pos] == SMS_MO]
    cols.seizure_s[sms], cols.answer_s[sms], cols.duration_s[sms] = cols.release_s[sms], -1, 0
    return actor


Scenario = Callable[[Columns, np.ndarray, Population, np.random.Generator, int, int], np.ndarray]
SCENARIOS: dict[str, Scenario] = {
    "wangiri": _wangiri,
    "irsf": _irsf,
    "simbox": _simbox,
    "velocity": _velocity,
}


def inject(
    cols: Columns,
    config: SynthConfig,
    pop: Population,
    rng: np.random.Generator,
    free: np.ndarray,
    episode_prefix: str,
) -> list[Label]:
    """Overwrite random free rows with fraud episodes; marks them not free; returns their labels."""
    labels: list[Label] = []
    n = len(cols)
    if n == 0:
        return labels
    end_s = int(cols.release_s.max())
    size = config.fraud.episode_records
    for name, scenario in SCENARIOS.items():
        rate = getattr(config.fraud, name)
        # An episode lives within one batch; with batches smaller than an episode, more (shorter)
        # episodes keep the share of fraud records at `rate`.
        for episode in range(int(rng.poisson(rate * n / min(size, n))) if rate > 0 else 0):
            candidates = np.flatnonzero(free)
            if len(candidates) == 0:
                return labels
            pos = np.sort(rng.choice(candidates, size=min(size, len(candidates)), replace=False))
            free[pos] = False
            actors = scenario(cols, pos, pop, rng, end_s, config.fraud.episode_window_s)
            first, last = int(cols.seizure_s[pos].min()), int(cols.seizure_s[pos].max())
            episode_id = f"{episode_prefix}-{name}-{episode}"
            labels.extend(
                Label(cdr_id(cols, i), "fraud", name, str(actor), episode_id, first, last, "")
                for i, actor in zip(pos.tolist(), actors.tolist(), strict=True)
            )
    return labels
