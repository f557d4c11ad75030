"""`sspr-bot report`: usage and insights over a period, from the audit trail (the Redis
stream when Redis is the store, else the file; `bot.report.trail`). Text is aligned
tables; `--json` one JSON document; `--html FILE` also writes the page `/admin/report`
serves. Reading changes nothing and is not itself audited."""

import argparse
import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from bot.commands.configured import configured_settings
from bot.commands.errors import OperatorError


def print_report(args: argparse.Namespace) -> int:
    from bot.report import window_start
    from bot.report.page_html import usage_page
    from bot.report.text import usage_document, usage_text
    from bot.report.trail import TrailUnreadable, usage_from_trail
    from bot.secrets import Secrets

    settings = configured_settings(args, interactive=True)
    now = datetime.now(UTC)
    try:
        since = window_start(args.since, now)
    except ValueError as error:
        raise OperatorError(f"report: --since {error}") from None
    try:
        usage = asyncio.run(
            usage_from_trail(settings, Secrets.from_environment(), since=since, until=now)
        )
    except TrailUnreadable as error:
        raise OperatorError(f"report: {error}") from None
    if args.html is not None:
        _write_private(args.html, usage_page(usage))
    if args.json:
        print(json.dumps(usage_document(usage), indent=2))
    else:
        print(usage_text(usage), end="")
    return 0


def _write_private(path: Path, text: str) -> None:
    """The page holds counts, never a name, yet is the admin's to share: mode 0600."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as error:
        raise OperatorError(f"report: cannot write {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
