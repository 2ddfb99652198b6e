"""Synthetic CDRs: a seeded subscriber population, traffic, fraud and defects, encoded to wire payloads."""

from loadgen.synth.config import DefectRates, FraudRates, SynthConfig
from loadgen.synth.labels import Label, LabelWriter, read_labels
from loadgen.synth.synthesizer import CdrSynthesizer, SynthBatch

__all__ = [
    "CdrSynthesizer",
    "DefectRates",
    "FraudRates",
    "Label",
    "LabelWriter",
    "SynthBatch",
    "SynthConfig",
    "read_labels",
]
