"""What a slow or greedy client may hold of `sspr-bot serve`: a few seconds and one slot.

aiohttp's server waits for a request's head and body as long as the client keeps the
connection open, and accepts connections until the process runs out of file descriptors;
then asyncio reports every failed accept, and even `/healthz` cannot be reached. Here each
connection gets deadlines for its request head and body, the number of open connections is
capped below the open-file limit, and every such event is logged at most once per window.

When the cap is reached, a new connection displaces the open one that has waited longest
for its client (for a request head, a body, or a next request), so clients that send their
request at once are still served while slow ones hold every slot; only when every open
connection is being served is the new one refused with 503.
"""

import asyncio
import enum
import logging
import resource
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.settings import ServerSettings

log = logging.getLogger(__name__)

FD_RESERVE = 256  # descriptors kept free: a backlog of accepts in flight, stores, outbound calls
BACKLOG = 128
LOG_EVERY = 10.0  # seconds: one line per kind of event in this window, with a count
ACCEPT_EXHAUSTED = "socket.accept() out of system resource"  # asyncio's own report

EVENTS: Mapping[str, tuple[int, str]] = {
    "header_timeout": (logging.INFO, "closed connections whose request head came too slowly"),
    "body_timeout": (logging.INFO, "closed connections whose request body came too slowly"),
    "displaced": (
        logging.WARNING,
        "at the connection limit: closed the connections that waited longest for their client",
    ),
    "refused": (
        logging.WARNING,
        "at the connection limit: refused new connections, every open one is being served",
    ),
    "accept_failed": (
        logging.ERROR,
        "could not accept connections: the process is out of file descriptors or memory",
    ),
}


class ServerLimitsInvalid(Exception):
    """The process's open-file limit leaves no room for connections."""


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    header_timeout: float
    body_timeout: float
    idle_timeout: float


def connection_limits(settings: ServerSettings) -> ConnectionLimits:
    """The configured limits, the connection cap lowered (with a warning) to leave
    FD_RESERVE descriptors free under this process's open-file limit."""
    wanted = settings.max_connections
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = wanted if soft == resource.RLIM_INFINITY else soft - FD_RESERVE
    if room < 1:
        raise ServerLimitsInvalid(
            f"the open-file limit ({soft}) leaves no room for connections: raise it above "
            f"{FD_RESERVE} (ulimit -n)"
        )
    if wanted > room:
        log.warning(
            "server.max_connections lowered to fit the open-file limit (ulimit -n)",
            extra={"max_connections": wanted, "open_file_limit": soft, "lowered_to": room},
        )
    return ConnectionLimits(
        max_connections=min(wanted, room),
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        idle_timeout=settings.idle_timeout,
    )


@asynccontextmanager
async def serving_with_limits(
    app: web.Application, host: str, port: int, limits: ConnectionLimits
) -> AsyncIterator[asyncio.Server]:
    """`app` listening on host:port within `limits`, until the block ends."""
    loop = asyncio.get_running_loop()
    events = ThrottledLog(log, extra={"max_connections": limits.max_connections})
    guard = ConnectionGuard(limits, events)
    app.middlewares.append(guard.middleware)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=limits.idle_timeout)
    await runner.setup()
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(guard.loop_exception)
    try:
        assert runner.server is not None
        server = await loop.create_server(
            guard.protocol_factory(runner.server), host, port, backlog=BACKLOG
        )
        try:
            yield server
        finally:
            server.close()
            guard.close_waiting()
    finally:
        await runner.cleanup()
        loop.set_exception_handler(previous_handler)
        events.close()


