"""Parameters of the synthetic CDR population and traffic; every default is documented in docs/loadgen.md."""

from __future__ import annotations

from dataclasses import dataclass, field

from loadgen.errors import LoadConfigError
from loadgen.synth.numbering import PLANS

# Share of the day's traffic per local hour (a typical mobile network: quiet 02-05, busy hours 10-12, 17-19).
DIURNAL_HOURLY_WEIGHTS: tuple[float, ...] = (
    1.6, 1.0, 0.7, 0.6, 0.7, 1.2, 2.2, 3.6, 4.8, 5.4, 5.9, 6.1,
    5.8, 5.6, 5.5, 5.6, 5.9, 6.2, 6.1, 5.4, 4.6, 3.8, 3.0, 2.2,
)  # fmt: skip

RECORD_TYPES: tuple[str, ...] = ("MOC", "MTC", "SMS_MO", "SMS_MT", "DATA")
FORMATS: tuple[str, ...] = ("json-v1", "json-v2", "csv-v1", "csv-v2")
# Avro v2 with Glue Schema Registry framing: drawn as JSON v2 and rewritten (CdrSynthesizer), so it is no
# template format; --formats and profiles may name it beside FORMATS.
AVRO_FORMAT = "avro"
RECORD_FORMATS: tuple[str, ...] = (*FORMATS, AVRO_FORMAT)


# Scenarios of loadgen/synth/fraud.py that are legitimate traffic shaped like fraud: never labelled, and
# not counted in FraudRates.total(). They come with the fraud (scaled with it): they exist to test the rules.
LOOKALIKES: tuple[str, ...] = ("call_centre", "foreign_business", "a2p_sms", "diaspora")


@dataclass(frozen=True)
class FraudRates:
    """Share of all records in each injected scenario of loadgen/synth/fraud.py (its episode shapes),
    look-alikes included. Per million records: 50 Wangiri and 50 velocity episodes (the ones short enough
    to complete within a few minutes of load, so a run's report has episodes to score), 25 IRSF, 25 of each
    SIM-box, 25 simultaneous, 12.5 SMS spam."""

    wangiri: float = 0.002  # one foreign number rings 40 subscribers once within a minute (MTC, unanswered)
    irsf: float = 0.00015  # a subscriber calls high-risk ranges, 3 lines at once, 6 calls of 10-60 min
    simbox: float = 0.001  # a rotating box: 8 SIMs, one IMEI, one cell, 40 national calls
    simbox_sim: float = 0.001  # one SIM of a box: 40 back-to-back national calls from one cell (~2 h)
    velocity: float = 0.002  # one subscriber floods 40 SMS and call attempts within about a minute
    simultaneous: float = 0.00025  # a cloned SIM: 5 long calls at once from cells all over, twice
    sms_spam: float = 0.0015  # one subscriber texts 120 numbers within about half an hour
    call_centre: float = 0.0025  # look-alike: 100 calls from one cell, 30 % of them customers calling back
    foreign_business: float = 0.001  # look-alike: a foreign number calling 40 subscribers, mostly answered
    a2p_sms: float = 0.0025  # look-alike: 100 bulk SMS from a short code
    diaspora: float = 0.00005  # look-alike: two long calls home to a hot-list country

    @classmethod
    def none(cls) -> FraudRates:
        return cls(**dict.fromkeys(cls.__dataclass_fields__, 0.0))

    def total(self) -> float:
        """The fraud records' share (look-alikes excluded)."""
        return sum(value for name, value in self.__dict__.items() if name not in LOOKALIKES)

    def all_records(self) -> float:
        return sum(self.__dict__.values())


@dataclass(frozen=True)
class DefectRates:
    """Share of all records turned into each kind of defect (each labelled with the expected reason)."""

    truncated_json: float = 0.0005
    wrong_type: float = 0.0005
    invalid_utf8: float = 0.0005
    nul_byte: float = 0.0005
    csv_column_count: float = 0.0005
    unknown_schema_version: float = 0.0005
    negative_duration: float = 0.0005
    end_before_start: float = 0.0005
    invalid_phone_number: float = 0.0005
    duplicate: float = 0.001  # the same payload (same cdr_id) resent
    late: float = 0.001  # seizure hours in the past (still within the accepted age)
    out_of_order: float = 0.002  # a few minutes older than its neighbours
    late_max_s: int = 6 * 3600
    out_of_order_max_s: int = 180

    def as_dict(self) -> dict[str, float]:
        return {
            name: value
            for name, value in self.__dict__.items()
            if isinstance(value, float) and not name.endswith("_s")
        }


