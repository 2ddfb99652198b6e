"""cdrcap's configuration: targets, load profiles and the compare thresholds, from TOML.

Where it comes from, first match wins: an explicit `--config` file; else, walking up from the working
directory, the first folder with a `cdrcap.toml` (top-level keys) or a `pyproject.toml` with
[tool.cdrcap] (cdrcap.toml wins when both are there); else built-in defaults (the local target, no profiles).
The schema, with every key and default, is docs/config.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from capacity import quotas
from cdrcap.configread import ConfigError, Table
from cdrcap.errors import CdrcapError
from loadgen.keys import KEY_KINDS
from loadgen.kpl import (
    AGGREGATIONS,
    DEFAULT_MAX_BUFFERED_MS,
    MAX_AGGREGATE_BYTES,
    MAX_BUFFERED_MS_LIMIT,
    MIN_AGGREGATE_BYTES,
)
from loadgen.profiles import SHAPES
from loadgen.synth.config import RECORD_FORMATS
from pipeline.constants import EXACTLY_ONCE_DESIGNS
from reports.compare import Thresholds

PARTITION_KEY_STRATEGIES = KEY_KINDS
# Config keys of the record-format mix (TOML-friendly spelling of loadgen's format names).
RECORD_FORMAT_KEYS = tuple(name.replace("-", "_") for name in RECORD_FORMATS)
BATCH_SIZE = (quotas.ESM_BATCH_SIZE_MIN, quotas.ESM_BATCH_SIZE_MAX)
WINDOW_S = (quotas.ESM_BATCHING_WINDOW_S_MIN, quotas.ESM_BATCHING_WINDOW_S_MAX)
PF = (quotas.ESM_PARALLELIZATION_FACTOR_MIN, quotas.ESM_PARALLELIZATION_FACTOR_MAX)
_LOCAL_TARGET = "local"
_EMULATOR_TARGET = "emulator"
# Where `cdrcap up` keeps the local stack's state (infra.local.stack.DEFAULT_STATE_DIR; not imported here).
_DEFAULT_LOCAL_STATE_DIR = ".cdrcap/local"


@dataclass(frozen=True)
class Slo:
    e2e_p99_ms: float = 5_000.0
    iterator_age_max_ms: float = 10_000.0
    headroom_factor: float = 1.3


@dataclass(frozen=True)
class Target:
    name: str
    region: str = "us-east-1"
    is_local: bool = False
    endpoint_url: str | None = None
    aws_profile: str | None = None  # a named profile in ~/.aws; credentials themselves never live here
    allowed_streams: tuple[str, ...] = ()
    # An AWS-kind target whose endpoint is the local stack running from this state dir (`cdrcap up`): the
    # staging code path (change-set deploy, stack outputs, CloudWatch measurement) against the emulator.
    local_stack_state_dir: str | None = None


def _builtin_targets() -> dict[str, Target]:
    return {
        _LOCAL_TARGET: Target(_LOCAL_TARGET, is_local=True),
        _EMULATOR_TARGET: Target(_EMULATOR_TARGET, local_stack_state_dir=_DEFAULT_LOCAL_STATE_DIR),
    }


@dataclass(frozen=True)
class Profile:
    name: str
    steps: tuple[float, ...]  # offered records/s per step
    shape: str = "step"
    step_duration_s: float = 60.0
    shards: int = 2
    batch_size: int = 100
    batching_window_s: float = 1.0
    parallelization_factor: int = 1
    scale: float = 1.0  # per-shard limits x scale on the local stack (0.1 -> 100 records/s per shard)
    record_formats: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({"json_v2": 1.0}))
    partition_key: str = "subscriber"
    hot_key_share: float = 0.0  # share of records on one hot key: skews one shard
    fraud_rate: float = 0.0
    defect_rate: float = 0.0
    seed: int = 1
    slo: Slo = field(default_factory=Slo)
    aggregation: str = "none"  # "kpl": the load generator packs CDRs per shard into KPL aggregates
    max_buffered_ms: float = DEFAULT_MAX_BUFFERED_MS
    aggregation_max_bytes: int = MAX_AGGREGATE_BYTES
    # A day to run the scaling policies over, at the run's design rate: "diurnal" or "burst", with optional
    # ",burst=FACTORxMINUTES@HH:MM" storms (the `cdrcap plan --traffic` shapes); "" for none.
    scaling_day: str = ""
    # The local stack's ExactlyOnceDesign (CDRCAP_EXACTLY_ONCE; docs/pipeline.md): what the run measures and
    # the plan's DynamoDB hot-partition check assumes.
    exactly_once: str = EXACTLY_ONCE_DESIGNS[0]

    @property
    def duration_s(self) -> float:
        return self.step_duration_s * len(self.steps)

    def to_dict(self) -> dict[str, Any]:
        # Not asdict(): it deep-copies, and the read-only mapping proxy does not copy.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return data | {
            "steps": list(self.steps),
            "record_formats": dict(self.record_formats),
            "slo": asdict(self.slo),
        }


@dataclass(frozen=True)
class Config:
    source: Path | None
    default_target: str = _LOCAL_TARGET
    default_profile: str = "demo"
    runs_dir: Path = Path("runs")
    baselines_dir: Path = Path("baselines")
    targets: Mapping[str, Target] = field(default_factory=lambda: MappingProxyType(_builtin_targets()))
    profiles: Mapping[str, Profile] = field(default_factory=lambda: MappingProxyType({}))
    thresholds: Thresholds = field(default_factory=Thresholds)

    def target(self, name: str | None = None) -> Target:
        name = name or self.default_target
        if name not in self.targets:
            raise ConfigError(
                f"unknown target {name!r}: configured targets are {', '.join(sorted(self.targets))}"
            )
        return self.targets[name]

    def profile(self, name: str | None = None) -> Profile:
        name = name or self.default_profile
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise ConfigError(
                f"unknown profile {name!r} (configured: {known}); define [tool.cdrcap.profiles.{name}] in "
                "pyproject.toml or [profiles.{name}] in cdrcap.toml, see docs/config.md"
            )
        return self.profiles[name]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able view for a run's metadata (the caller scrubs it before writing)."""
        return {
            "source": str(self.source) if self.source else None,
            "default_target": self.default_target,
            "default_profile": self.default_profile,
            "runs_dir": str(self.runs_dir),
            "baselines_dir": str(self.baselines_dir),
            "targets": {
                n: {**asdict(t), "allowed_streams": list(t.allowed_streams)} for n, t in self.targets.items()
            },
            "profiles": {n: p.to_dict() for n, p in self.profiles.items()},
            "thresholds": asdict(self.thresholds),
        }


