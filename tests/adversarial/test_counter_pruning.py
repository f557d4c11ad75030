"""Counter pruning: every typed name (real or made up) gets its own failure and send
counters, and every code its own record with a ttl. An attacker typing thousands of
distinct names grew the state store for ever (14,000 counter rows after 5,500
conversations), since expired events and records were only hidden, never removed.

What must hold: once their window (or ttl) has passed, events and records are removed, so
the store holds what is live, however many names came and went; a counter still inside its
window is kept and counts exactly as before. Redis frees them itself: each counter key
carries a TTL of at least the window of every event in it.
"""

import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from state import FrozenClock, MemoryStore, RedisStore, SqliteStore, Store
from state.redis_store import counter_key
from tests.support.redis import RedisServer

DAY = 86400
CONVERSATIONS = 5500
APART = 30  # seconds between two conversations: 5,500 of them span almost two days
FAILURES = 5  # the failure budget per account and day (Entra's default)


@dataclass(frozen=True)
class Backend:
    store: Store
    held: Callable[[], int]
    """Rows, records and events the backend keeps, read behind the store's back."""


@pytest.fixture(params=["memory", "sqlite"])
async def backend(
    request: pytest.FixtureRequest, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Backend]:
    if request.param == "memory":
        memory = MemoryStore(clock)
        yield Backend(memory, memory.held)
        return
    path = tmp_path / "state.sqlite3"
    store = await SqliteStore.open(path, clock)
    reader = sqlite3.connect(path)

    def rows() -> int:
        (events,) = reader.execute("SELECT COUNT(*) FROM counter_events").fetchone()
        (records,) = reader.execute("SELECT COUNT(*) FROM records").fetchone()
        return int(events) + int(records)

    try:
        yield Backend(store, rows)
    finally:
        reader.close()
        await store.close()


async def typed_name_conversation(store: Store, name: str) -> None:
    """What the dialog keeps for one made-up name: two wrong codes, one email, one code."""
    assert await store.take(f"fail:{name}", limit=FAILURES, window=DAY)
    assert await store.take(f"fail:{name}", limit=FAILURES, window=DAY)
    assert await store.take(f"send-email:{name}", limit=10, window=600)
    await store.put(f"code:{name}", {"hash": "x", "medium": "email"}, ttl=300)


async def test_counters_and_codes_of_typed_names_are_removed_once_expired(
    backend: Backend, clock: FrozenClock
) -> None:
    store = backend.store
    for n in range(CONVERSATIONS):
        await typed_name_conversation(store, f"typed-{n:05}")
        clock.advance(APART)

    # Only the last day's failure events are live (two per conversation, plus a counter
    # each in memory), where keeping everything meant 16,500 rows (SQLite) or 33,000 entries.
    live_day = DAY // APART
    assert backend.held() <= 3 * live_day + 100

    clock.advance(DAY)  # every typed name's window has passed
    for _ in range(3):
        assert await store.take("fail:alice", limit=FAILURES, window=DAY)
    await store.give_back("fail:alice")  # one check passed
    for n in range(10):  # the bot keeps serving: the next ten typed names
        await typed_name_conversation(store, f"later-{n}")

    # Alice's counter, and the ten newest conversations' events and codes.
    assert backend.held() <= 1 + 2 + 10 * (2 + 3 + 1)
    assert await store.count("fail:alice", window=DAY) == 2
    assert await store.count("fail:typed-05499", window=DAY) == 0
    assert await store.get("code:typed-05499") is None
    assert await store.count("fail:later-9", window=DAY) == 2
    assert await store.get("code:later-9") is not None
    granted = [await store.take("fail:alice", limit=FAILURES, window=DAY) for _ in range(4)]
    assert granted == [True, True, True, False]


async def test_a_live_counter_survives_the_sweep_of_its_neighbours(
    backend: Backend, clock: FrozenClock
) -> None:
    store = backend.store
    assert await store.take("fail:alice", limit=FAILURES, window=DAY)
    for n in range(2000):
        assert await store.take(f"webchat-rate:client-{n}", limit=20, window=60)
    clock.advance(DAY - 1)  # the rate counters are long gone; alice's event is a second short
    for n in range(5):
        assert await store.take(f"webchat-rate:client-{n}", limit=20, window=60)

    assert backend.held() <= 2 + 5 * 2
    assert await store.count("fail:alice", window=DAY) == 1
    clock.advance(1)
    assert await store.take("webchat-rate:client-0", limit=20, window=60)
    assert await store.count("fail:alice", window=DAY) == 0
    assert backend.held() <= 5 * 2 + 1


async def test_redis_counters_carry_the_ttl_of_their_longest_window(
    redis_url: str, redis_server: RedisServer, clock: FrozenClock
) -> None:
    store = RedisStore(redis_url, clock)
    try:
        for n in range(200):
            assert await store.take(f"fail:typed-{n}", limit=FAILURES, window=DAY)
        assert await store.take("fail:alice", limit=FAILURES, window=DAY)
        # Another limit on the same key with a shorter window must not cut the day short.
        assert await store.take("fail:alice", limit=FAILURES, window=60)

        with redis_server.client() as client:
            ttls = [client.pttl(counter_key(f"fail:typed-{n}")) for n in range(200)]
            alice = client.pttl(counter_key("fail:alice"))
        assert all(DAY * 1000 - 5000 < ttl <= DAY * 1000 + 1000 for ttl in ttls)
        assert DAY * 1000 - 5000 < alice <= DAY * 1000 + 1000
        assert await store.count("fail:alice", window=DAY) == 2
    finally:
        await store.close()
