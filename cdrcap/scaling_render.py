"""The plain-text table of `cdrcap plan --traffic`: every scaling policy over the day, and the verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def render_scaling(scaling: dict[str, Any], console: Console) -> None:
    day = scaling["traffic"]
    table = Table(
        title=f"Scaling policies over {day['minutes']} minutes of {day['source']} "
        f"(peak {day['peak_rps']:,.0f} records/s, mean {day['mean_rps']:,.0f})"
    )
    for column in (
        "policy",
        "usd/month",
        "min over SLO",
        "max IteratorAge ms",
        "throttled records",
        "shard changes",
        "PF changes",
        "shards",
    ):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for policy in scaling["policies"]:
        low, high = policy["shards_min_max"]
        table.add_row(
            policy["policy"] + (" (recommended)" if policy["policy"] == scaling["recommended"] else ""),
            f"{policy['monthly_cost_usd']:,.2f}",
            str(policy["minutes_over_slo"]),
            f"{policy['max_iterator_age_ms']:,.0f}",
            f"{policy['records_throttled']:,}",
            str(policy["shard_count_changes"]),
            str(policy["parallelization_factor_changes"]),
            f"{low}" if low == high else f"{low}-{high}",
        )
    console.print(table)
    console.print(f"Scaling: {scaling['sentence']}")
    chosen = next((p for p in scaling["policies"] if p["policy"] == scaling["recommended"]), None)
    if chosen and chosen.get("schedule"):
        steps = ", ".join(f"{step['at']} {step['shards']}" for step in chosen["schedule"])
        console.print(f"Schedule (UTC, shards): {steps}")
    if scaling.get("batching_window_note"):
        console.print(scaling["batching_window_note"])