class ThrottledLog:
    """At most one line per kind of event in each LOG_EVERY window, so a flood of slow or
    refused clients cannot flood the log in turn: the first event of a quiet spell is logged
    at once with count 1, later ones are counted and logged as one line when the window
    ends, and `close` logs what is still counted."""

    def __init__(self, logger: logging.Logger, *, extra: Mapping[str, Any]) -> None:
        self._logger = logger
        self._extra = dict(extra)
        self._counted: dict[str, int] = {}
        self._windows: dict[str, asyncio.TimerHandle] = {}

    def note(self, event: str) -> None:
        if event in self._windows:
            self._counted[event] += 1
            return
        self._emit(event, 1)
        self._open_window(event)

    def close(self) -> None:
        for event, window in list(self._windows.items()):
            window.cancel()
            self._end_window(event)

    def _open_window(self, event: str) -> None:
        self._counted[event] = 0
        loop = asyncio.get_running_loop()
        self._windows[event] = loop.call_later(LOG_EVERY, self._window_ended, event)

    def _window_ended(self, event: str) -> None:
        if self._end_window(event):
            self._open_window(event)

    def _end_window(self, event: str) -> bool:
        """Log what the window counted; True if it counted anything."""
        del self._windows[event]
        count = self._counted.pop(event)
        if count:
            self._emit(event, count)
        return count > 0

    def _emit(self, event: str, count: int) -> None:
        level, message = EVENTS[event]
        self._logger.log(level, message, extra={"event": event, "count": count, **self._extra})


def _answer(status: HTTPStatus, text: str, *headers: str) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, written before any response
    has begun (a request head may not even have arrived)."""
    body = f"{text}\n".encode()
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *headers,
    ]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


TOO_SLOW = _answer(HTTPStatus.REQUEST_TIMEOUT, "The request took too long to arrive. Try again.")
BUSY = _answer(
    HTTPStatus.SERVICE_UNAVAILABLE, "The server is busy. Try again in a moment.", "Retry-After: 5"
)


class Phase(enum.Enum):
    HEAD = "waiting for a request head"
    BODY = "a handler runs, waiting for the request body"
    SERVING = "a handler runs, the whole request has arrived"
    IDLE = "kept alive between requests"
    DRAIN = "the handler answered before the body had arrived"


WAITING_FOR_CLIENT = frozenset({Phase.HEAD, Phase.BODY, Phase.IDLE, Phase.DRAIN})
ANSWERED_ON_CLOSE = frozenset({Phase.HEAD, Phase.BODY})  # a request is pending, unanswered


class ConnectionGuard:
    """Counts the open connections and knows which of them wait for their client, oldest
    first; its middleware tells each connection where its request stands."""

    def __init__(self, limits: ConnectionLimits, events: ThrottledLog) -> None:
        self.limits = limits
        self.events = events
        self._open: set[GuardedConnection] = set()
        self._waiting: dict[GuardedConnection, None] = {}  # insertion order: oldest first

    def protocol_factory(
        self, make_handler: Callable[[], asyncio.Protocol]
    ) -> Callable[[], asyncio.Protocol]:
        def accept() -> asyncio.Protocol:
            if len(self._open) >= self.limits.max_connections and not self._displace_one():
                self.events.note("refused")
                return Refusal()
            connection = GuardedConnection(self, make_handler())
            self._open.add(connection)
            return connection

        return accept

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        connection = None if transport is None else transport.get_protocol()
        if not isinstance(connection, GuardedConnection):
            return await handler(request)
        connection.request_started(request)
        try:
            return await handler(request)
        except Exception:
            if connection.closed_by_guard:
                # The client already has its answer; what failed is the read we cut short.
                return web.Response(status=HTTPStatus.REQUEST_TIMEOUT)
            raise
        finally:
            connection.request_finished()

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio reports each accept that failed for want of descriptors: count those."""
        if context.get("message") == ACCEPT_EXHAUSTED:
            self.events.note("accept_failed")
        else:
            loop.default_exception_handler(context)

    def close_waiting(self) -> None:
        """At shutdown: nothing more will come of connections that wait for their client."""
        for connection in list(self._waiting):
            if connection.waiting_for_client:
                connection.close(BUSY)

    def waiting(self, connection: "GuardedConnection") -> None:
        """`connection` now waits for its client: it becomes the last to be displaced."""
        self._waiting.pop(connection, None)
        if connection in self._open:
            self._waiting[connection] = None

    def serving(self, connection: "GuardedConnection") -> None:
        """`connection` has its whole request: it is not displaced while it is served."""
        self._waiting.pop(connection, None)

    def release(self, connection: "GuardedConnection") -> None:
        self._open.discard(connection)
        self._waiting.pop(connection, None)

    def _displace_one(self) -> bool:
        while self._waiting:
            oldest = next(iter(self._waiting))
            del self._waiting[oldest]
            if oldest.waiting_for_client:
                oldest.close(BUSY)
                self.events.note("displaced")
                return True
        return False


