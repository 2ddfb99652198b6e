import argparse

import pytest

from infra.aws import Target
from loadgen.errors import LoadConfigError, LoadgenError
from loadgen.options import OPTIONS, LoadOptions
from loadgen.targets import LocalTarget, local_target


def _parsed(**overrides) -> argparse.Namespace:
    values = {flag.lstrip("-").replace("-", "_"): default for flag, _, default, _ in OPTIONS}
    return argparse.Namespace(**{**values, **overrides})


def test_a_loopback_endpoint_allows_only_the_target_stream():
    options = LoadOptions.from_parsed(_parsed(cdr_endpoint="http://127.0.0.1:4566", cdr_target_stream="s1"))
    assert options.target.is_local
    assert options.target.allowed_streams == ("s1",)


def test_a_remote_endpoint_allows_nothing_unless_listed():
    remote = LoadOptions.from_parsed(_parsed(cdr_endpoint=""))
    assert remote.target.allowed_streams == ()
    listed = LoadOptions.from_parsed(_parsed(cdr_endpoint="", cdr_allowed_streams="a,b"))
    assert listed.target.allowed_streams == ("a", "b")
    assert not listed.target.is_local


def test_options_enforce_the_hard_caps():
    with pytest.raises(LoadConfigError, match="max_records"):
        LoadOptions.from_parsed(_parsed(cdr_max_records=10**9))
    with pytest.raises(LoadConfigError, match="max_duration_s"):
        LoadOptions.from_parsed(_parsed(cdr_duration=10 * 24 * 3600.0))


def test_local_target_refuses_a_non_loopback_endpoint():
    with pytest.raises(LoadgenError, match="not on loopback"):
        local_target("https://kinesis.eu-west-1.amazonaws.com", "cdrcap-cdr-in")


def test_local_target_without_a_stack_says_how_to_get_one(monkeypatch):
    monkeypatch.setattr("loadgen.targets.local_stack_target", lambda state_dir: None)
    with pytest.raises(LoadgenError, match=r"cdrcap up.*--endpoint-url"):
        local_target(None, None)


def test_local_target_uses_the_running_stack_and_its_scale(monkeypatch):
    stack = LocalTarget(
        Target(name="local", is_local=True, allowed_streams=("p-cdr-in", "p-cdr-out")), "p-cdr-in", 0.1
    )
    monkeypatch.setattr("loadgen.targets.local_stack_target", lambda state_dir: stack)
    assert local_target(None, None) == stack
    with pytest.raises(LoadgenError, match="not a stream of the local stack"):
        local_target(None, "other")
