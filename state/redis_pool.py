"""Commands to one Redis server on a pool of redis-py connections, each call under one
deadline.

Why not redis-py's client for the one-server deployment: every command it runs passes a
blocking pool's condition and timeout, a deprecation check of the pool's arguments, a
retry wrapper, observability hooks and two socket timeouts (a task per send). Under 50
concurrent callers that is about 39 us of CPU per HMGET against 19 us here, and a turn
sends two or three commands (`python -m bench.turns`, profile in bench/README.md). The
protocol stays redis-py's: its `Connection` connects (AUTH, SELECT, HELLO, TLS, Unix
sockets), packs commands and parses replies.

Why this is safe. A connection serves one call at a time. A call that ends in any way
other than a whole reply (the deadline, a cancellation, a dropped connection, a
malformed reply) disconnects its connection and drops it, so no reply can ever be read
by the next call on that connection: a session read must never return another user's
session. An error reply (`ResponseError`, e.g. NOSCRIPT or WRONGTYPE) is a whole reply,
so that connection is kept. A connection taken from the pool with bytes waiting or closed
by the server (a Redis restart) is replaced before it is used, so the first call after a
restart succeeds and no call runs twice.

The deadline covers everything one call does: waiting for one of the `size` connections,
connecting, sending and reading the reply.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from state.lua import LuaScript

T = TypeVar("T")

Argument = str | bytes | int | float


class ConnectionPool:
    def __init__(
        self, connection: Callable[[], AbstractConnection], *, size: int, timeout: float
    ) -> None:
        """Up to `size` connections made by `connection` when first needed; `timeout` is
        each call's deadline in seconds."""
        if size < 1:
            raise ValueError("a Redis pool needs at least one connection")
        self._connection = connection
        self._timeout = timeout
        self._slots = asyncio.Semaphore(size)
        self._idle: list[AbstractConnection] = []
        self._closed = False

    async def execute(self, *arguments: Argument) -> Any:
        """The server's reply to one command, as redis-py parses it (bytes, not text)."""
        return await self._run(lambda connection: _command(connection, arguments))

    async def evalsha(
        self, script: LuaScript, keys: Sequence[str], arguments: Sequence[Argument]
    ) -> Any:
        """Run a script by its digest, loading it first when the server has not got it (a
        restart or SCRIPT FLUSH): NOSCRIPT means the script did not run, so nothing runs
        twice."""
        command = ("EVALSHA", script.sha, len(keys), *keys, *arguments)

        async def run(connection: AbstractConnection) -> Any:
            try:
                return await _command(connection, command)
            except NoScriptError:
                await _command(connection, ("SCRIPT", "LOAD", script.source))
                return await _command(connection, command)

        return await self._run(run)

    async def aclose(self) -> None:
        """Disconnect the idle connections; a call in flight disconnects its own at the end."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.disconnect()

    async def _run(self, work: Callable[[AbstractConnection], Awaitable[T]]) -> T:
        waiting = True
        try:
            async with asyncio.timeout(self._timeout), self._slots:
                waiting = False
                connection = await self._take()
                try:
                    result = await work(connection)
                except ResponseError:
                    await self._give_back(connection)
                    raise
                except BaseException:
                    await connection.disconnect(nowait=True)
                    raise
                await self._give_back(connection)
                return result
        except TimeoutError:
            if waiting:
                raise RedisConnectionError(
                    f"every connection stayed busy for {self._timeout} s"
                ) from None
            raise RedisTimeoutError(f"Timeout: no whole reply within {self._timeout} s") from None

    async def _take(self) -> AbstractConnection:
        """An idle connection that is still clean and open, else a new one (connected by
        its first command)."""
        while self._idle:
            connection = self._idle.pop()
            if await _clean(connection):
                return connection
            await connection.disconnect(nowait=True)
        return self._connection()

    async def _give_back(self, connection: AbstractConnection) -> None:
        if self._closed:
            await connection.disconnect(nowait=True)
        else:
            self._idle.append(connection)


async def _command(connection: AbstractConnection, arguments: Sequence[Argument]) -> Any:
    await connection.send_packed_command(connection.pack_command(*arguments), check_health=False)
    return await connection.read_response()


async def _clean(connection: AbstractConnection) -> bool:
    """True for an open connection with nothing waiting to be read: bytes waiting would be
    the reply to something else, and an end of file means the server closed it."""
    if not connection.is_connected:
        return False
    try:
        return not await connection.can_read()
    except (RedisConnectionError, OSError):
        return False
