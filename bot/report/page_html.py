"""The usage report as one self-contained HTML page: the totals, then each breakdown as a
chart drawn in inline SVG with its numbers in a table beside it.

The page has no script, no style sheet, no `style` attribute and loads nothing, so it
shows the same as a file on disk and under the password page's Content-Security-Policy
(`default-src 'none'`, styles and scripts from the bot's own origin only): colours and
type are SVG presentation attributes, which a CSP does not govern. Every word that comes
from the trail (step names, methods, reasons) is escaped.
"""

from collections.abc import Sequence
from datetime import datetime
from html import escape

from bot.report.text import money, percent, summary_rows
from bot.report.usage import Day, Usage

WIDTH = 720
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
RESET_COLOUR = "#2b6cb0"
UNLOCK_COLOUR = "#38a169"
DROPPED_COLOUR = "#dd6b20"
BAR_COLOUR = "#4a5568"
INK = "#1a202c"
GRID = "#cbd5e0"
_DAYS_HEIGHT = 240
_MARGIN = 40
_BAR_ROW = 26
_LABEL_WIDTH = 200


def usage_page(usage: Usage) -> str:
    since, until = _moment(usage.since), _moment(usage.until)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>sspr-bot usage and insights, {since} to {until}</title></head>",
            "<body>",
            "<h1>Usage and insights</h1>",
            f"<p>From {since} to {until} (UTC), as the audit trail recorded it.</p>",
            _summary(usage),
            _section(
                "Resets and unlocks by day",
                days_chart(usage.days),
                _details(
                    "The numbers by day",
                    ("Day", "Resets", "Unlocks"),
                    [(day.day.isoformat(), day.resets, day.unlocks) for day in usage.days],
                ),
            ),
            _section("Success rate", success_chart(usage), ""),
            _counted(
                "Where people drop out",
                "dropouts",
                "The last step of conversations that did not finish",
                ("Last step", "Conversations"),
                usage.dropouts,
            ),
            _counted(
                "Methods used",
                "methods",
                "Challenges passed, by method",
                ("Method", "Passed"),
                usage.methods,
            ),
            _counted(
                "Hand-offs by reason",
                "handoffs",
                "Hand-offs to the helpdesk, by reason",
                ("Reason", "Hand-offs"),
                usage.handoff_reasons,
            ),
            "</body>",
            "</html>",
            "",
        ]
    )


def days_chart(days: Sequence[Day]) -> str:
    """Resets and unlocks stacked, one bar a day, on a scale of whole numbers."""
    top = max([day.resets + day.unlocks for day in days] + [1])
    inner_width, inner_height = WIDTH - 2 * _MARGIN, _DAYS_HEIGHT - 2 * _MARGIN
    step = inner_width / max(len(days), 1)
    label_every = max(1, len(days) // 8)
    parts = [_grid(top, inner_width, inner_height)]
    for index, day in enumerate(days):
        x = _MARGIN + index * step + step * 0.15
        base = float(_MARGIN + inner_height)
        for count, colour, kind in (
            (day.resets, RESET_COLOUR, "resets"),
            (day.unlocks, UNLOCK_COLOUR, "unlocks"),
        ):
            if count:
                height = inner_height * count / top
                base -= height
                parts.append(
                    f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{step * 0.7:.1f}" '
                    f'height="{height:.1f}" fill="{colour}"><title>{day.day}: {count} '
                    f"{kind}</title></rect>"
                )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + step * 0.35:.1f}" y="{_DAYS_HEIGHT - _MARGIN + 16}" '
                f'text-anchor="middle" fill="{INK}" {FONT}>{day.day.strftime("%d %b")}</text>'
            )
    parts.append(_legend([("Resets", RESET_COLOUR), ("Unlocks", UNLOCK_COLOUR)]))
    return _svg("days", "Password resets and account unlocks by day", _DAYS_HEIGHT, parts)


