"""AWS Signature Version 4 for JSON-protocol POSTs (Kinesis PutRecords), with the signing key cached.

botocore rebuilds the canonical request through several generic layers and re-derives the signing key on
every call. The key only depends on (secret, day, region, service), so it is derived once a day; per
request only the payload hash and the string to sign change. The unit tests compare the Authorization
header with botocore's SigV4Auth for the same request and timestamp.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Protocol

ALGORITHM = "AWS4-HMAC-SHA256"


class Credentials(Protocol):
    """What botocore's ReadOnlyCredentials (session.get_credentials().get_frozen_credentials()) holds."""

    @property
    def access_key(self) -> str: ...
    @property
    def secret_key(self) -> str: ...
    @property
    def token(self) -> str | None: ...


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


class SigV4Signer:
    """Signs POST requests for one region and service; `credentials` is called per request, so refreshed
    (instance role, SSO) credentials are picked up when botocore renews them."""

    def __init__(self, region: str, service: str, credentials: Callable[[], Credentials]) -> None:
        self.region = region
        self.service = service
        self._credentials = credentials
        # (secret, day, key), replaced as one tuple so concurrent signers never pair a key with another day
        self._cached: tuple[str, str, bytes] = ("", "", b"")

    def _signing_key(self, secret_key: str, day: str) -> bytes:
        cached_secret, cached_day, key = self._cached
        if (cached_secret, cached_day) != (secret_key, day):
            key = _hmac(("AWS4" + secret_key).encode("utf-8"), day)
            key = _hmac(key, self.region)
            key = _hmac(key, self.service)
            key = _hmac(key, "aws4_request")
            self._cached = (secret_key, day, key)
        return key

    def sign(
        self, headers: Mapping[str, str], body: bytes, *, path: str = "/", now: dt.datetime | None = None
    ) -> dict[str, str]:
        """`headers` (must include Host) plus X-Amz-Date, X-Amz-Security-Token (if any), Authorization."""
        credentials = self._credentials()
        moment = now or dt.datetime.now(dt.UTC)
        amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        signed = dict(headers)
        signed["X-Amz-Date"] = amz_date
        if credentials.token:
            signed["X-Amz-Security-Token"] = credentials.token
        canonical = sorted((name.lower(), " ".join(value.split())) for name, value in signed.items())
        signed_names = ";".join(name for name, _ in canonical)
        canonical_request = "\n".join(
            (
                "POST",
                path,
                "",  # no query string
                "".join(f"{name}:{value}\n" for name, value in canonical),
                signed_names,
                hashlib.sha256(body).hexdigest(),
            )
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "\n".join(
            (ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest())
        )
        signature = hmac.new(
            self._signing_key(credentials.secret_key, day), string_to_sign.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        signed["Authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return signed
