"""Fraud scenarios, and the legitimate look-alikes the rules must not fire on, injected into the synthesised
traffic as episodes with their ground-truth labels.

Every scenario is data (`Scenario`, the `SCENARIOS` table): how many records an episode has, on how many
parallel lines (calls on one line never overlap), how its calls ring, last and follow each other, and which
`fill` writes who calls whom. An episode's timeline is drawn when it begins, from its own seed; each batch
then carries the records released since the previous batch (so an episode spans as many producer batches as
its timeline needs), under the same actor, until the episode is whole. An episode still open when the load
stops is cut off, and the run's fraud coverage says so. Look-alike episodes carry no label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from loadgen.synth.config import SynthConfig
from loadgen.synth.labels import Label
from loadgen.synth.numbering import DESTINATIONS, destination_numbers, random_nsn
from loadgen.synth.population import Population
from loadgen.synth.traffic import FORM_E164, FORM_RAW, MOC, MTC, SMS_MO, Columns, e164_digits

HIGH_RISK = tuple(d for d in DESTINATIONS if d.high_risk)
BOX_SIMS = 8  # SIMs of a rotating SIM-box (one line each)


def cdr_id(cols: Columns, index: int) -> str:
    return f"MSC{int(cols.msc[index]):02d}:{int(cols.call_ref[index])}:0"


# fill(cols, rows, population, rng, actor_rng, line of each row) -> the actor (E.164 digits) of each row.
# `actor_rng` is re-seeded with the episode's seed in every batch: its draws are the episode's identity.
Fill = Callable[
    [Columns, np.ndarray, Population, np.random.Generator, np.random.Generator, np.ndarray], np.ndarray
]


@dataclass(frozen=True)
class Scenario:
    """One episode shape. `rule`: the rule that must fire on it ("" for a look-alike, never labelled)."""

    name: str  # the FraudRates field that gives its share of all records
    rule: str
    fill: Fill
    records: int  # per episode
    lines: int = 1  # parallel lines; the calls of one line follow each other
    start_spread_s: int = 60  # the lines begin within this many seconds of the episode's start
    sms_share: float = 0.0  # records that are SMS_MO (no duration)
    mtc_share: float = 0.0  # calls that are terminating (MTC), the rest originating (MOC)
    answer_rate: float = 1.0
    talk_s: tuple[float, float, int, int] = (90.0, 0.6, 10, 1_200)  # lognormal median, sigma, clip
    ring_s: tuple[int, int] = (2, 7)
    gap_s: tuple[int, int] = (5, 60)  # from one release to the next seizure on a line


@dataclass
class OpenEpisode:
    """An episode begun in an earlier batch and not yet whole: its timeline, how much of it is out."""

    scenario: Scenario
    episode_id: str
    actor_seed: int
    record_type: np.ndarray  # the timeline, by release time: absolute epoch seconds
    line: np.ndarray
    seizure_s: np.ndarray
    ring_s: np.ndarray
    talk_s: np.ndarray  # 0: unanswered (or an SMS)
    sent: int = 0
    first_s: int | None = None

    @property
    def release_s(self) -> np.ndarray:
        return self.seizure_s + self.ring_s + self.talk_s

    @property
    def remaining(self) -> int:
        return len(self.line) - self.sent


def _as_subscriber(cols: Columns, pos: np.ndarray, pop: Population, subs: np.ndarray) -> None:
    cols.sub[pos] = subs
    cols.imsi[pos] = pop.imsi[subs]
    cols.imei[pos] = pop.imei[subs]


def _served(cols: Columns, pos: np.ndarray, pop: Population, subs: np.ndarray, other: np.ndarray) -> None:
    """`subs` originate (MOC, SMS_MO) or receive (MTC) each record, `other` (E.164 digits) is the far end."""
    _as_subscriber(cols, pos, pop, subs)
    own = e164_digits(pop.plan.country_code, pop.nsn[subs])
    incoming = cols.record_type[pos] == MTC
    cols.a_form[pos], cols.b_form[pos] = FORM_E164, FORM_E164
    cols.a_digits[pos] = np.where(incoming, other, own)
    cols.b_digits[pos] = np.where(incoming, own, other)


def _national(pop: Population, rng: np.random.Generator, n: int) -> np.ndarray:
    return e164_digits(pop.plan.country_code, random_nsn(pop.plan, rng, n))


def _one_cell(cols: Columns, pos: np.ndarray, pop: Population, actor_rng: np.random.Generator) -> None:
    cell = actor_rng.integers(0, len(pop.cells.cell_id))
    cols.cell_id[pos], cols.lac[pos] = pop.cells.cell_id[cell], pop.cells.lac[cell]
    cols.roaming[pos], cols.network[pos] = False, 0


def _lure(destinations: tuple[str, ...] | None) -> Fill:
    """One foreign number calling many subscribers (`None`: high-risk ranges, else a legitimate country)."""

    def fill(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator,
             actor_rng: np.random.Generator, line: np.ndarray) -> np.ndarray:  # fmt: skip
        chosen = (
            HIGH_RISK if destinations is None else tuple(d for d in DESTINATIONS if d.region in destinations)
        )
        chosen = tuple(d for d in chosen if d.country_code != pop.plan.country_code) or chosen
        cc, nsn = destination_numbers(chosen, actor_rng, 1, weighted=False)
        caller = e164_digits(cc, nsn)[0]
        _served(cols, pos, pop, rng.integers(0, pop.size, len(pos)), np.full(len(pos), caller))
        return np.full(len(pos), caller)

    return fill


def _subscriber(far_end: str, *, one_cell: bool) -> Fill:
    """One subscriber (the actor) calling or texting `far_end`: "national" numbers, "high_risk" ranges;
    terminating calls come from national numbers. `one_cell`: all from one cell (else the actor's own)."""

    def fill(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator,
             actor_rng: np.random.Generator, line: np.ndarray) -> np.ndarray:  # fmt: skip
        actor = int(actor_rng.integers(0, pop.size))
        if far_end == "high_risk":
            other = e164_digits(*destination_numbers(HIGH_RISK, rng, len(pos), weighted=False))
        else:
            other = _national(pop, rng, len(pos))
        other = np.where(cols.record_type[pos] == MTC, _national(pop, rng, len(pos)), other)
        _served(cols, pos, pop, np.full(len(pos), actor), other)
        if one_cell:
            _one_cell(cols, pos, pop, actor_rng)
        return np.full(len(pos), e164_digits(pop.plan.country_code, pop.nsn[actor : actor + 1])[0])

    return fill


def _cloned(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator,
            actor_rng: np.random.Generator, line: np.ndarray) -> np.ndarray:  # fmt: skip
    """A cloned SIM: one subscriber's number in calls from cells all over the network at once."""
    actor = int(actor_rng.integers(0, pop.size))
    _served(cols, pos, pop, np.full(len(pos), actor), _national(pop, rng, len(pos)))
    cells = rng.integers(0, len(pop.cells.cell_id), len(pos))
    cols.cell_id[pos], cols.lac[pos] = pop.cells.cell_id[cells], pop.cells.lac[cells]
    return cols.a_digits[pos]


def _box(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator,
         actor_rng: np.random.Generator, line: np.ndarray) -> np.ndarray:  # fmt: skip
    """A rotating SIM-box: one SIM per line, all in one device (one IMEI) in one cell, calling national
    numbers; no SIM alone has a SIM-box profile."""
    sims = actor_rng.integers(0, pop.size, BOX_SIMS)
    _served(cols, pos, pop, sims[line % BOX_SIMS], _national(pop, rng, len(pos)))
    cols.imei[pos] = pop.imei[sims[0]]
    _one_cell(cols, pos, pop, actor_rng)
    return cols.a_digits[pos]


def _a2p(cols: Columns, pos: np.ndarray, pop: Population, rng: np.random.Generator,
         actor_rng: np.random.Generator, line: np.ndarray) -> np.ndarray:  # fmt: skip
    """Bulk SMS from an operator short code to many subscribers (A2P: bulk by contract, not spam)."""
    codes = np.asarray(pop.plan.short_codes, dtype=np.int64)
    sender = codes[actor_rng.integers(0, len(codes))]
    recipients = rng.integers(0, pop.size, len(pos))
    _as_subscriber(cols, pos, pop, recipients)
    cols.a_form[pos], cols.a_digits[pos] = FORM_RAW, sender
    cols.b_form[pos], cols.b_digits[pos] = FORM_E164, e164_digits(pop.plan.country_code, pop.nsn[recipients])
    return np.full(len(pos), sender)


# fmt: off
SCENARIOS: tuple[Scenario, ...] = (
    # One foreign number rings many subscribers once, hanging up within seconds (nobody answers).
    Scenario("wangiri", "wangiri", _lure(None), 40, lines=40, mtc_share=1.0, answer_rate=0.0, ring_s=(1, 3)),
    # A subscriber calls high-risk ranges on 3 lines at once (not 4: that is a cloned SIM), for long.
    Scenario("irsf", "irsf", _subscriber("high_risk", one_cell=False), 6, lines=3,
             talk_s=(1_200.0, 0.4, 600, 3_600), gap_s=(10, 120)),
    # A rotating SIM-box (8 SIMs, one IMEI, one cell, each SIM one call at a time), caught as a device.
    Scenario("simbox", "simbox", _box, 40, lines=BOX_SIMS),
    # One SIM in a box, one cell, back-to-back national calls for about two hours.
    Scenario("simbox_sim", "simbox", _subscriber("national", one_cell=True), 40, gap_s=(30, 120)),
    # An auto-dialler: back-to-back SMS and short call attempts within about a minute.
    Scenario("velocity", "velocity", _subscriber("national", one_cell=True), 40, sms_share=0.7,
             answer_rate=0.2, talk_s=(3.0, 0.5, 1, 9), ring_s=(1, 2), gap_s=(0, 1)),
    # A cloned SIM: 5 long calls at once from cells all over, twice.
    Scenario("simultaneous", "simultaneous", _cloned, 10, lines=5, talk_s=(900.0, 0.5, 300, 1_800),
             gap_s=(30, 300)),
    # One subscriber texts 120 numbers over about half an hour, slower than a velocity flood.
    Scenario("sms_spam", "sms_spam", _subscriber("national", one_cell=True), 120, sms_share=1.0,
             gap_s=(5, 25)),
    # Look-alikes. A call-centre agent: many calls from one cell for hours, but customers call back.
    Scenario("call_centre", "", _subscriber("national", one_cell=True), 100, mtc_share=0.3, answer_rate=0.8,
             talk_s=(120.0, 0.8, 5, 900), gap_s=(1, 60)),
    # A foreign business calling many subscribers on 2 lines, mostly answered, ringing long when not.
    Scenario("foreign_business", "", _lure(("MX", "IN", "GB", "DE", "FR", "CA")), 40, lines=2, mtc_share=1.0,
             answer_rate=0.7, talk_s=(120.0, 0.6, 30, 600), ring_s=(6, 25)),
    # A2P bulk SMS from a short code.
    Scenario("a2p_sms", "", _a2p, 100, sms_share=1.0, gap_s=(0, 10)),
    # A subscriber calling home to a hot-list country: two long calls.
    Scenario("diaspora", "", _subscriber("high_risk", one_cell=False), 2, talk_s=(1_500.0, 0.4, 600, 3_600),
             gap_s=(600, 3_600)),
)
# fmt: on
# Records of a whole episode, per rule (the variants of one rule have the same size): fewer is cut off.
EPISODE_RECORDS: dict[str, int] = {s.rule: s.records for s in SCENARIOS if s.rule}


def timeline(scenario: Scenario, rng: np.random.Generator, start_s: int) -> OpenEpisode:
    """The episode's records (types, lines, times) from `start_s`, ordered by release."""
    n = scenario.records
    sms = rng.random(n) < scenario.sms_share
    record_type = np.where(sms, SMS_MO, np.where(rng.random(n) < scenario.mtc_share, MTC, MOC))
    answered = ~sms & (rng.random(n) < scenario.answer_rate)
    median, sigma, low, high = scenario.talk_s
    talk = np.where(answered, rng.lognormal(np.log(median), sigma, n).astype(np.int64).clip(low, high), 0)
    ring = np.where(sms, 0, rng.integers(scenario.ring_s[0], scenario.ring_s[1] + 1, n))
    gap = rng.integers(scenario.gap_s[0], scenario.gap_s[1] + 1, n)
    line = np.arange(n) % scenario.lines
    seizure = np.zeros(n, dtype=np.int64)
    starts = start_s + rng.integers(0, scenario.start_spread_s + 1, scenario.lines)
    for index in range(scenario.lines):
        mine = np.flatnonzero(line == index)
        held = (ring + talk + gap)[mine]
        seizure[mine] = starts[index] + np.concatenate(([0], np.cumsum(held)[:-1]))
    order = np.argsort(seizure + ring + talk, kind="stable")
    return OpenEpisode(
        scenario, "", 0, record_type[order], line[order], seizure[order], ring[order], talk[order]
    )


class EpisodeClock:
    """How many episodes of each scenario begin in a batch: each scenario accrues `rate x n / records`
    episodes per batch of n records and begins the whole ones, from a random phase in [0, 1) (systematic
    sampling). A generator's N records then hold the floor or the ceiling of `N x rate / records` episodes
    of each scenario, so a short run keeps the share it was configured with: Poisson counts per batch left a
    3-minute run expecting ~4 episodes with none at all about once in 80 runs."""

    def __init__(self, config: SynthConfig, phase_rng: np.random.Generator) -> None:
        self._per_record = np.array([getattr(config.fraud, s.name) / s.records for s in SCENARIOS])
        self._due = phase_rng.random(len(SCENARIOS)) * (self._per_record > 0)

    def begin(self, n: int) -> list[int]:
        """Episodes of each scenario (in SCENARIOS order) that begin in a batch of `n` records."""
        self._due += self._per_record * n
        whole = np.floor(self._due)
        self._due -= whole
        return [int(count) for count in whole]


def inject(
    cols: Columns,
    clock: EpisodeClock,
    pop: Population,
    rng: np.random.Generator,
    free: np.ndarray,
    episode_prefix: str,
    open_episodes: list[OpenEpisode],
    elapsed_s: float,
) -> list[Label]:
    """Begin this batch's new episodes (as many as `clock` says, so each scenario stays at its `rate` of the
    records) within the last `elapsed_s` seconds, then overwrite free rows with the records each open
    episode has released by the batch's last release; marks them not free, keeps the unfinished episodes in
    `open_episodes`, and returns the labels of the fraud ones."""
    n = len(cols)
    if n == 0:
        return []
    end_s = int(cols.release_s.max())
    span_s = max(int(np.ceil(elapsed_s)), 1)
    for scenario, count in zip(SCENARIOS, clock.begin(n), strict=True):
        for episode in range(count):
            seed = int(rng.integers(0, 2**63 - 1))
            start_s = end_s - int(rng.integers(0, span_s))
            opened = timeline(scenario, np.random.default_rng([seed, 1]), start_s)
            opened.episode_id, opened.actor_seed = f"{episode_prefix}-{scenario.name}-{episode}", seed
            open_episodes.append(opened)
    labels: list[Label] = []
    for open_episode in list(open_episodes):
        due = int(np.searchsorted(open_episode.release_s, end_s, side="right")) - open_episode.sent
        candidates = np.flatnonzero(free)
        take = min(due, len(candidates))
        if take > 0:
            labels += _continue(cols, pop, rng, free, open_episode, candidates, take)
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
) -> list[Label]:
    """The next `take` records of `episode`'s timeline, in free rows."""
    pos = np.sort(rng.choice(candidates, size=take, replace=False))
    free[pos] = False
    part = slice(episode.sent, episode.sent + take)
    ring, talk = episode.ring_s[part], episode.talk_s[part]
    cols.record_type[pos] = episode.record_type[part]
    cols.seizure_s[pos] = episode.seizure_s[part]
    cols.answer_s[pos] = np.where(talk > 0, episode.seizure_s[part] + ring, -1)
    cols.release_s[pos] = episode.seizure_s[part] + ring + talk
    cols.duration_s[pos] = np.where(talk > 0, talk, ring)
    actor_rng = np.random.default_rng(episode.actor_seed)  # the same actor in every batch of the episode
    actors = episode.scenario.fill(cols, pos, pop, rng, actor_rng, episode.line[part])
    episode.sent += take
    if not episode.scenario.rule:
        return []  # a look-alike: legitimate traffic
    first = int(cols.seizure_s[pos].min())
    episode.first_s = first if episode.first_s is None else min(episode.first_s, first)
    last = int(cols.seizure_s[pos].max())
    return [
        Label(cdr_id(cols, i), "fraud", episode.scenario.rule, str(actor), episode.episode_id,
              episode.first_s, last, "")
        for i, actor in zip(pos.tolist(), actors.tolist(), strict=True)
    ]  # fmt: skip
