"""The Store contract, run against every backend: what the dialog core may rely on."""

import os
import sqlite3
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from state import (
    FrozenClock,
    SqliteStore,
    StateSettings,
    StoreUnavailable,
    open_store,
)
from tests.state.contract import CONTRACT, SESSION

OpenSqlite = Callable[..., Awaitable[SqliteStore]]


# The contract, on every backend of `store` and `open_instance` (tests/state/conftest.py).
globals().update(CONTRACT)


# SQLite only: what a file on disk adds to the contract.


async def test_data_survives_reopening_the_file(
    open_sqlite: OpenSqlite, clock: FrozenClock
) -> None:
    first = await open_sqlite()
    etag = await first.put("session:1", SESSION, ttl=900)
    await first.take("fail:alice", limit=5, window=3600)
    await first.close()

    second = await open_sqlite()
    record = await second.get("session:1")
    assert record is not None
    assert (record.value, record.etag) == (SESSION, etag)
    assert await second.count("fail:alice", window=3600) == 1
    clock.advance(901)
    assert await second.get("session:1") is None


async def test_a_directory_in_place_of_the_file_is_unavailable(
    open_sqlite: OpenSqlite, tmp_path: Path
) -> None:
    (tmp_path / "state.sqlite3").mkdir()

    with pytest.raises(StoreUnavailable):
        await open_sqlite(tmp_path / "state.sqlite3")


async def test_a_file_that_is_not_a_database_is_unavailable(
    open_sqlite: OpenSqlite, tmp_path: Path
) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not an SQLite database, just some text\n" * 100)

    with pytest.raises(StoreUnavailable):
        await open_sqlite(path)


async def test_a_lock_held_past_the_busy_timeout_is_unavailable(
    open_sqlite: OpenSqlite, tmp_path: Path
) -> None:
    store = await open_sqlite(busy_timeout=0.01)
    await store.put("session:1", {"state": "idle"})
    other_process = sqlite3.connect(tmp_path / "shared.sqlite3", isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable) as raised:
            await store.put("session:1", {"secret": "hunter2"})
        other_process.execute("ROLLBACK")
    finally:
        other_process.close()

    assert "hunter2" not in str(raised.value)
    record = await store.get("session:1")
    assert record is not None
    assert record.value == {"state": "idle"}


async def test_a_closed_store_is_unavailable(open_sqlite: OpenSqlite) -> None:
    store = await open_sqlite()
    await store.close()

    with pytest.raises(StoreUnavailable):
        await store.get("session:1")
    with pytest.raises(StoreUnavailable):
        await store.ping()


async def test_the_file_and_its_new_directory_are_private(
    open_sqlite: OpenSqlite, tmp_path: Path
) -> None:
    path = tmp_path / "data" / "state.sqlite3"

    await open_sqlite(path)

    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


async def test_a_relative_path_is_taken_from_the_data_directory(
    clock: FrozenClock, tmp_path: Path
) -> None:
    settings = StateSettings(path="bot/state.sqlite3")

    opened = await open_store(settings, data_dir=tmp_path, clock=clock, environ={})
    await opened.close()

    assert isinstance(opened, SqliteStore)
    assert (tmp_path / "bot" / "state.sqlite3").is_file()


async def test_a_file_from_before_event_expiries_keeps_its_counts_and_gets_pruned(
    open_sqlite: OpenSqlite, clock: FrozenClock, tmp_path: Path
) -> None:
    path = tmp_path / "older.sqlite3"
    older = sqlite3.connect(path, isolation_level=None)
    try:
        older.execute("CREATE TABLE counter_events (key TEXT NOT NULL, at REAL NOT NULL)")
        older.execute("INSERT INTO counter_events VALUES ('fail:alice', ?)", (clock.now(),))
    finally:
        older.close()

    store = await open_sqlite(path)
    assert await store.count("fail:alice", window=86400) == 1
    assert await store.take("fail:alice", limit=2, window=86400)
    assert not await store.take("fail:alice", limit=2, window=86400)

    clock.advance(31 * 86400)
    await store.put("session:1", {"state": "idle"})
    reader = sqlite3.connect(path)
    try:
        assert reader.execute("SELECT COUNT(*) FROM counter_events").fetchone() == (0,)
    finally:
        reader.close()
