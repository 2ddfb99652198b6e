"""What the report says about the plan beyond the recommendation table: the recommendation as a card, where
each plan input came from, the quota checks, the cost per item (plan, and metered vs predicted as ran) and
the resource use per CDR. Plain strings and Tables, laid out by html.py and markdown.py.
"""

from __future__ import annotations

from typing import Any

from capacity.fit import formula
from capacity.quotas import AS_OF as PRICES_AS_OF
from reports import cost
from reports.content import Table, num
from reports.summary import Summary

# resource_use_per_cdr key -> what it is, per CDR (capacity/resource_use.py describe())
RESOURCE_USE_LABELS: tuple[tuple[str, str], ...] = (
    ("dynamodb_write_units", "DynamoDB write units"),
    ("dynamodb_read_units", "DynamoDB read units"),
    ("output_records", "output-stream records"),
    ("output_put_payload_units", "output-stream PUT payload units"),
    ("output_bytes", "output-stream bytes"),
    ("s3_puts", "S3 PUT requests"),
    ("s3_bytes", "S3 bytes archived"),
    ("sqs_billed_requests", "SQS billed requests"),
    ("eventbridge_events", "EventBridge events"),
    ("log_bytes", "CloudWatch log bytes"),
)


def recommendation_card(summary: Summary) -> list[tuple[str, str]]:
    """The recommended configuration, the way an operator deploys it, with its price."""
    rec = summary["recommendation"]
    design = summary["profile"].get("design_rate_rps")
    card = [("input shards", str(rec["shards"]))]
    if "output_shards" in rec:
        card.append(("output shards", str(rec["output_shards"])))
    card += [
        ("parallelization factor", str(rec["parallelization_factor"])),
        ("batch size / window", f"{rec['batch_size']:,} records / {rec['batching_window_s']:g} s"),
        ("memory", f"{rec['memory_mb']:,} MB {rec['architecture']}"),
        ("stream / consumer", f"{rec['stream_mode'].lower()} / {rec['consumer_mode']}"),
        ("monthly cost", f"${num(rec['monthly_cost_usd'], 2)}"),
        ("per million CDRs", f"${num(summary['cost_per_million_cdrs_usd'], 4)}"),
    ]
    if isinstance(design, int | float):
        card.insert(0, ("sized for", f"{design:,.0f} records/s × {rec['slo']['headroom_factor']:g} headroom"))
    return card


def _use_source(summary: Summary) -> tuple[str, str]:
    """(kind, detail) of the resource use per CDR the plan priced."""
    use = (summary.get("plan_details") or {}).get("resource_use_per_cdr") or {}
    source = str(use.get("source") or "")
    if not source:
        return "not recorded", "an older summary: the plan priced its built-in defaults"
    if source.startswith("measured"):
        return "measured here", source
    if source.startswith("benchmark default"):
        return "benchmark default", source
    if source.startswith("file"):
        return "file", source
    return "given", source


def provenance_table(summary: Summary) -> Table:
    """Each input of the plan, its value, and where it came from."""
    profile = summary["profile"]
    inputs = summary.get("plan_inputs") or {}
    model = summary["service_time_model"]
    local = summary["target"]["is_local"]
    here = "measured here (scale model)" if local else "measured here"
    rows: list[tuple[str, ...]] = []
    design = profile.get("design_rate_rps")
    scale = inputs.get("scale", profile.get("scale"))
    if isinstance(design, int | float):
        scaled = f" ÷ scale {scale:g}" if isinstance(scale, int | float) and scale != 1 else ""
        rows.append(
            (
                "design rate",
                f"{design:,.0f} records/s",
                f"profile: peak step {max(profile['steps']):g}{scaled}",
            )
        )
    rows.append(("record size", f"{profile['record_bytes']:,.0f} B", f"{here}: bytes per accepted record"))
    rows.append(
        (
            "service time",
            formula(model["a_ms"], model["b_ms_per_record"], model.get("c_ms_per_kib", 0.0)),
            f"{here}: fit over {model['n_invocations']:,} invocations (R² {model['r2']:.2f})"
            + (", includes the emulator's CPU" if local else ""),
        )
    )
    kind, detail = _use_source(summary)
    use = (summary.get("plan_details") or {}).get("resource_use_per_cdr") or {}
    writes = use.get("dynamodb_write_units")
    rows.append(
        (
            "resource use per CDR",
            f"{writes:.2f} DynamoDB write units, …" if isinstance(writes, int | float) else "-",
            f"{kind}: {detail}",
        )
    )
    cold = inputs.get("cold_start")
    if isinstance(cold, dict) and isinstance(cold.get("init_ms"), int | float):
        rows.append(
            (
                "cold start",
                f"INIT {cold['init_ms']:,.0f} ms + first call {cold['first_call_ms']:,.0f} ms",
                str(cold.get("source", "")),
            )
        )
    key = inputs.get("partition_key") or profile.get("partition_key")
    if key:
        share = inputs.get("hot_key_share")
        rows.append(
            (
                "partition keys",
                str(key) + (f" (hot key {share:.0%})" if isinstance(share, int | float) else ""),
                "assumption: the profile's key distribution",
            )
        )
    slo = summary["recommendation"]["slo"]
    rows.append(
        (
            "SLO and headroom",
            f"e2e p99 ≤ {slo['e2e_p99_ms']:,.0f} ms, IteratorAge ≤ {slo['iterator_age_max_ms']:,.0f} ms, "
            f"×{slo['headroom_factor']:g}",
            "requirement: the profile",
        )
    )
    rows.append(
        (
            "prices and quotas",
            "us-east-1 list prices, AWS default quotas",
            f"table: capacity/quotas.py ({PRICES_AS_OF})",
        )
    )
    return Table(("plan input", "value", "where it came from"), rows)


