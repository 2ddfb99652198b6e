"""Shared polling vs enhanced fan-out for one workload and SLO: which consumer mode wins, and by how much.

Each mode's grid (capacity/search.py) already carries its read path (poll cadence with N consumers sharing
5 GetRecords/s per shard, or EFO's push delay) and its price (EFO's consumer-shard-hours and GB). This
module reduces each grid to two numbers a team decides on, the cheapest configuration that meets the SLO
and the lowest e2e p99 the mode can reach at all, and says in one sentence which mode wins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from capacity import quotas
from capacity.search import Grid, Slo, Workload

MODE_NAMES = {"shared": "shared polling", "efo": "enhanced fan-out"}


def _ms(seconds: float) -> float | None:
    return round(seconds * 1000.0, 1) if np.isfinite(seconds) else None


def mode_summary(grid: Grid, polling_consumers: int) -> dict[str, Any]:
    """The cheapest SLO-meeting configuration of one mode (else the closest miss) and its best p99."""
    stable_p99 = np.where(np.isfinite(grid.hot.e2e_p99_s), grid.hot.e2e_p99_s, np.inf)
    feasible = bool(grid.feasible.any())
    if feasible:
        index = int(np.argmin(np.where(grid.feasible, grid.cost_usd, np.inf)))
    else:
        index = int(np.lexsort((grid.cost_usd, grid.excess, grid.violation))[0])
    summary: dict[str, Any] = {
        "feasible": feasible,
        "monthly_cost_usd": round(float(grid.cost_usd[index]), 2),
        "e2e_latency_p99_ms": _ms(float(grid.hot.e2e_p99_s[index])),
        "shards": int(grid.shards[index]),
        "parallelization_factor": int(grid.parallelization_factor[index]),
        "best_e2e_latency_p99_ms": _ms(float(stable_p99.min())),
        "typical_delivery_ms": round(grid.read.typical_delivery_ms, 1),
        "polling_consumers": polling_consumers if grid.consumer_mode == "shared" else polling_consumers - 1,
    }
    if not feasible:
        summary["missed"] = grid.violated(index)
    return summary


def consumer_mode_comparison(grids: list[Grid], workload: Workload, slo: Slo) -> dict[str, Any]:
    """Per mode: cost and predicted p99 of its best choice; the winner, the margin and a sentence."""
    consumers = 1 + workload.other_consumers
    comparison: dict[str, Any] = {grid.consumer_mode: mode_summary(grid, consumers) for grid in grids}
    modes = [grid.consumer_mode for grid in grids]
    feasible = [mode for mode in modes if comparison[mode]["feasible"]]
    if feasible:
        winner = min(feasible, key=lambda mode: comparison[mode]["monthly_cost_usd"])
        comparison["cheapest"] = winner
    else:  # nothing meets the SLO: the mode that comes closest, by its best reachable p99
        winner = min(modes, key=lambda mode: comparison[mode]["best_e2e_latency_p99_ms"] or np.inf)
    comparison["winner"] = winner
    others = [mode for mode in modes if mode != winner]
    if others:
        other = others[0]
        won, lost = comparison[winner], comparison[other]
        if len(feasible) == 2:
            comparison["saving_usd_per_month"] = round(lost["monthly_cost_usd"] - won["monthly_cost_usd"], 2)
        if won["e2e_latency_p99_ms"] is not None and lost["e2e_latency_p99_ms"] is not None:
            comparison["p99_difference_ms"] = round(lost["e2e_latency_p99_ms"] - won["e2e_latency_p99_ms"], 1)
    comparison["sentence"] = verdict(comparison, modes, feasible, consumers, slo)
    return comparison


def verdict(
    comparison: dict[str, Any], modes: list[str], feasible: list[str], consumers: int, slo: Slo
) -> str:
    winner = comparison["winner"]
    head = f"For e2e p99 <= {slo.e2e_p99_ms:,.0f} ms with {consumers} consumer{'s' * (consumers != 1)}"
    if len(modes) == 1:
        return f"{head}, only {MODE_NAMES[winner]} was searched."
    other = next(mode for mode in modes if mode != winner)
    won, lost = comparison[winner], comparison[other]
    shared_ms, efo_ms = comparison["shared"]["typical_delivery_ms"], comparison["efo"]["typical_delivery_ms"]
    delivery = (
        f"{MODE_NAMES['shared']} fetches each shard every {shared_ms:,.0f} ms "
        f"({quotas.SHARD_GET_RECORDS_CALLS_PER_S} GetRecords/s per shard shared by {consumers}), "
        f"{MODE_NAMES['efo']} pushes in ~{efo_ms:,.0f} ms"
    )
    if len(feasible) == 2:
        saving = comparison["saving_usd_per_month"]
        share = saving / lost["monthly_cost_usd"] if lost["monthly_cost_usd"] else 0.0
        return (
            f"{head}, {MODE_NAMES[winner]} wins: {won['monthly_cost_usd']:,.2f} vs "
            f"{lost['monthly_cost_usd']:,.2f} USD/month ({saving:,.2f} or {share:.0%} less), predicted p99 "
            f"{_p99(won)} vs {_p99(lost)} ms; {delivery}."
        )
    if len(feasible) == 1:
        return (
            f"{head}, only {MODE_NAMES[winner]} meets the SLO ({won['monthly_cost_usd']:,.2f} USD/month, "
            f"predicted p99 {_p99(won)} ms); the best {MODE_NAMES[other]} can reach is p99 "
            f"{_p99(lost, best=True)} ms ({lost['monthly_cost_usd']:,.2f} USD/month for its closest); "
            f"{delivery}."
        )
    return (
        f"{head}, neither mode meets the SLO; {MODE_NAMES[winner]} comes closest (best p99 "
        f"{_p99(won, best=True)} vs {_p99(lost, best=True)} ms); {delivery}."
    )


def _p99(summary: dict[str, Any], *, best: bool = False) -> str:
    value = summary["best_e2e_latency_p99_ms" if best else "e2e_latency_p99_ms"]
    return "unbounded" if value is None else f"{value:,.0f}"
