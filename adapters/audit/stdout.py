"""The audit trail on standard output, one JSON line per event, for containers whose log
collector reads the process's output. The line goes out at once (flushed), so a collector
never holds half an event and a crash loses none that was recorded."""

import sys
from typing import TextIO


class StdoutLines:
    """An AuditSink writing to `stream` (the process's stdout unless told otherwise)."""

    name = "stdout"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def write(self, line: str) -> None:
        stream = self._stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()

    async def close(self) -> None:
        return None