def _limit_text(limit: Any) -> str:
    return "no published limit" if limit is None else num(float(limit))


def quota_table(summary: Summary) -> Table | None:
    checks = (summary.get("plan_details") or {}).get("quota_checks")
    if not checks:
        return None
    rows = []
    for row in sorted(checks, key=lambda r: (bool(r.get("ok", True)), r.get("service", ""))):
        ok = bool(row.get("ok", True))
        over = row.get("over_by")
        verdict = "ok" if ok else ("FAILS" + (f" ×{over:g}" if isinstance(over, int | float) else ""))
        rows.append(
            (
                verdict,
                str(row.get("service", "")),
                str(row.get("quota", "")),
                num(float(row.get("required", 0.0)), 1),
                _limit_text(row.get("limit")),
                "" if ok else str(row.get("remedy", "")),
            )
        )
    return Table(("check", "service", "quota", "required", "default limit", "remedy"), rows)


def failed_quota_lines(summary: Summary, *, remedy: bool = True) -> list[str]:
    """One line per failed quota check: what, by how much, and (unless `remedy` is False) the remedy."""
    checks = (summary.get("plan_details") or {}).get("quota_checks") or []
    return [
        f"{row.get('service')} {row.get('quota')}: needs {num(float(row.get('required', 0.0)))}, "
        f"the default limit is {_limit_text(row.get('limit'))}"
        + (f" (×{row['over_by']:g})" if isinstance(row.get("over_by"), int | float) else "")
        + (f"; remedy: {row['remedy']}" if remedy and row.get("remedy") else "")
        for row in checks
        if not row.get("ok", True)
    ]


def cost_table(summary: Summary) -> Table:
    """Every priced item: the plan's USD/month, and per million CDRs the plan, and as ran predicted vs
    metered when the run has them."""
    rec = summary["recommendation"]
    plan = rec["cost_breakdown_usd"]
    plan_1m = cost.plan_per_million(summary)
    ran = cost.run_cost(summary)
    predicted = cost.breakdown_per_million(ran["predicted"]) if ran else {}
    metered = cost.breakdown_per_million(ran["metered"]) if ran else {}
    items = sorted(set(plan) | set(predicted) | set(metered), key=lambda i: (cost.item_label(i), i))
    headers: tuple[str, ...] = ("cost item", "plan USD/month", "plan USD/1M CDRs")
    if ran:
        headers += ("as ran: predicted USD/1M", "as ran: metered USD/1M")

    def row(
        label: str, month: float | None, per_1m: float | None, pred: float | None, met: float | None
    ) -> tuple[str, ...]:
        cells: tuple[str, ...] = (
            label,
            "-" if month is None else f"${num(month, 2)}",
            "-" if per_1m is None else f"${per_1m:,.4f}",
        )
        if ran:
            cells += tuple("-" if v is None else f"${v:,.4f}" for v in (pred, met))
        return cells

    rows = [
        row(cost.item_label(i), plan.get(i), plan_1m.get(i), predicted.get(i), metered.get(i)) for i in items
    ]
    rows.append(
        row(
            "total",
            float(rec["monthly_cost_usd"]),
            summary["cost_per_million_cdrs_usd"],
            float(ran["predicted"]["per_million_cdrs_usd"]) if ran else None,
            float(ran["metered"]["per_million_cdrs_usd"]) if ran else None,
        )
    )
    return Table(headers, rows)


def resource_use_table(summary: Summary) -> Table | None:
    use = (summary.get("plan_details") or {}).get("resource_use_per_cdr")
    if not use:
        return None
    rows = [
        (label, f"{float(use[key]):,.4g}")
        for key, label in RESOURCE_USE_LABELS
        if isinstance(use.get(key), int | float)
    ]
    return Table(("per CDR", "priced"), rows)


