"""A Redis call that ends without its whole reply never leaves that reply for another call.

The server is made to hold a command with `CLIENT PAUSE ... WRITE`: writes (the store's
scripts) wait, reads (HMGET) are served. A connection still waiting for a held write's
reply, if it were handed to the next call, would either make that call wait behind the
write or give it the write's reply: a session read answered with someone else's data.
The pool has one connection, so a connection kept after a cut-off call would be reused.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import pytest

from state import RedisStore, StoreUnavailable
from tests.support.redis import RedisServer

OpenRedis = Callable[..., Awaitable[RedisStore]]

HELD_FOR_MS = 30_000  # longer than any test waits: each test lets the writes go itself
NOTICED_WITHIN = 10.0  # seconds for the server to report the held command


@contextmanager
def writes_held(server: RedisServer) -> Iterator[None]:
    with server.client() as client:
        client.client_pause(HELD_FOR_MS, all=False)
        try:
            yield
        finally:
            client.client_unpause()


async def until_a_command_is_held(server: RedisServer) -> None:
    """Return once the server reports a client blocked by the pause (polled, not slept)."""
    deadline = time.monotonic() + NOTICED_WITHIN
    with server.client() as client:
        while await asyncio.to_thread(lambda: client.info("clients")["blocked_clients"]) < 1:
            assert time.monotonic() < deadline, "the store's write never reached the server"


@pytest.fixture
def one_connection(open_redis: OpenRedis) -> Callable[[float], Awaitable[RedisStore]]:
    """Opens a store on one connection, holding alice's and bob's sessions; its argument is
    the store's timeout in seconds."""

    async def open_(seconds: float) -> RedisStore:
        store = await open_redis(timeout=seconds, max_connections=1)
        await store.put("session:alice", {"user": "alice"})
        await store.put("session:bob", {"user": "bob"})
        return store

    return open_


async def test_a_call_past_its_deadline_leaves_no_reply_for_the_next(
    one_connection: Callable[[float], Awaitable[RedisStore]], redis_server: RedisServer
) -> None:
    store = await one_connection(0.5)

    with writes_held(redis_server):
        with pytest.raises(StoreUnavailable, match="Timeout"):
            await store.put("session:alice", {"user": "alice", "turn": 2})

        bob = await store.get("session:bob")

    assert bob is not None
    assert bob.value == {"user": "bob"}
    alice = await store.get("session:alice")
    assert alice is not None
    assert alice.value["user"] == "alice"


async def test_a_cancelled_call_leaves_no_reply_for_the_next(
    one_connection: Callable[[float], Awaitable[RedisStore]], redis_server: RedisServer
) -> None:
    store = await one_connection(30.0)

    with writes_held(redis_server):
        write = asyncio.create_task(store.put("session:alice", {"user": "alice", "turn": 2}))
        await until_a_command_is_held(redis_server)
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write

        bob = await store.get("session:bob")

    assert bob is not None
    assert bob.value == {"user": "bob"}
    assert await store.take("fail:bob", limit=1, window=60)


async def test_an_error_reply_keeps_the_connection_in_step(
    one_connection: Callable[[float], Awaitable[RedisStore]], redis_server: RedisServer
) -> None:
    store = await one_connection(5.0)
    with redis_server.client() as client:
        client.set("sspr:session:{carol}", "not a hash")

    with pytest.raises(StoreUnavailable, match="WRONGTYPE"):
        await store.get("session:carol")

    bob = await store.get("session:bob")
    assert bob is not None
    assert bob.value == {"user": "bob"}


async def test_calls_wait_their_turn_for_the_one_connection(
    one_connection: Callable[[float], Awaitable[RedisStore]],
) -> None:
    store = await one_connection(5.0)

    records = await asyncio.gather(
        *(store.get("session:alice" if n % 2 else "session:bob") for n in range(40))
    )

    assert [each.value["user"] if each else None for each in records] == [
        "alice" if n % 2 else "bob" for n in range(40)
    ]
