"""Structured logs: one JSON object per line, or plain text for a person at a terminal.

Log calls pass identifiers and outcomes through `extra`; nothing secret is ever handed to a
logger, so nothing here needs to scrub.

A line written during a turn names the conversation's `correlation_id`, the one its audit
events carry, so a log search and `sspr-bot audit search correlation_id=...` find the same
conversation. The turn runner opens the scope (`correlated`) and names the id as soon as it
knows it (`correlate`); a context variable carries it into everything the turn awaits and
the background work it starts, and nothing outside the turn.
"""

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
CORRELATION_FIELD = "correlation_id"

_correlation: ContextVar[str | None] = ContextVar(CORRELATION_FIELD, default=None)


@contextmanager
def correlated() -> Iterator[None]:
    """A turn's scope: its lines name the conversation once `correlate` has named it."""
    token = _correlation.set(None)
    try:
        yield
    finally:
        _correlation.reset(token)


def correlate(correlation_id: str | None) -> None:
    """Name the conversation the lines written from now on in this scope belong to."""
    _correlation.set(correlation_id or None)


class CorrelationFilter(logging.Filter):
    """Adds the turn's correlation id to a record that does not name one itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        correlation_id = _correlation.get()
        if correlation_id is not None and not hasattr(record, CORRELATION_FIELD):
            setattr(record, CORRELATION_FIELD, correlation_id)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        correlation_id = getattr(record, CORRELATION_FIELD, None)
        return f"{text} [{correlation_id}]" if correlation_id else text


def configure(level: str, style: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if style == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(CorrelationFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("transitions", "microsoft_agents", "msal"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
