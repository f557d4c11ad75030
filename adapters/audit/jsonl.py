"""The audit trail as a JSON-lines file: one event per line, appended, never rewritten; and
how `sspr-bot audit` reads it back.

A line is written whole with one append, so a reader (or a log shipper tailing the file)
never sees half an event, and a crash loses at most the event being written. The append
runs on the event loop itself: a line of a few hundred bytes to a local file takes
microseconds, where a trip to a worker thread costs more than the write and, under load,
waits for the interpreter lock behind busy threads (a directory client's, for one), which
held turns up by hundreds of milliseconds.
"""

import asyncio
import json
import os
from collections import deque
from collections.abc import AsyncGenerator
from datetime import datetime
from pathlib import Path

# How often `follow` looks for lines appended since: the file gives no signal of its own.
FOLLOW_EVERY = 0.25


class JsonlFile:
    """An AuditSink that appends lines to a private (0600) file."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._descriptor: int | None = None

    def write(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        if self._descriptor is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        written = os.write(self._descriptor, data)
        while written < len(data):
            written += os.write(self._descriptor, data[written:])

    async def close(self) -> None:
        if self._descriptor is not None:
            descriptor, self._descriptor = self._descriptor, None
            os.close(descriptor)


class JsonlReader:
    """The file's lines as written, oldest first; a missing file has none."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0

    async def last(self, count: int) -> list[str]:
        """The newest `count` lines; `follow` then goes on after them."""
        self._offset = 0
        return list(deque(self._new_lines(), maxlen=count))

    async def since(self, at: float | None) -> AsyncGenerator[str, None]:
        """Every whole line in the file now recorded from `at` (epoch seconds; None: all)
        on, and every line that does not say when; `follow` then goes on after them."""
        self._offset = 0
        for line in self._new_lines():
            if at is None or _recorded_at(line, default=at) >= at:
                yield line

    async def follow(self) -> AsyncGenerator[str, None]:
        """Lines appended after those read, as they come (from the start again when the
        file was rotated and is shorter than what was read)."""
        while True:
            for line in self._new_lines():
                yield line
            await asyncio.sleep(FOLLOW_EVERY)

    def _new_lines(self) -> list[str]:
        try:
            with self._path.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size < self._offset:
                    self._offset = 0
                file.seek(self._offset)
                data = file.read(size - self._offset)
        except FileNotFoundError:
            return []
        whole = data[: data.rfind(b"\n") + 1]
        self._offset += len(whole)
        return [line for line in whole.decode("utf-8", "replace").splitlines() if line]


def _recorded_at(line: str, *, default: float) -> float:
    """When a line says its event happened (epoch seconds); `default` if it does not."""
    try:
        return datetime.fromisoformat(json.loads(line)["at"]).timestamp()
    except (ValueError, KeyError, TypeError):
        return default
