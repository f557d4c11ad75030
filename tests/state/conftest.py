"""Every backend on a frozen clock, so expiry and windows move only when a test says so."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from state import FrozenClock, SqliteStore, StateSettings, Store, open_store


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(params=["memory", "sqlite"])
async def store(
    request: pytest.FixtureRequest, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Store]:
    settings = StateSettings(backend=request.param)
    opened = await open_store(settings, data_dir=tmp_path, clock=clock)
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