class GuardedConnection(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the deadlines of its request."""

    def __init__(self, guard: ConnectionGuard, handler: asyncio.Protocol) -> None:
        self._guard = guard
        self._handler = handler
        self._transport: asyncio.Transport | None = None
        self._phase = Phase.HEAD
        self._request: web.BaseRequest | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self.closed_by_guard = False

    @property
    def waiting_for_client(self) -> bool:
        if self._phase is Phase.BODY and self._request is not None:
            return not self._request.content.is_eof()
        return self._phase in WAITING_FOR_CLIENT

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's does not derive from asyncio.Transport, so no check).
        self._transport = cast(asyncio.Transport, transport)
        self._handler.connection_made(transport)
        self._wait(Phase.HEAD, self._guard.limits.header_timeout, "header_timeout")

    def data_received(self, data: bytes) -> None:
        if self._phase is Phase.IDLE and data:
            self._wait(Phase.HEAD, self._guard.limits.header_timeout, "header_timeout")
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received()

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clock()
        self._guard.release(self)
        self._transport = None
        self._handler.connection_lost(exc)

    def request_started(self, request: web.BaseRequest) -> None:
        self._request = request
        if request.content.is_eof():
            self._stop_clock()
            self._phase = Phase.SERVING
            self._guard.serving(self)
        else:
            self._wait(Phase.BODY, self._guard.limits.body_timeout, "body_timeout")

    def request_finished(self) -> None:
        request, self._request = self._request, None
        if self._transport is None:
            return
        if request is not None and not request.content.is_eof():
            self._wait(Phase.DRAIN, self._guard.limits.body_timeout, "body_timeout")
        else:
            self._stop_clock()
            self._phase = Phase.IDLE
            self._guard.waiting(self)

    def close(self, answer: bytes) -> None:
        """Close now, with `answer` if a request is pending and nothing was answered yet."""
        transport, self._transport = self._transport, None
        self._stop_clock()
        self._guard.release(self)
        if transport is None or transport.is_closing():
            return
        self.closed_by_guard = True
        unanswered = self._request is None or self._request.writer.output_size == 0
        if self._phase in ANSWERED_ON_CLOSE and unanswered:
            transport.write(answer)
        if transport.get_write_buffer_size():
            transport.abort()  # a client that does not read must not hold the slot either
        else:
            transport.close()

    def _wait(self, phase: Phase, seconds: float, event: str) -> None:
        self._stop_clock()
        if self._transport is None:
            return  # closed: nothing more to wait for
        self._phase = phase
        self._guard.waiting(self)
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(seconds, self._deadline_passed, event)

    def _deadline_passed(self, event: str) -> None:
        self._deadline = None
        if not self.waiting_for_client:
            self._phase = Phase.SERVING
            self._guard.serving(self)
            return
        self._guard.events.note(event)
        self.close(TOO_SLOW)

    def _stop_clock(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


class Refusal(asyncio.Protocol):
    """A connection past the cap while every open one is being served: told so, closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)  # uvloop's derives from no asyncio class
        stream.write(BUSY)
        stream.close()
