"""Keyed pseudonyms: subscriber tokens for alerts and state keys, short member hashes for distinct counts.

The clear MSISDN never leaves the engine: DynamoDB keys, alert details and evidence carry only HMAC tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from pipeline.constants import ENV_FRAUD_TOKEN_KEY
from pipeline.fraud.errors import RulesConfigError

MIN_KEY_BYTES = 16  # below this an attacker could brute-force the key from a few known MSISDN/token pairs
MEMBER_HASH_BYTES = 4  # 32-bit member hashes: collision odds ~3e-5 at the 128-member cap (birthday bound)


class SubscriberTokenizer:
    """HMAC-SHA256(key, number) truncated to `token_hex_chars`; stable across shards and cold starts."""

    def __init__(self, key: bytes, *, token_hex_chars: int = 24) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise RulesConfigError(
                f"fraud token key has {len(key)} bytes; use at least {MIN_KEY_BYTES} random bytes "
                f"(e.g. `openssl rand -hex 32` in {ENV_FRAUD_TOKEN_KEY})"
            )
        if not 16 <= token_hex_chars <= 64:
            raise RulesConfigError(f"token_hex_chars={token_hex_chars}; use a value in 16..64")
        self._key = key
        self._token_hex_chars = token_hex_chars
        self._cache: dict[str, str] = {}
        self._member_cache: dict[str, str] = {}

    @classmethod
    def from_env(cls, *, token_hex_chars: int = 24) -> SubscriberTokenizer:
        raw = os.environ.get(ENV_FRAUD_TOKEN_KEY, "")
        if not raw:
            raise RulesConfigError(
                f"{ENV_FRAUD_TOKEN_KEY} is not set; set it to a secret of at least {MIN_KEY_BYTES} bytes "
                "(hex or text), the same value for every function instance"
            )
        return cls(raw.encode(), token_hex_chars=token_hex_chars)

    def token(self, number: str) -> str:
        cached = self._cache.get(number)
        if cached is None:
            digest = hmac.new(self._key, number.encode(), hashlib.sha256).hexdigest()
            cached = digest[: self._token_hex_chars]
            if len(self._cache) > 200_000:  # bound warm-container memory; a miss only costs one HMAC
                self._cache.clear()
            self._cache[number] = cached
        return cached

    def member(self, value: str) -> str:
        """A short keyed hash of a B-number, recipient or cell, for the distinct-count sets."""
        cached = self._member_cache.get(value)
        if cached is None:
            digest = hashlib.blake2b(value.encode(), digest_size=MEMBER_HASH_BYTES, key=self._key[:64])
            cached = digest.hexdigest()
            if len(self._member_cache) > 200_000:  # same bound as the token cache
                self._member_cache.clear()
            self._member_cache[value] = cached
        return cached