def _slo(table: Table) -> Slo:
    slo = Slo(
        e2e_p99_ms=table.number("e2e_p99_ms", Slo.e2e_p99_ms, positive=True),
        iterator_age_max_ms=table.number("iterator_age_max_ms", Slo.iterator_age_max_ms, positive=True),
        headroom_factor=table.number("headroom_factor", Slo.headroom_factor, low=1.0),
    )
    table.done()
    return slo


def _record_formats(table: Table) -> Mapping[str, float]:
    unknown = sorted(set(table.data) - set(RECORD_FORMAT_KEYS))
    if unknown:
        raise table.fail(f"{table.path}.{unknown[0]}", f"one of {', '.join(RECORD_FORMAT_KEYS)}", unknown[0])
    mix = {key: table.number(key, low=0.0, high=1.0) for key in table.data}
    total = sum(mix.values())
    if not mix or abs(total - 1.0) > 1e-6:
        raise table.fail(table.path, "shares that sum to 1", dict(table.data))
    return MappingProxyType(mix)


def _profile(name: str, table: Table) -> Profile:
    d = Profile(name=name, steps=())
    profile = Profile(
        name=name,
        steps=table.positive_numbers("steps"),
        shape=table.string("shape", d.shape, choices=SHAPES),
        step_duration_s=table.number("step_duration_s", d.step_duration_s, positive=True),
        shards=table.integer("shards", d.shards, positive=True),
        batch_size=table.integer("batch_size", d.batch_size, low=BATCH_SIZE[0], high=BATCH_SIZE[1]),
        batching_window_s=table.number(
            "batching_window_s", d.batching_window_s, low=WINDOW_S[0], high=WINDOW_S[1]
        ),
        parallelization_factor=table.integer(
            "parallelization_factor", d.parallelization_factor, low=PF[0], high=PF[1]
        ),
        scale=table.number("scale", d.scale, low=0.001, high=1.0),
        record_formats=_record_formats(table.table("record_formats", dict(d.record_formats))),
        partition_key=table.string("partition_key", d.partition_key, choices=PARTITION_KEY_STRATEGIES),
        hot_key_share=table.number("hot_key_share", d.hot_key_share, low=0.0, high=1.0),
        fraud_rate=table.number("fraud_rate", d.fraud_rate, low=0.0, high=1.0),
        defect_rate=table.number("defect_rate", d.defect_rate, low=0.0, high=1.0),
        seed=table.integer("seed", d.seed, low=0),
        slo=_slo(table.table("slo", {})),
        aggregation=table.string("aggregation", d.aggregation, choices=AGGREGATIONS),
        max_buffered_ms=table.number(
            "max_buffered_ms", d.max_buffered_ms, positive=True, high=MAX_BUFFERED_MS_LIMIT
        ),
        aggregation_max_bytes=table.integer(
            "aggregation_max_bytes",
            d.aggregation_max_bytes,
            low=MIN_AGGREGATE_BYTES,
            high=MAX_AGGREGATE_BYTES,
        ),
        scaling_day=_scaling_day(table, d.scaling_day),
        exactly_once=table.string("exactly_once", d.exactly_once, choices=EXACTLY_ONCE_DESIGNS),
    )
    table.done()
    return profile


