import pytest

from capacity import quotas
from loadgen.cost import estimate_run_cost


def test_an_hour_of_one_shard_costs_one_shard_hour_plus_put_units():
    # Given 1 M records of 500 B over one hour on one shard
    estimate = estimate_run_cost(1_000_000, 500, 3_600, shards=1)
    # Then provisioned = one shard-hour + 1 M PUT payload units, on-demand = one stream-hour + 1 M KiB in
    prices = quotas.US_EAST_1
    assert estimate.provisioned_usd == pytest.approx(
        prices.kds_shard_hour_usd + prices.kds_put_payload_units_per_million_usd
    )
    assert estimate.on_demand_usd == pytest.approx(
        prices.kds_on_demand_stream_hour_usd + 1_000_000 / 1024**2 * prices.kds_on_demand_gb_in_usd
    )
    assert "$" in estimate.describe(1) and quotas.AS_OF in estimate.describe(1)
