"""The audit port."""

from typing import Protocol


class Audit(Protocol):
    async def record(self, event: str, **fields: str | int | bool | None) -> None:
        """Append one event. Callers pass identifiers and outcomes only, never a secret."""
        ...

    async def close(self) -> None: ...