@dataclass(frozen=True)
class SynthConfig:
    """The synthetic network: who the subscribers are and how they use it."""

    home_region: str = "US"
    subscribers: int = 1_000_000
    cells: int = 5_000
    zipf_exponent: float = 0.6  # activity weight of rank r is r**-s: the top 1 % make ~16 % of CDRs
    roaming_share: float = 0.03  # subscribers currently abroad (their records carry a visited MCC/MNC)
    record_type_weights: tuple[float, ...] = (0.30, 0.22, 0.16, 0.14, 0.18)  # RECORD_TYPES order
    answer_rate: float = 0.72  # MOC/MTC answered
    duration_median_s: float = 75.0  # lognormal call duration (answered)
    duration_sigma: float = 1.1
    data_duration_median_s: float = 600.0
    data_bytes_median: float = 2.0e6
    international_share: float = 0.06  # MOC/SMS_MO to a foreign number
    short_code_share: float = 0.01  # SMS_MO to a short code
    national_format_share: float = 0.3  # raw numbers as dialled nationally instead of E.164
    format_weights: tuple[float, ...] = (0.45, 0.35, 0.10, 0.10)  # FORMATS order
    # (input mapping name, share of all records): that share is drawn as JSON v1 and written in the switch's
    # layout (loadgen/layouts.py); so format_weights' json-v1 weight must cover the layouts' shares.
    layout_weights: tuple[tuple[str, float], ...] = ()
    # Share of all records drawn as JSON v2 and sent as Avro v2 in GSR framing (within json-v2's weight).
    avro_share: float = 0.0
    msc_count: int = 16
    # Background voice calls one subscriber holds at once at most (one active + one held/waiting call on a
    # handset line; traffic.CallSlots); 0 = no cap (each call's subscriber drawn independently).
    call_lines: int = 2
    spread_s: float = 5.0  # release times of a live batch fall within this many seconds before "now"
    diurnal_hourly_weights: tuple[float, ...] = DIURNAL_HOURLY_WEIGHTS
    fraud: FraudRates = field(default_factory=FraudRates)
    defects: DefectRates = field(default_factory=DefectRates)

    def __post_init__(self) -> None:
        if self.home_region not in PLANS:
            raise LoadConfigError(
                f"home_region {self.home_region!r} has no numbering plan; choose one of {sorted(PLANS)}"
            )
        if self.subscribers < 100 or self.cells < 1:
            raise LoadConfigError(f"subscribers ({self.subscribers}) must be >= 100 and cells >= 1")
        if self.call_lines < 0:
            raise LoadConfigError(f"call_lines ({self.call_lines}) must be >= 1, or 0 for no cap")
        for name, weights, size in (
            ("record_type_weights", self.record_type_weights, len(RECORD_TYPES)),
            ("format_weights", self.format_weights, len(FORMATS)),
            ("diurnal_hourly_weights", self.diurnal_hourly_weights, 24),
        ):
            if len(weights) != size or min(weights) < 0 or sum(weights) <= 0:
                raise LoadConfigError(f"{name} needs {size} non-negative weights with a positive sum")
        for name in ("roaming_share", "answer_rate", "international_share", "short_code_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise LoadConfigError(f"{name}={value} must be within [0, 1]")
        json_v1 = self.format_weights[FORMATS.index("json-v1")] / sum(self.format_weights)
        layouts = sum(share for _, share in self.layout_weights)
        if min((share for _, share in self.layout_weights), default=0.0) < 0 or layouts > json_v1 + 1e-9:
            raise LoadConfigError(
                f"layout shares {dict(self.layout_weights)} must be >= 0 and within the json-v1 share "
                f"({json_v1:.3f}) they are drawn from"
            )
        json_v2 = self.format_weights[FORMATS.index("json-v2")] / sum(self.format_weights)
        if not 0.0 <= self.avro_share <= json_v2 + 1e-9:
            raise LoadConfigError(
                f"avro_share {self.avro_share} must be >= 0 and within the json-v2 share ({json_v2:.3f}) "
                "it is "
                "drawn from"
            )
        if self.fraud.all_records() + sum(self.defects.as_dict().values()) > 0.5:
            raise LoadConfigError("fraud + defect rates exceed half of all records; lower them")
