"""Every backend on a frozen clock, so expiry and windows move only when a test says so."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from state import FrozenClock, RedisStore, SqliteStore, StateSettings, Store, open_store


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(
    request: pytest.FixtureRequest, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Store]:
    """Each backend as the bot opens it; redis on the session's server, emptied first."""
    settings = StateSettings(backend=request.param)
    environ = {}
    if request.param == "redis":
        environ["SSPR_REDIS_URL"] = request.getfixturevalue("redis_url")
    opened = await open_store(settings, data_dir=tmp_path, clock=clock, environ=environ)
    yield opened
    await opened.close()


@pytest.fixture
async def open_sqlite(
    clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[SqliteStore]]]:
    """Opens SqliteStores (by default all on one file, like processes sharing it) and closes
    whatever is still open at the end."""
    opened: list[SqliteStore] = []

    async def open_(path: Path = tmp_path / "shared.sqlite3", **options: float) -> SqliteStore:
        sqlite_store = await SqliteStore.open(path, clock, **options)
        opened.append(sqlite_store)
        return sqlite_store

    yield open_
    for sqlite_store in opened:
        await sqlite_store.close()


@pytest.fixture
async def open_redis(
    clock: FrozenClock, redis_url: str
) -> AsyncIterator[Callable[..., Awaitable[RedisStore]]]:
    """Opens RedisStores (by default on the session's server, emptied for this test) and
    closes whatever is still open at the end."""
    opened: list[RedisStore] = []

    async def open_(url: str = redis_url, **options: Any) -> RedisStore:
        redis_store = RedisStore(url, clock, **options)
        opened.append(redis_store)
        await redis_store.ping()
        return redis_store

    yield open_
    for redis_store in opened:
        await redis_store.close()


@pytest.fixture(params=["sqlite", "redis"])
def open_instance(request: pytest.FixtureRequest) -> Callable[[], Awaitable[Store]]:
    """Opens one more store on a backend several bot instances share: the same SQLite file,
    or the same Redis server."""
    opener: Callable[[], Awaitable[Store]] = request.getfixturevalue(f"open_{request.param}")
    return opener
