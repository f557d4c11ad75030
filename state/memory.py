"""A Store in a dict, for tests and single-process demos.

Values are kept as JSON text rather than as the caller's dict, so a test that hands in
something the durable backends could not store fails here too, and a caller mutating a
dict after `put` (or after `get`) cannot change what is stored. Every method runs without
awaiting, so on one event loop each call is atomic, which is what the contract asks of
conditional writes and `take`.

What expires is removed, not only hidden: every record with a ttl and every counter event
is filed by its expiry in a heap, and each call first removes whatever the heap says has
expired, so the dicts hold what is live however many keys came and went.
"""

import heapq
from dataclasses import dataclass
from typing import Any

from state import codec
from state.base import EtagMismatch, Record
from state.clock import Clock
from state.tokens import UniqueTokens


@dataclass(frozen=True)
class _Entry:
    text: bytes
    etag: str
    expires_at: float | None


@dataclass(frozen=True)
class _Event:
    at: float
    expires_at: float


class MemoryStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tokens = UniqueTokens()
        self._records: dict[str, _Entry] = {}
        self._events: dict[str, list[_Event]] = {}
        # (expiry, is a counter, key): a reminder to look at that key then. A reminder may
        # outlive what it was for (rewritten, deleted, cleared); looking costs nothing.
        self._expiries: list[tuple[float, bool, str]] = []

    async def get(self, key: str) -> Record | None:
        self._sweep()
        entry = self._live(key)
        if entry is None:
            return None
        return Record(value=codec.loads(entry.text), etag=entry.etag)

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
        text = codec.dumps(value)
        self._sweep()
        current = self._live(key)
        if if_none_match and current is not None:
            raise EtagMismatch(key)
        if if_match is not None and (current is None or current.etag != if_match):
            raise EtagMismatch(key)
        etag = self._tokens.next()
        expires_at = None if ttl is None else self._clock.now() + ttl
        self._records[key] = _Entry(text, etag, expires_at)
        if expires_at is not None:
            heapq.heappush(self._expiries, (expires_at, False, key))
        return etag

    async def delete(self, key: str, *, if_match: str | None = None) -> bool:
        self._sweep()
        current = self._live(key)
        if if_match is not None and (current is None or current.etag != if_match):
            raise EtagMismatch(key)
        return self._records.pop(key, None) is not None

    async def take(self, key: str, *, limit: int, window: float) -> bool:
        self._sweep()
        now = self._clock.now()
        events = [event for event in self._events.get(key, []) if event.at > now - window]
        taken = len(events) < limit
        if taken:
            events.append(_Event(now, now + window))
            heapq.heappush(self._expiries, (now + window, True, key))
        if events:
            self._events[key] = events
        else:
            self._events.pop(key, None)
        return taken

    async def count(self, key: str, *, window: float) -> int:
        self._sweep()
        horizon = self._clock.now() - window
        return sum(1 for event in self._events.get(key, []) if event.at > horizon)

    async def give_back(self, key: str) -> None:
        self._sweep()
        events = self._events.get(key)
        if events:
            events.pop()
            if not events:
                del self._events[key]

    async def clear(self, *keys: str) -> None:
        self._sweep()
        for key in keys:
            self._events.pop(key, None)

    def held(self) -> int:
        """Records, counters and counter events in memory, expired or not: what a long run
        would grow by if expiry only hid things."""
        events = sum(len(each) for each in self._events.values())
        return len(self._records) + len(self._events) + events

    async def ping(self) -> None:
        """A dict is always there."""

    async def close(self) -> None:
        self._records.clear()
        self._events.clear()
        self._expiries.clear()

    def _live(self, key: str) -> _Entry | None:
        """The unexpired entry under `key`; an expired one is dropped on the way."""
        entry = self._records.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= self._clock.now():
            del self._records[key]
            return None
        return entry

    def _sweep(self) -> None:
        """Remove every record and counter event that has expired by now."""
        now = self._clock.now()
        while self._expiries and self._expiries[0][0] <= now:
            _, counter, key = heapq.heappop(self._expiries)
            if counter:
                self._drop_expired_events(key, now)
            else:
                self._live(key)

    def _drop_expired_events(self, key: str, now: float) -> None:
        events = [event for event in self._events.get(key, []) if event.expires_at > now]
        if events:
            self._events[key] = events
        else:
            self._events.pop(key, None)
