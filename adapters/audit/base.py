"""The audit port, the sinks a trail writes its lines to, and what observes its events."""

from collections.abc import Mapping
from typing import Any, Protocol


class Audit(Protocol):
    async def record(self, event: str, **fields: str | int | bool | None) -> None:
        """Append one event. Callers pass identifiers and outcomes only, never a secret."""
        ...

    async def close(self) -> None: ...


class AuditSink(Protocol):
    """Where a trail's finished lines go: a file, stdout, a Redis stream.

    `write` runs on the event loop within the turn, so it never waits on the network: a
    sink that must (the Redis stream) queues the line and sends it in the background. It
    raises when the line cannot be taken; the trail logs that and the turn goes on.
    """

    name: str

    def write(self, line: str) -> None: ...

    async def close(self) -> None: ...


class AuditObserver(Protocol):
    """What reads each event as the trail writes it (the metrics' counters): given the
    event itself, so nothing parses the line back. Runs on the event loop within the turn."""

    def observe(self, event: Mapping[str, Any]) -> None: ...