def dynamodb_capacity_line(summary: Summary) -> str | None:
    modes = (summary.get("plan_details") or {}).get("dynamodb_capacity_modes")
    if not isinstance(modes, dict) or "on_demand_usd" not in modes:
        return None
    text = f"DynamoDB on-demand ${num(float(modes['on_demand_usd']), 2)}/month"
    if isinstance(modes.get("provisioned_usd"), int | float):
        text += (
            f" vs provisioned ${num(float(modes['provisioned_usd']), 2)}/month "
            f"({num(float(modes.get('provisioned_wcu', 0)))} WCU, "
            f"{num(float(modes.get('provisioned_rcu', 0)))} RCU)"
        )
    if modes.get("cheaper"):
        text += f": {modes['cheaper']} is cheaper"
    return text + (f" ({modes['note']})." if modes.get("note") else ".")


def exactly_once_table(summary: Summary) -> Table | None:
    designs = (summary.get("plan_details") or {}).get("exactly_once_designs")
    if not isinstance(designs, list) or not designs:
        return None
    keys = [k for k in designs[0] if k != "note"] if isinstance(designs[0], dict) else []
    rows = [tuple(_cell(d.get(k)) for k in keys) for d in designs if isinstance(d, dict)]
    return Table(tuple(k.replace("_", " ") for k in keys), rows)


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else ("yes" if value else "no")
    if isinstance(value, int | float):
        return f"{value:,.4g}"
    return str(value)


def payload_formats_table(summary: Summary) -> Table | None:
    """The plan of each payload format x aggregation (details.payload_formats), the chosen one marked."""
    formats = (summary.get("plan_details") or {}).get("payload_formats")
    if not isinstance(formats, dict) or not formats.get("rows"):
        return None
    rows = [
        (
            f"{row.get('record_format')} x {row.get('aggregation')}"
            + (" (chosen)" if row.get("chosen") else ""),
            num(float(row.get("bytes_per_cdr", 0.0))),
            num(float(row.get("cdrs_per_record", 1.0))),
            str(row.get("shards")),
            f"{row.get('shards_by_records')}/{row.get('shards_by_bytes')}",
            str(row.get("put_payload_units_per_record")),
            f"${num(float(row.get('monthly_cost_usd', 0.0)), 2)}",
            "unbounded" if row.get("e2e_p99_ms") is None else num(float(row["e2e_p99_ms"])),
            "met" if row.get("slo_met") else "missed",
        )
        for row in formats["rows"]
        if isinstance(row, dict)
    ]
    return Table(
        (
            "format x aggregation",
            "bytes/CDR",
            "CDRs/record",
            "shards",
            "min by records/bytes",
            "PUT units/record",
            "USD/month",
            "e2e p99 ms",
            "SLO",
        ),
        rows,
    )


def payload_formats_line(summary: Summary) -> str | None:
    formats = (summary.get("plan_details") or {}).get("payload_formats")
    if not isinstance(formats, dict) or not formats.get("sentence"):
        return None
    source = (formats.get("measured_defaults") or {}).get("source")
    return f"Payload: {formats['sentence']}." + (
        f" Bytes and decode cost per format: {source}." if source else ""
    )


def cold_start_table(summary: Summary) -> Table | None:
    """Cold starts and provisioned concurrency (details.cold_starts, details.provisioned_concurrency): the
    plan's lanes without PC against PC of shards x PF on the alias."""
    details = summary.get("plan_details") or {}
    cold, pc = details.get("cold_starts"), details.get("provisioned_concurrency")
    if not isinstance(cold, dict) or not isinstance(pc, dict):
        return None
    per_day = float(cold["per_day"]["total"])
    rows = [
        (
            "no provisioned concurrency",
            f"{per_day:,.1f}",
            num(float(pc["e2e_p99_without_ms"])),
            f"${num(float(pc['monthly_usd_without']), 2)}",
        ),
        (
            f"provisioned concurrency {pc['provisioned_concurrency']:,} (shards x PF)",
            "0",
            num(float(pc["e2e_p99_with_ms"])),
            f"${num(float(pc['monthly_usd_with']), 2)}",
        ),
    ]
    return Table(("function", "cold starts/day", "e2e p99 ms", "Lambda USD/month"), rows)


def cold_start_line(summary: Summary) -> str | None:
    """Where the cold-start figures come from, and whether provisioned concurrency pays."""
    details = summary.get("plan_details") or {}
    cold, pc = details.get("cold_starts"), details.get("provisioned_concurrency")
    if not isinstance(cold, dict) or not isinstance(pc, dict):
        return None
    times = cold["times"]
    return (
        f"A cold start costs {num(float(times['penalty_ms']))} ms (INIT {num(float(times['init_ms']))} ms + "
        f"first call {num(float(times['first_call_ms']))} ms; {times['source']}), "
        f"{num(float(cold.get('penalty_at_plan_memory_ms', times['penalty_ms'])))} ms at the plan's memory; "
        "counted over "
        f"{cold['per_day_schedule']}. Provisioned concurrency: {pc['sentence']}"
    )
