"""A Store in a dict, for tests and single-process demos.

Values are kept as JSON text rather than as the caller's dict, so a test that hands in
something the durable backends could not store fails here too, and a caller mutating a
dict after `put` (or after `get`) cannot change what is stored. Every method runs without
awaiting, so on one event loop each call is atomic, which is what the contract asks of
conditional writes and `take`.
"""

import json
import secrets
from dataclasses import dataclass
from typing import Any

from state.base import EtagMismatch, Record
from state.clock import Clock


@dataclass(frozen=True)
class _Entry:
    text: str
    etag: str
    expires_at: float | None


class MemoryStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._records: dict[str, _Entry] = {}
        self._events: dict[str, list[float]] = {}

    async def get(self, key: str) -> Record | None:
        entry = self._live(key)
        if entry is None:
            return None
        return Record(value=json.loads(entry.text), etag=entry.etag)

    async def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        ttl: float | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        if if_match is not None and if_none_match:
            raise ValueError("if_match and if_none_match exclude each other")
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        current = self._live(key)
        if if_none_match and current is not None:
            raise EtagMismatch(key)
        if if_match is not None and (current is None or current.etag != if_match):
            raise EtagMismatch(key)
        etag = secrets.token_hex(16)
        expires_at = None if ttl is None else self._clock.now() + ttl
        self._records[key] = _Entry(text, etag, expires_at)
        return etag

    async def delete(self, key: str, *, if_match: str | None = None) -> bool:
        current = self._live(key)
        if if_match is not None and (current is None or current.etag != if_match):
            raise EtagMismatch(key)
        return self._records.pop(key, None) is not None

    async def take(self, key: str, *, limit: int, window: float) -> bool:
        now = self._clock.now()
        events = [at for at in self._events.get(key, []) if at > now - window]
        taken = len(events) < limit
        if taken:
            events.append(now)
        if events:
            self._events[key] = events
        else:
            self._events.pop(key, None)
        return taken

    async def count(self, key: str, *, window: float) -> int:
        horizon = self._clock.now() - window
        return sum(1 for at in self._events.get(key, []) if at > horizon)

    async def give_back(self, key: str) -> None:
        events = self._events.get(key)
        if events:
            events.pop()
            if not events:
                del self._events[key]

    async def clear(self, *keys: str) -> None:
        for key in keys:
            self._events.pop(key, None)

    async def ping(self) -> None:
        """A dict is always there."""

    async def close(self) -> None:
        self._records.clear()
        self._events.clear()

    def _live(self, key: str) -> _Entry | None:
        """The unexpired entry under `key`; an expired one is dropped on the way."""
        entry = self._records.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= self._clock.now():
            del self._records[key]
            return None
        return entry