def _scaling_day(table: Table, default: str) -> str:
    from cdrcap import traffic_spec  # numpy; only for a profile that sets the key

    value = table.string("scaling_day", default)
    if value:
        try:
            traffic_spec.at_rate(value, 1_000.0)
        except CdrcapError as error:
            raise table.fail(
                f"{table.path}.scaling_day",
                f"{' or '.join(traffic_spec.GENERATED_SHAPES)}, then optional ,burst=FACTORxMINUTES@HH:MM "
                f'(e.g. "diurnal,burst=8x10@18:00"): {error}',
                value,
            ) from error
    return value


def _thresholds(table: Table) -> Thresholds:
    # The confidence is a percentage of a two-sided interval; every other key is a limit >= 0.
    bounds = {"confidence_pct": {"low": 50.0, "high": 99.9}}
    thresholds = Thresholds(
        **{
            f.name: table.number(f.name, f.default, **bounds.get(f.name, {"low": 0.0}))
            for f in fields(Thresholds)
        }
    )
    table.done()
    return thresholds


def load_thresholds(path: Path) -> Thresholds:
    """Thresholds from a TOML file: [tool.cdrcap.compare], [compare], or the keys at the top level."""
    data = _read_toml(path)
    if "tool" in data:
        table = Table(data, "", str(path)).table("tool").table("cdrcap").table("compare")
    elif "compare" in data:
        table = Table(data, "", str(path)).table("compare")
    else:
        table = Table(data, "", str(path))
    return _thresholds(table)


def _target(name: str, table: Table) -> Target:
    target = Target(
        name=name,
        region=table.string("region", Target.region),
        is_local=table.boolean("is_local", name == _LOCAL_TARGET),
        endpoint_url=table.optional_string("endpoint_url"),
        aws_profile=table.optional_string("aws_profile"),
        allowed_streams=table.strings("allowed_streams", []),
        local_stack_state_dir=table.optional_string(
            "local_stack_state_dir", _DEFAULT_LOCAL_STATE_DIR if name == _EMULATOR_TARGET else None
        ),
    )
    table.done()
    return target


def parse_config(data: Mapping[str, Any], *, path: str, source: Path | None) -> Config:
    """Build a Config from the [tool.cdrcap] table (`path` is its key path, for error messages)."""
    root = Table(data, path, str(source) if source else "config")
    targets = _builtin_targets()
    targets_table = root.table("targets", {})
    targets |= {name: _target(name, targets_table.table(name)) for name in targets_table.data}
    targets_table.done()
    profiles_table = root.table("profiles", {})
    profiles = {name: _profile(name, profiles_table.table(name)) for name in profiles_table.data}
    profiles_table.done()
    thresholds = _thresholds(root.table("compare", {}))
    config = Config(
        source=source,
        default_target=root.string("default_target", _LOCAL_TARGET),
        default_profile=root.string("default_profile", "demo"),
        runs_dir=Path(root.string("runs_dir", "runs")),
        baselines_dir=Path(root.string("baselines_dir", "baselines")),
        targets=MappingProxyType(targets),
        profiles=MappingProxyType(profiles),
        thresholds=thresholds,
    )
    root.done()
    if config.default_target not in targets:
        raise root.fail(
            root.key_path("default_target"), f"one of {', '.join(sorted(targets))}", config.default_target
        )
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None


def _from_file(path: Path) -> Config:
    data = _read_toml(path)
    if path.name == "pyproject.toml" or "tool" in data:
        section = data.get("tool", {}).get("cdrcap", {})
        return parse_config(section, path="tool.cdrcap", source=path)
    return parse_config(data, path="", source=path)


def find_config_file(start: Path) -> Path | None:
    """The cdrcap.toml, or pyproject.toml with [tool.cdrcap], nearest to `start` going up."""
    for folder in (start, *start.parents):
        if (folder / "cdrcap.toml").is_file():
            return folder / "cdrcap.toml"
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "cdrcap" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def load_config(explicit: Path | None = None, *, cwd: Path | None = None) -> Config:
    """The configuration in effect: explicit file > nearest cdrcap.toml > pyproject.toml > defaults."""
    path = explicit or find_config_file((cwd or Path.cwd()).resolve())
    return _from_file(path) if path else Config(source=None)
