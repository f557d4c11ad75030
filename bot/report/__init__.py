"""Usage and insights: what the audit trail says the bot did over a period (resets and
unlocks by day, success, drop-outs, methods, lockouts, hand-offs, tickets saved), counted
by `bot.report.usage` and shown as text, JSON and an HTML page with SVG charts."""

from bot.report.settings import ReportSettings
from bot.report.usage import Usage, count_usage, window_start

__all__ = ["ReportSettings", "Usage", "count_usage", "window_start"]