def success_chart(usage: Usage) -> str:
    """One bar: the conversations that succeeded, then those that did not."""
    height = 70
    inner = WIDTH - 2 * _MARGIN
    parts = []
    if usage.started:
        done = inner * usage.succeeded / usage.started
        parts.append(_bar(_MARGIN, 14, done, f"Succeeded: {usage.succeeded}", RESET_COLOUR))
        parts.append(
            _bar(
                _MARGIN + done,
                14,
                inner - done,
                f"Did not finish: {usage.started - usage.succeeded}",
                DROPPED_COLOUR,
            )
        )
    label = (
        f"{usage.succeeded} of {usage.started} conversations succeeded "
        f"({percent(usage.success_rate)})"
    )
    parts.append(f'<text x="{_MARGIN}" y="60" fill="{INK}" {FONT}>{escape(label)}</text>')
    return _svg("success", label, height, parts)


def bars_chart(name: str, title: str, counts: Sequence[tuple[str, int]]) -> str:
    """One horizontal bar a row, longest first, each with its label and its count."""
    top = max([count for _, count in counts] + [1])
    inner = WIDTH - _LABEL_WIDTH - _MARGIN
    parts = []
    for row, (label, count) in enumerate(counts):
        y = 10 + row * _BAR_ROW
        parts.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{y + 14}" text-anchor="end" fill="{INK}" '
            f"{FONT}>{escape(label)}</text>"
        )
        length = max(inner * count / top, 1.0)
        parts.append(_bar(_LABEL_WIDTH, y, length, f"{label}: {count}", BAR_COLOUR))
        parts.append(
            f'<text x="{_LABEL_WIDTH + length + 6:.1f}" y="{y + 14}" fill="{INK}" '
            f"{FONT}>{count}</text>"
        )
    return _svg(name, title, 20 + max(len(counts), 1) * _BAR_ROW, parts)


def _summary(usage: Usage) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td>{escape(value)}</td></tr>'
        for label, value in summary_rows(usage)
    )
    cost = (
        f"<p>Each ticket counted at {escape(money(usage.cost_per_ticket, usage.currency))} "
        "(report.cost_per_ticket).</p>"
        if usage.cost_per_ticket
        else ""
    )
    return f'<table id="summary"><caption>Totals</caption>{rows}</table>{cost}'


def _counted(
    heading: str, name: str, title: str, headers: tuple[str, str], counts: Sequence[tuple[str, int]]
) -> str:
    if not counts:
        return _section(heading, "", "<p>None in this period.</p>")
    return _section(heading, bars_chart(name, title, counts), _table(headers, counts))


def _section(heading: str, chart: str, table: str) -> str:
    return f"<section><h2>{escape(heading)}</h2>\n{chart}\n{table}</section>"


def _details(summary: str, headers: Sequence[str], rows: Sequence[Sequence[str | int]]) -> str:
    return f"<details><summary>{escape(summary)}</summary>{_table(headers, rows)}</details>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str | int]]) -> str:
    head = "".join(f'<th scope="col">{escape(header)}</th>' for header in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _svg(name: str, title: str, height: int, parts: Sequence[str]) -> str:
    return (
        f'<svg class="chart" id="chart-{name}" role="img" aria-labelledby="chart-{name}-title" '
        f'xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}"><title id="chart-{name}-title">{escape(title)}</title>'
        + "".join(parts)
        + "</svg>"
    )


def _bar(x: float, y: float, length: float, title: str, colour: str) -> str:
    return (
        f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{length:.1f}" height="18" '
        f'fill="{colour}"><title>{escape(title)}</title></rect>'
    )


def _grid(top: int, width: float, height: float) -> str:
    """Level lines at whole numbers (at most five), each with its number at the left."""
    step = max(1, -(-top // 5))
    lines = []
    for level in range(0, top + 1, step):
        y = _MARGIN + height - height * level / top
        lines.append(
            f'<line x1="{_MARGIN}" x2="{_MARGIN + width}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{_MARGIN - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}" '
            f"{FONT}>{level}</text>"
        )
    return "".join(lines)


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    parts = []
    for index, (label, colour) in enumerate(entries):
        x = _MARGIN + index * 110
        parts.append(
            f'<rect x="{x}" y="10" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 18}" y="20" fill="{INK}" {FONT}>{escape(label)}</text>'
        )
    return "".join(parts)


def _moment(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")
