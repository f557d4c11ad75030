"""The audit trail as a JSON-lines file: one event per line, appended, never rewritten.

A line is written whole with one append, so a reader (or a log shipper tailing the file)
never sees half an event, and a crash loses at most the event being written. The append
runs on the event loop itself: a line of a few hundred bytes to a local file takes
microseconds, where a trip to a worker thread costs more than the write and, under load,
waits for the interpreter lock behind busy threads (a directory client's, for one), which
held turns up by hundreds of milliseconds.
"""

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

_SECRET_WORDS: Final = frozenset({"code", "password", "passwd", "pwd", "answer", "secret", "token"})


class AuditSettings(BaseModel):
    """The `audit` section of the bot's configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        default="audit.jsonl",
        min_length=1,
        description=(
            "File that receives one JSON line per audit event (who, what, outcome; never a "
            "secret). A relative path is taken from the data directory."
        ),
    )


def _looks_like_a_secret(field: str) -> bool:
    """Whether a field name contains a word that names a secret (`new_password`, `totpSecret`).

    Deliberately broad: `status_code` is refused too; such a field takes another name.
    """
    words = re.findall(r"[a-z0-9]+", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", field).lower())
    return any(word in _SECRET_WORDS or word.removesuffix("s") in _SECRET_WORDS for word in words)


class JsonlAudit:
    """An Audit that appends `{"at", "event", ...fields}` lines to a private (0600) file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._descriptor: int | None = None

    async def record(self, event: str, **fields: str | int | bool | None) -> None:
        """Append one event; raises ValueError for a field named like a secret, or `at`.

        The check is a guard rail against a careless caller, not a secret detector: values
        are written as given.
        """
        refused = sorted(name for name in fields if name == "at" or _looks_like_a_secret(name))
        if refused:
            raise ValueError(f"audit event {event!r}: field names refused: {', '.join(refused)}")
        entry = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event}
        line = json.dumps(entry | fields, ensure_ascii=False) + "\n"
        self._append(line.encode("utf-8"))

    async def close(self) -> None:
        if self._descriptor is not None:
            descriptor, self._descriptor = self._descriptor, None
            os.close(descriptor)

    def _append(self, data: bytes) -> None:
        if self._descriptor is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        written = os.write(self._descriptor, data)
        while written < len(data):
            written += os.write(self._descriptor, data[written:])
