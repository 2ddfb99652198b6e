"""The one place the harness builds boto3 clients, from one target description.

A target is a region, optional credentials profile and optional endpoint URL (the emulator for `local`).
`AWS_ENDPOINT_URL` is honoured when the target gives no endpoint, as boto3 itself does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, cast

import boto3
from botocore.config import Config


@dataclass(frozen=True)
class Target:
    """Where a run sends its traffic. `local` targets point at the embedded emulator on loopback."""

    name: str
    region: str = "us-east-1"
    profile: str | None = None
    endpoint_url: str | None = None  # the emulator (or the limits proxy for Kinesis) when local
    kinesis_endpoint_url: str | None = None  # the limits proxy in front of the emulator's Kinesis API
    is_local: bool = False
    allowed_streams: tuple[str, ...] = field(default_factory=tuple)
    # An AWS-kind target served by the local stack's emulator (`--target emulator`): it takes the staging
    # code path, but signs with the emulator's fake credentials, never the user's.
    emulator: bool = False
    # The Glue Schema Registry's endpoint when it is not the emulator's (the local stack serves Glue apart,
    # infra/local/glue_server.py); AWS_ENDPOINT_URL_GLUE is honoured when none is given.
    glue_endpoint_url: str | None = None

    def resolved_endpoint(self, service: str) -> str | None:
        if service == "kinesis" and self.kinesis_endpoint_url:
            return self.kinesis_endpoint_url
        if service == "glue" and (self.glue_endpoint_url or os.environ.get("AWS_ENDPOINT_URL_GLUE")):
            return self.glue_endpoint_url or os.environ.get("AWS_ENDPOINT_URL_GLUE")
        return self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")


def session_for(target: Target) -> boto3.Session:
    if target.is_local or target.emulator:
        return boto3.Session(
            region_name=target.region, aws_access_key_id="test", aws_secret_access_key="test"
        )
    return boto3.Session(profile_name=target.profile, region_name=target.region)


def client(
    target: Target,
    service: str,
    *,
    session: boto3.Session | None = None,
    max_pool_connections: int = 32,
    retries: int = 3,
) -> Any:
    """A boto3 client for `service` at `target`; pass `session` to share one per process/thread."""
    config = Config(
        max_pool_connections=max_pool_connections,
        retries={"max_attempts": retries, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    chosen: Any = cast(Any, session or session_for(target))  # the stubs only type literal service names
    return chosen.client(service, endpoint_url=target.resolved_endpoint(service), config=config)
