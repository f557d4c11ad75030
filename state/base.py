"""The Store contract every backend keeps (memory, SQLite, Redis).

Keys read `kind:subject` (`session:<conversation>`, `fail:<account>`, `lock:<account>`):
a sharded backend keeps every key of one subject together (Redis Cluster: one hash slot),
so a script may touch several keys of one account. Values are JSON-compatible dicts.

Every write is conditional where it matters: a session is written back with the etag it was
read with, so two bot instances (or two turns racing in one) can never silently overwrite
each other. Counters are sliding windows of events, and
taking a slot from a budget is one atomic step, so parallel guesses cannot exceed it.
Expiry is measured on the store's clock; an expired record reads as absent, and the backend
removes it, as it removes every counter event once it has left the window it was taken
with: what a store holds is what is live, however many keys (typed names, client
addresses) came and went.
"""

from dataclasses import dataclass
from typing import Any, Protocol


class StoreUnavailable(Exception):
    """The backend cannot be reached; the turn must change nothing and say so politely."""


class StoreMisconfigured(ValueError):
    """The settings cannot work (a CA file that cannot be read, a TLS file with a plain URL):
    the bot must not start, and the message says what to change."""


class EtagMismatch(Exception):
    """A conditional write lost a race: re-read and retry, never overwrite."""


@dataclass(frozen=True)
class Record:
    value: dict[str, Any]
    etag: str


class Store(Protocol):
    async def get(self, key: str) -> Record | None:
        """The live record under `key`, or None when absent or expired."""
        ...

    async def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        ttl: float | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """Write `value` and return its new etag.

        `if_match`: only if the live record has this etag. `if_none_match`: only if no live
        record exists. Neither: unconditional. A failed condition raises EtagMismatch.
        `ttl` (seconds) makes the record expire; None keeps it until deleted.
        """
        ...

    async def delete(self, key: str, *, if_match: str | None = None) -> bool:
        """Remove the record; True if a live one was removed. EtagMismatch on a stale etag."""
        ...

    async def take(self, key: str, *, limit: int, window: float) -> bool:
        """Record one event if fewer than `limit` lie in the last `window` seconds.

        Atomic: of many parallel calls at most `limit` within a window return True.
        """
        ...

    async def count(self, key: str, *, window: float) -> int:
        """Events recorded under `key` in the last `window` seconds.

        An event is kept only for the window it was taken with, so ask with that window (or
        a shorter one).
        """
        ...

    async def give_back(self, key: str) -> None:
        """Remove the newest event of a counter (a reserved attempt that turned out fine)."""
        ...

    async def clear(self, *keys: str) -> None:
        """Forget every event of these counters, in one step.

        Keys cleared together must share their subject (one Redis Cluster slot).
        """
        ...

    async def ping(self) -> None:
        """Return when the backend answers; raise StoreUnavailable when it does not."""
        ...

    async def close(self) -> None: ...
