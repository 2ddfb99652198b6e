"""Fraud scenarios injected into the synthesised traffic as bursts (episodes), with their ground-truth labels.

An episode unfolds at its own pace (`episode_records` over `episode_window_s` of release time), so with a
producer's small, frequent batches it spans many batches: each batch carries the records its elapsed time
is due, under the same actor (the actor is drawn from the episode's own seed), until the episode is whole.
An episode still open when the load stops is cut off, and the run's fraud coverage says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


def _wangiri(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator,
             actor_rng: np.random.Generator, end_s: int, window_s: int) -> np.ndarray:  # fmt: skip
    cc, nsn = destination_numbers(HIGH_RISK, actor_rng, 1, weighted=False)
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


def _irsf(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator,
          actor_rng: np.random.Generator, end_s: int, window_s: int) -> np.ndarray:  # fmt: skip
    actor = _outgoing(cols, pos, pop, np.full(len(pos), actor_rng.integers(0, pop.size)))
    cc, nsn = destination_numbers(HIGH_RISK, rng, len(pos), weighted=False)
    cols.record_type[pos] = MOC
    cols.b_form[pos], cols.b_digits[pos] = FORM_E164, e164_digits(cc, nsn)
    talk = rng.lognormal(np.log(1_200.0), 0.5, len(pos)).astype(np.int64).clip(60, 7_200)
    _timing(cols, pos, rng, end_s, window_s, talk)
    return actor


def _simbox(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator,
            actor_rng: np.random.Generator, end_s: int, window_s: int) -> np.ndarray:  # fmt: skip
    sims = actor_rng.integers(0, pop.size, 8)
    actor = _outgoing(cols, pos, pop, sims[rng.integers(0, len(sims), len(pos))])
    # One box: every SIM shows the same IMEI and the same cell, at home, calling many national numbers.
    cols.imei[pos] = pop.imei[sims[0]]
    cell = actor_rng.integers(0, len(pop.cells.cell_id))
    cols.cell_id[pos], cols.lac[pos] = pop.cells.cell_id[cell], pop.cells.lac[cell]
    cols.roaming[pos], cols.network[pos] = False, 0
    cols.record_type[pos] = MOC
    cols.b_form[pos] = FORM_E164
    cols.b_digits[pos] = e164_digits(pop.plan.country_code, random_nsn(pop.plan, rng, len(pos)))
    talk = rng.lognormal(np.log(90.0), 0.6, len(pos)).astype(np.int64).clip(5, 3_600)
    _timing(cols, pos, rng, end_s, window_s, talk)
    return actor


def _velocity(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator,
              actor_rng: np.random.Generator, end_s: int, window_s: int) -> np.ndarray:  # fmt: skip
    actor = _outgoing(cols, pos, pop, np.full(len(pos), actor_rng.integers(0, pop.size)))
    cols.record_type[pos] = np.where(rng.random(len(pos)) < 0.7, SMS_MO, MOC)
    cols.b_form[pos] = FORM_E164
    cols.b_digits[pos] = e164_digits(pop.plan.country_code, random_nsn(pop.plan, rng, len(pos)))
    talk = np.where(cols.record_type[pos] == MOC, rng.integers(1, 10, len(pos)), 0)
    _timing(cols, pos, rng, end_s, max(window_s // 6, 1), talk)
    sms = pos[cols.record_type[pos] == SMS_MO]
    cols.seizure_s[sms], cols.answer_s[sms], cols.duration_s[sms] = cols.release_s[sms], -1, 0
    return actor


Scenario = Callable[
    [Columns, np.ndarray, Population, np.random.Generator, np.random.Generator, int, int], np.ndarray
]
SCENARIOS: dict[str, Scenario] = {
    "wangiri": _wangiri,
    "irsf": _irsf,
    "simbox": _simbox,
    "velocity": _velocity,
}


@dataclass
class OpenEpisode:
    """An episode begun in an earlier batch and not yet whole: its records still due, its actor's seed."""

    scenario: str
    episode_id: str
    remaining: int
    actor_seed: int
    first_s: int | None = None


def inject(
    cols: Columns,
    config: SynthConfig,
    pop: Population,
    rng: np.random.Generator,
    free: np.ndarray,
    episode_prefix: str,
    open_episodes: list[OpenEpisode],
    elapsed_s: float,
) -> list[Label]:
    """Begin this batch's new episodes (about `rate x n / episode_records` per scenario, so fraud stays at
    `rate` of the records), then overwrite free rows with the records each open episode is due over
    `elapsed_s` of release time (all of it when the batch spans the episode's window); marks them not free,
    keeps the unfinished episodes in `open_episodes`, and returns the labels."""
    n = len(cols)
    if n == 0:
        return []
    end_s = int(cols.release_s.max())
    size, window_s = config.fraud.episode_records, config.fraud.episode_window_s
    for name in SCENARIOS:
        rate = getattr(config.fraud, name)
        for episode in range(int(rng.poisson(rate * n / size)) if rate > 0 else 0):
            seed = int(rng.integers(0, 2**63 - 1))
            open_episodes.append(OpenEpisode(name, f"{episode_prefix}-{name}-{episode}", size, seed))
    due = size * min(elapsed_s / max(window_s, 1), 1.0)
    labels: list[Label] = []
    for open_episode in list(open_episodes):
        take = min(open_episode.remaining, int(due) + int(rng.random() < due - int(due)))
        candidates = np.flatnonzero(free)
        take = min(take, len(candidates))
        if take > 0:
            labels += _continue(
                cols, pop, rng, free, open_episode, candidates, take, end_s, window_s, elapsed_s
            )
        if open_episode.remaining == 0:
            open_episodes.remove(open_episode)
    return labels


def _continue(
    cols: Columns,
    pop: Population,
    rng: np.random.Generator,
    free: np.ndarray,
    episode: OpenEpisode,
    candidates: np.ndarray,
    take: int,
    end_s: int,
    window_s: int,
    elapsed_s: float,
) -> list[Label]:
    """`take` more records of `episode`, released within this batch's share of its window."""
    pos = np.sort(rng.choice(candidates, size=take, replace=False))
    free[pos] = False
    span_s = max(min(window_s, int(np.ceil(elapsed_s))), 1)
    actor_rng = np.random.default_rng(episode.actor_seed)  # the same actor in every batch of the episode
    actors = SCENARIOS[episode.scenario](cols, pos, pop, rng, actor_rng, end_s, span_s)
    episode.remaining -= take
    first = int(cols.seizure_s[pos].min())
    episode.first_s = first if episode.first_s is None else min(episode.first_s, first)
    last = int(cols.seizure_s[pos].max())
    return [
        Label(
            cdr_id(cols, i),
            "fraud",
            episode.scenario,
            str(actor),
            episode.episode_id,
            episode.first_s,
            last,
            "",
        )
        for i, actor in zip(pos.tolist(), actors.tolist(), strict=True)
    ]
