from pathlib import Path

import pytest

from capacity import quotas
from capacity.errors import CapacityError


def test_prices_override_replaces_only_the_given_keys() -> None:
    # Given a price table for another region with one price changed
    prices = quotas.Prices.from_mapping({"region": "eu-west-1", "kds_shard_hour_usd": 0.017})
    # Then that price changes and the others keep their us-east-1 defaults
    assert prices.region == "eu-west-1"
    assert prices.kds_shard_hour_usd == 0.017
    assert prices.lambda_requests_per_million_usd == quotas.US_EAST_1.lambda_requests_per_million_usd


def test_unknown_price_key_is_named_in_the_error() -> None:
    with pytest.raises(CapacityError, match="kds_shard_hours_usd"):
        quotas.Prices.from_mapping({"kds_shard_hours_usd": 0.02})


def test_negative_price_is_rejected() -> None:
    with pytest.raises(CapacityError, match="non-negative"):
        quotas.Prices.from_mapping({"kds_shard_hour_usd": -1})


def test_prices_load_from_a_toml_prices_table(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[prices]\nregion = "ap-south-1"\nlambda_gb_second_arm64_usd = 0.0000131\n')
    prices = quotas.load_prices(path)
    assert prices.region == "ap-south-1"
    assert prices.lambda_gb_second_usd("arm64") == 0.0000131


def test_prices_file_that_is_not_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text("this is = = not toml")
    with pytest.raises(CapacityError, match="not valid"):
        quotas.load_prices(path)


def test_lambda_price_depends_on_architecture() -> None:
    prices = quotas.US_EAST_1
    assert prices.lambda_gb_second_usd("arm64") < prices.lambda_gb_second_usd("x86_64")
    with pytest.raises(CapacityError, match="sparc"):
        prices.lambda_gb_second_usd("sparc")
