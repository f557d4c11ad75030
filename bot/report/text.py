"""The usage report as a person reads it in a terminal (aligned tables) and as one JSON
document for scripts and dashboards. Both say the same numbers under the same names."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.report.usage import Usage

Row = Sequence[str | int]


def usage_document(usage: Usage) -> dict[str, Any]:
    """The report as plain JSON data; `success_rate` is null when nobody started."""
    rate = usage.success_rate
    return {
        "since": usage.since.isoformat(timespec="seconds"),
        "until": usage.until.isoformat(timespec="seconds"),
        "conversations": {
            "started": usage.started,
            "succeeded": usage.succeeded,
            "success_rate": None if rate is None else round(rate, 4),
        },
        "resets": usage.resets,
        "unlocks": usage.unlocks,
        "by_day": [
            {"day": day.day.isoformat(), "resets": day.resets, "unlocks": day.unlocks}
            for day in usage.days
        ],
        "dropouts": dict(usage.dropouts),
        "methods": dict(usage.methods),
        "lockouts": {"events": usage.lockouts, "accounts": usage.locked_accounts},
        "handoffs": {"total": usage.handoffs, "by_reason": dict(usage.handoff_reasons)},
        "tickets_saved": {
            "tickets": usage.tickets_saved,
            "cost_per_ticket": usage.cost_per_ticket,
            "currency": usage.currency,
            "amount": usage.amount_saved,
        },
    }


def usage_text(usage: Usage) -> str:
    """The report as aligned tables: the totals, then each breakdown."""
    sections = [
        f"Usage and insights, {_moment(usage.since)} to {_moment(usage.until)}",
        table(("", ""), summary_rows(usage)),
        "Resets and unlocks by day\n"
        + table(
            ("Day", "Resets", "Unlocks"),
            [(day.day.isoformat(), day.resets, day.unlocks) for day in usage.days],
        ),
        "Where people drop out (the last step of conversations that did not finish)\n"
        + _or_none(("Last step", "Conversations"), usage.dropouts),
        "Methods used (challenges passed)\n" + _or_none(("Method", "Passed"), usage.methods),
        "Hand-offs by reason\n" + _or_none(("Reason", "Hand-offs"), usage.handoff_reasons),
    ]
    return "\n\n".join(sections) + "\n"


def summary_rows(usage: Usage) -> list[tuple[str, str]]:
    """The totals as (label, value) pairs, shared by the text and the page."""
    return [
        ("Conversations started", str(usage.started)),
        ("Succeeded", f"{usage.succeeded} ({percent(usage.success_rate)})"),
        ("Password resets", str(usage.resets)),
        ("Account unlocks", str(usage.unlocks)),
        ("Lockouts", f"{usage.lockouts} ({_accounts(usage.locked_accounts)})"),
        ("Hand-offs to the helpdesk", str(usage.handoffs)),
        ("Tickets saved", tickets_saved(usage)),
    ]


def tickets_saved(usage: Usage) -> str:
    if not usage.cost_per_ticket:
        return f"{usage.tickets_saved} (set report.cost_per_ticket for an amount)"
    return (
        f"{usage.tickets_saved} x {money(usage.cost_per_ticket, usage.currency)} = "
        f"{money(usage.amount_saved, usage.currency)}"
    )


def money(amount: float, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f} %"


def table(headers: Row, rows: Sequence[Row]) -> str:
    """Columns padded to their widest cell: numbers to the right, words to the left; a
    header row of empty names is left out."""
    shown = [list(headers), *rows] if any(headers) else list(rows)
    widths = [max(len(str(row[column])) for row in shown) for column in range(len(headers))]
    numeric = [all(isinstance(row[column], int) for row in rows) for column in range(len(headers))]
    lines = []
    for row in shown:
        cells = [
            str(cell).rjust(width) if right else str(cell).ljust(width)
            for cell, width, right in zip(row, widths, numeric, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _or_none(headers: Row, counts: Sequence[tuple[str, int]]) -> str:
    return table(headers, counts) if counts else "(none)"


def _accounts(count: int) -> str:
    return "1 account" if count == 1 else f"{count} accounts"


def _moment(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M %Z")
