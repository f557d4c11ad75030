"""The audit trail as one Redis stream that every bot instance appends to, and how
`sspr-bot audit` reads it back.

Each event is one stream entry whose field `e` holds the event's JSON line; the entry id
(milliseconds and a sequence) orders the events of all instances. The stream is trimmed
as it grows (`XADD ... MAXLEN ~ cap`, which Redis does a node at a time, cheaply).

Writing never waits on Redis within a turn: `write` queues the line and one background
task sends what is queued, many lines to one script call (one round trip, one key, so a
cluster routes it like any other). When Redis fails the lines stay queued (the newest
`backlog` of them) and go with the next event's flush; the failure is logged once, and
its end once. The stream has a client of its own, with a few connections, so audit writes
never take a connection a turn is waiting for.
"""

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from pathlib import Path
from typing import Any

from state.lua import LuaScript
from state.redis_clients import ERRORS, RedisClient, connect, describe_error
from state.settings import StateSettings, redis_connection

log = logging.getLogger(__name__)

FIELD = "e"
BATCH = 256
BACKLOG = 100_000
CONNECTIONS = 2
_FOLLOW_BLOCK_MS = 1000
_PAGE = 500

_APPEND = LuaScript("""
-- KEYS[1] the stream. ARGV[1] about how many entries to keep, ARGV[2..] one line each.
for i = 2, #ARGV do
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i])
end
return #ARGV - 1
""")


class AuditStream:
    """An AuditSink (`write`, `close`) on the stream `key`, and its reader."""

    name = "stream"

    def __init__(
        self, client: RedisClient, key: str, *, max_length: int, backlog: int = BACKLOG
    ) -> None:
        self._client = client
        self._key = key
        self._max_length = max_length
        self._pending: deque[str] = deque(maxlen=backlog)
        self._sending: asyncio.Task[None] | None = None
        self._failing = False
        self._last_id = "$"

    def write(self, line: str) -> None:
        if len(self._pending) == self._pending.maxlen:
            log.warning("audit stream backlog full: the oldest queued event is dropped")
        self._pending.append(line)
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(self._send())

    async def flushed(self) -> None:
        """Return once what was queued has been sent, or has failed to be."""
        while self._sending is not None and not self._sending.done():
            await asyncio.shield(self._sending)

    async def close(self) -> None:
        """Send what is queued (one last try), then disconnect."""
        await self.flushed()
        if self._pending:
            await self._send()
        if self._pending:
            log.error("audit events not written to the stream", extra={"lost": len(self._pending)})
        await self._client.aclose()

    async def _send(self) -> None:
        while self._pending:
            batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
            try:
                await self._client.evalsha(_APPEND, [self._key], [self._max_length, *batch])
            except ERRORS as error:
                self._pending.extendleft(reversed(batch))
                if not self._failing:
                    self._failing = True
                    log.error(
                        "audit events are not reaching the Redis stream; kept to retry",
                        extra={"error": self._described(error)},
                    )
                return
            if self._failing:
                self._failing = False
                log.warning("audit events reach the Redis stream again")

    async def last(self, count: int) -> list[str]:
        """The newest `count` lines, oldest first; `follow` then goes on after them."""
        entries = await self._client.execute("XREVRANGE", self._key, "+", "-", "COUNT", count)
        lines = [self._line(entry) for entry in reversed(entries or [])]
        return [line for line in lines if line is not None]

    async def since(self, at: float | None) -> AsyncGenerator[str, None]:
        """Every line from `at` (epoch seconds; None: the oldest kept) on, oldest first."""
        start = "-" if at is None else str(max(int(at * 1000), 0))
        while True:
            entries = await self._client.execute("XRANGE", self._key, start, "+", "COUNT", _PAGE)
            for entry in entries or []:
                if (line := self._line(entry)) is not None:
                    yield line
            if len(entries or []) < _PAGE:
                return
            start = f"({self._last_id}"

    async def follow(self) -> AsyncGenerator[str, None]:
        """Lines added after those read (or after now, when none were), as they come."""
        block = min(_FOLLOW_BLOCK_MS, int(self._client.timeout * 500))
        while True:
            reply = await self._client.execute(
                "XREAD", "COUNT", _PAGE, "BLOCK", block, "STREAMS", self._key, self._last_id
            )
            for _stream, entries in _streams(reply):
                for entry in entries:
                    if (line := self._line(entry)) is not None:
                        yield line

    def _line(self, entry: Any) -> str | None:
        entry_id, values = entry
        self._last_id = _text(entry_id)
        fields = _fields(values)
        line = fields.get(FIELD)
        return None if line is None else _text(line)

    def _described(self, error: BaseException) -> str:
        detail = describe_error(error)
        if self._client.secret:
            detail = detail.replace(self._client.secret, "***")
        return f"{self._client.where}: {detail}"


def open_audit_stream(
    settings: StateSettings,
    *,
    environ: Mapping[str, str],
    data_dir: Path,
    key: str,
    max_length: int,
) -> AuditStream:
    """The stream on the Redis the store uses (the same URL, credentials and TLS), on a
    client of its own; connects when first used. ValueError on settings that cannot work."""
    url, options = redis_connection(settings, environ=environ, data_dir=data_dir)
    options["max_connections"] = CONNECTIONS
    client = connect(url, **options)
    return AuditStream(client, key, max_length=max_length)


def _streams(reply: Any) -> list[tuple[Any, list[Any]]]:
    """XREAD's reply as (stream, entries) pairs: a map in RESP3, a list of pairs in RESP2,
    nothing when the block timed out."""
    if not reply:
        return []
    if isinstance(reply, Mapping):
        return [(name, list(entries)) for name, entries in reply.items()]
    return [(name, list(entries)) for name, entries in reply]


def _fields(values: Any) -> dict[str, Any]:
    if isinstance(values, Mapping):
        return {_text(name): value for name, value in values.items()}
    return {_text(name): value for name, value in zip(values[::2], values[1::2], strict=False)}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
