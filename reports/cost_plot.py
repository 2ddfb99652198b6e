"""The cost picture of the first screen: the plan's monthly cost as one bar stacked per AWS service, and,
when the run metered itself, the predicted and the metered cost per million CDRs of what ran, side by side.
"""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from reports import cost
from reports.data import RunData
from reports.summary import Summary

_COLOURS = dict(cost.SERVICES)
# Hatches as well as colours: neighbouring segments stay apart in greyscale and for any colour vision.
_HATCHES = dict(zip(_COLOURS, ("", "//", "\\\\", "..", "xx", "--", "oo", "", "++", "**"), strict=True))


def _stack(axes: Axes, y: float, per_service: Mapping[str, float], *, legend: bool) -> None:
    left = 0.0
    for service, usd in per_service.items():
        axes.barh(
            y, usd, left=left, height=0.6, color=_COLOURS[service], hatch=_HATCHES[service],
            edgecolor="white", linewidth=0.5, label=service if legend else None,
        )  # fmt: skip
        left += usd
    axes.annotate(
        f"${left:,.2f}" if left < 1000 else f"${left:,.0f}",
        (left, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize="small",
    )  # fmt: skip


def _money_axis(axes: Axes, unit: str) -> None:
    axes.xaxis.set_major_locator(MaxNLocator(4))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"${x:,.0f}" if x >= 10 else f"${x:,.2g}"))
    axes.set_xlabel(unit)
    axes.margins(x=0.25)  # room for the total beside the longest bar
    axes.spines[["top", "right"]].set_visible(False)


def draw_cost(figure: Figure, summary: Summary, data: RunData) -> None:
    rec = summary["recommendation"]
    plan = cost.by_service(rec["cost_breakdown_usd"])
    ran = cost.run_cost(summary)
    monthly, per_million = figure.subplots(2, 1, height_ratios=(1, 2)) if ran else (figure.subplots(), None)
    _stack(monthly, 0, plan, legend=True)
    monthly.set_yticks([0], ["plan"])
    design = summary["profile"].get("design_rate_rps")
    at = f" at {design:,.0f} records/s" if isinstance(design, int | float) else ""
    monthly.set_title(f"plan{at}", fontsize="medium", loc="left")
    _money_axis(monthly, "USD/month")
    if ran and per_million is not None:
        predicted = cost.by_service(cost.breakdown_per_million(ran["predicted"]))
        metered = cost.by_service(cost.breakdown_per_million(ran["metered"]))
        _stack(per_million, 1, predicted, legend=False)
        _stack(per_million, 0, metered, legend=False)
        per_million.set_yticks([1, 0], ["predicted", "metered"])
        per_million.set_title("as ran: predicted vs metered", fontsize="medium", loc="left")
        _money_axis(per_million, "USD per million CDRs")
    figure.legend(loc="outside lower center", ncol=3, fontsize="small", frameon=False)


def cost_alt(summary: Summary) -> str:
    rec = summary["recommendation"]
    plan = cost.by_service(rec["cost_breakdown_usd"])
    parts = ", ".join(f"{service} ${usd:,.2f}" for service, usd in plan.items())
    text = f"Stacked bar of the plan's monthly cost, ${rec['monthly_cost_usd']:,.2f}, by service: {parts}."
    ran = cost.run_cost(summary)
    if ran:
        text += (
            f" Below, per million CDRs of the configuration that ran: predicted "
            f"${float(ran['predicted']['per_million_cdrs_usd']):,.4f}, metered "
            f"${float(ran['metered']['per_million_cdrs_usd']):,.4f}."
        )
    return text
