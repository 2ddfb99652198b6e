"""The load generator's stream allow-list cannot be bypassed by a typo in a flag or an endpoint."""

from types import SimpleNamespace
from typing import Any

import pytest

from loadgen.errors import LoadgenError, StreamNotAllowed
from loadgen.options import OPTIONS, LoadOptions, is_loopback_url
from loadgen.safety import check_stream_allowed
from loadgen.targets import local_target


def parsed(**flags: Any) -> SimpleNamespace:
    """Locust's parsed options: every default, then `flags` (cdr_* attribute names)."""
    defaults = {flag.lstrip("-").replace("-", "_"): default for flag, _, default, _ in OPTIONS}
    return SimpleNamespace(**{**defaults, **flags})


REMOTE_LOOKALIKES = [
    "http://localhost.attacker.example:4566",
    "http://127.0.0.1.nip.io:4566",
    "http://localhostile.example",
    "https://kinesis.us-east-1.amazonaws.com",
    "http://127.0.0.1:notaport",
    "ftp://127.0.0.1:4566",
]


@pytest.mark.parametrize("endpoint", REMOTE_LOOKALIKES)
def test_a_lookalike_loopback_endpoint_allows_no_stream(endpoint: str) -> None:
    # Given an endpoint that only LOOKS like the emulator and no explicit allow-list
    options = LoadOptions.from_parsed(parsed(cdr_endpoint=endpoint))
    # Then nothing is allowed and the producer's check refuses the target stream
    assert options.allowed_streams == () and not options.target.is_local
    with pytest.raises(StreamNotAllowed):
        check_stream_allowed(options.target, options.stream)


@pytest.mark.parametrize("endpoint", REMOTE_LOOKALIKES)
def test_a_lookalike_loopback_endpoint_is_not_a_local_target(endpoint: str) -> None:
    with pytest.raises(LoadgenError, match="not on loopback"):
        local_target(endpoint, "cdrcap-cdr-in")


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4567", "http://localhost:4566", "http://[::1]:4566"])
def test_a_real_loopback_endpoint_allows_only_the_target_stream(endpoint: str) -> None:
    options = LoadOptions.from_parsed(parsed(cdr_endpoint=endpoint, cdr_target_stream="cdrcap-cdr-in"))
    assert is_loopback_url(endpoint) and options.allowed_streams == ("cdrcap-cdr-in",)
    check_stream_allowed(options.target, "cdrcap-cdr-in")
    with pytest.raises(StreamNotAllowed):
        check_stream_allowed(options.target, "cdrcap-cdr-out")


@pytest.mark.parametrize(
    "stream",
    [
        "cdrcap-cdr-in ",
        "Cdrcap-cdr-in",
        "cdrcap-cdr-i",
        "cdrcap-cdr-in*",
        "*",
        "arn:aws:kinesis:us-east-1:1:stream/cdrcap-cdr-in",
    ],
)
def test_a_typo_in_the_stream_name_is_refused_not_matched(stream: str) -> None:
    # Given an AWS target that allows exactly one stream
    options = LoadOptions.from_parsed(parsed(cdr_allowed_streams="cdrcap-cdr-in", cdr_target_stream=stream))
    # Then a near-miss, a wildcard or an ARN spelling is refused (exact match only)
    with pytest.raises(StreamNotAllowed):
        check_stream_allowed(options.target, options.stream)


def test_an_allow_list_typo_fails_closed() -> None:
    # Given "--cdr-allowed-streams 'cdrcap-cdr-in, '" (a stray space): the stream with the space is allowed
    options = LoadOptions.from_parsed(
        parsed(cdr_allowed_streams=" cdrcap-cdr-in,", cdr_target_stream="cdrcap-cdr-in")
    )
    # Then the real stream name is not silently matched by a fuzzy rule
    with pytest.raises(StreamNotAllowed, match="Did you mean"):
        check_stream_allowed(options.target, options.stream)
