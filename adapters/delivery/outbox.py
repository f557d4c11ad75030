"""The development stand-in for SMTP and Twilio: messages go to a file and the console.

Nothing leaves the machine, so the bot runs with no mail server or SMS account. This is
the one place a one-time code is written down, which is why the file is private (0600)
and why it must never be configured in production.
"""

import json
import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from adapters.delivery.base import DeliveryFailed, Message, Receipt


class OutboxSettings(BaseModel):
    """The `outbox` delivery section: for development and demos only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        default="outbox.jsonl",
        min_length=1,
        description=(
            "File that receives every email, SMS and voice message as one JSON line, "
            "codes included. A relative path is taken from the data directory."
        ),
    )
    console: bool = Field(
        default=True,
        description="Also print each message on the bot's console, so a demo user sees the code.",
    )


class Console(Protocol):
    """Where the outbox echoes each message: the process's stdout, or a terminal chat that
    must keep its prompt in order around the line."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class OutboxSender:
    """A CodeSender that appends to a JSON-lines file and echoes to a console stream."""

    def __init__(self, path: Path, console: Console | None = sys.stdout) -> None:
        self._path = path
        self._console = console

    async def send(self, message: Message) -> Receipt:
        """Append the message; raises DeliveryFailed when the file cannot be written."""
        receipt = Receipt("outbox", secrets.token_hex(8))
        record = {
            "id": receipt.id,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "medium": message.medium,
            "to": message.to,
            "subject": message.subject,
            "body": message.body,
            "locale": message.locale,
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self._deliver(line, message)
        return receipt

    async def close(self) -> None:
        """Nothing to release: the file is opened for each message."""

    def _deliver(self, line: str, message: Message) -> None:
        """One append on the event loop: a line to a local file takes microseconds, less
        than a trip to a worker thread, which waits under load for busy threads."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "a", encoding="utf-8") as file:
                file.write(line)
                file.flush()
        except OSError as exc:
            raise DeliveryFailed(
                f"outbox {self._path}: cannot be written ({exc.strerror})"
            ) from None
        if self._console is not None:
            subject = f" ({message.subject})" if message.subject else ""
            body = " ".join(message.body.split())
            self._console.write(f"[outbox] {message.medium} to {message.to}{subject}: {body}\n")
            self._console.flush()
