"""The embedded default Store: one SQLite file, so sessions and lockouts survive a restart.

All sqlite3 work runs on one dedicated thread that owns the only connection: the event loop
never waits on disk, and the connection is never shared between threads. Every write is one
BEGIN IMMEDIATE transaction, which takes the file's write lock before reading, so a
check-then-write (an etag comparison, a slot count) cannot interleave with another
connection's, whether it lives in this process or in another one sharing the file.

Every record with a ttl and every counter event carries its expiry (an event: the window it
was taken with), and every write first deletes a batch of what has expired, so the file
keeps only what is live however many typed names and client addresses came and went.
"""

import asyncio
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self, TypeVar

from state import codec
from state.base import EtagMismatch, Record, StoreUnavailable
from state.clock import Clock
from state.tokens import UniqueTokens

T = TypeVar("T")

_TABLES = (
    "CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
    "etag TEXT NOT NULL, expires_at REAL)",
    "CREATE INDEX IF NOT EXISTS records_expiry ON records (expires_at) "
    "WHERE expires_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS counter_events (key TEXT NOT NULL, at REAL NOT NULL, "
    "expires_at REAL)",
    "CREATE INDEX IF NOT EXISTS counter_events_key_at ON counter_events (key, at)",
)
_EVENT_EXPIRY_INDEX = (
    "CREATE INDEX IF NOT EXISTS counter_events_expiry ON counter_events (expires_at)"
)

# Events recorded by a version that kept no expiry are given this long: more than any
# window the limits use (hours, a day at most), so no count is cut short, and the leftover
# of an old file is gone within a month.
_LEGACY_EVENT_LIFETIME = 30 * 86400

_SELECT_LIVE = (
    "SELECT value, etag FROM records WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"
)

# Every write first removes expired records and counter events, a bounded batch of each:
# a write adds at most one row, so the file stays the size of what is live, and no single
# write pays for a backlog that built up while the bot was down.
_PRUNE_BATCH = 1000


class SqliteStore:
    def __init__(self, path: str | Path, clock: Clock, *, busy_timeout: float = 5.0) -> None:
        """Connects lazily on the worker thread; use `open` to fail fast at startup."""
        self._path = Path(path)
        self._clock = clock
        self._tokens = UniqueTokens()
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path, clock: Clock, *, busy_timeout: float = 5.0) -> Self:
        """A store whose file is already opened and migrated, or StoreUnavailable."""
        store = cls(path, clock, busy_timeout=busy_timeout)
        try:
            await store._run(lambda conn: None)
        except BaseException:
            await store.close()
            raise
        return store

    async def get(self, key: str) -> Record | None:
        now = self._clock.now()
        row = await self._run(lambda conn: conn.execute(_SELECT_LIVE, (key, now)).fetchone())
        if row is None:
            return None
        return Record(value=codec.loads(row[0]), etag=row[1])

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
        text = codec.dumps(value).decode()
        now = self._clock.now()
        expires_at = None if ttl is None else now + ttl
        etag = self._tokens.next()

        def write(conn: sqlite3.Connection) -> str:
            # With if_none_match, if_match is None: the only etag it accepts is "absent".
            conditional = if_match is not None or if_none_match
            if conditional and _live_etag(conn, key, now) != if_match:
                raise EtagMismatch(key)
            conn.execute(
                "INSERT INTO records (key, value, etag, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "etag = excluded.etag, expires_at = excluded.expires_at",
                (key, text, etag, expires_at),
            )
            return etag

        return await self._write(write, now)

    async def delete(self, key: str, *, if_match: str | None = None) -> bool:
        now = self._clock.now()

        def remove(conn: sqlite3.Connection) -> bool:
            current = _live_etag(conn, key, now)
            if if_match is not None and current != if_match:
                raise EtagMismatch(key)
            conn.execute("DELETE FROM records WHERE key = ?", (key,))
            return current is not None

        return await self._write(remove, now)

    async def take(self, key: str, *, limit: int, window: float) -> bool:
        now = self._clock.now()

        def reserve(conn: sqlite3.Connection) -> bool:
            conn.execute(
                "DELETE FROM counter_events WHERE key = ? AND at <= ?", (key, now - window)
            )
            (held,) = conn.execute(
                "SELECT COUNT(*) FROM counter_events WHERE key = ?", (key,)
            ).fetchone()
            if held >= limit:
                return False
            conn.execute(
                "INSERT INTO counter_events (key, at, expires_at) VALUES (?, ?, ?)",
                (key, now, now + window),
            )
            return True

        return await self._write(reserve, now)

    async def count(self, key: str, *, window: float) -> int:
        horizon = self._clock.now() - window

        def read(conn: sqlite3.Connection) -> int:
            (events,) = conn.execute(
                "SELECT COUNT(*) FROM counter_events WHERE key = ? AND at > ?", (key, horizon)
            ).fetchone()
            return int(events)

        return await self._run(read)

    async def give_back(self, key: str) -> None:
        def release(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM counter_events WHERE rowid = (SELECT rowid FROM counter_events "
                "WHERE key = ? ORDER BY at DESC, rowid DESC LIMIT 1)",
                (key,),
            )

        await self._write(release, self._clock.now())

    async def clear(self, *keys: str) -> None:
        def forget(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM counter_events WHERE key = ?", [(k,) for k in keys])

        await self._write(forget, self._clock.now())

    async def ping(self) -> None:
        """One `SELECT 1` on the worker thread: the file is open and the thread is not stuck."""
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        """Close the connection after every queued call, then stop the worker thread."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._disconnect)
        finally:
            # The worker is idle once the disconnect above has run, so this join is immediate.
            self._executor.shutdown(wait=True)

    async def _write(self, work: Callable[[sqlite3.Connection], T], now: float) -> T:
        """`work` in one transaction, after a batch of what expired by `now` is removed."""

        def pruned_then(conn: sqlite3.Connection) -> T:
            _prune(conn, now)
            return work(conn)

        return await self._run(lambda conn: _in_transaction(conn, pruned_then))

    async def _run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable("the state database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, job)

    def _call(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Runs on the worker thread: the only place the connection is touched."""
        try:
            if self._connection is None:
                self._connection = self._connect()
            return job(self._connection)
        except sqlite3.DatabaseError as exc:
            if not _is_outage(exc):
                raise
            name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
            raise StoreUnavailable(f"state database {self._path} unusable: {name}") from exc
        except OSError as exc:
            raise StoreUnavailable(
                f"state database {self._path} cannot be opened: {exc.strerror}"
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created by us rather than by sqlite3 so it is never readable by others, not even
        # for a moment; the WAL and shared-memory files inherit these permissions.
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        conn = sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            _in_transaction(conn, _migrate)
        except BaseException:
            conn.close()
            raise
        return conn

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _migrate(conn: sqlite3.Connection) -> None:
    """Create the tables, and give the events of an older file the expiry they lack."""
    for statement in _TABLES:
        conn.execute(statement)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(counter_events)")}
    if "expires_at" not in columns:
        conn.execute("ALTER TABLE counter_events ADD COLUMN expires_at REAL")
        conn.execute("UPDATE counter_events SET expires_at = at + ?", (_LEGACY_EVENT_LIFETIME,))
    conn.execute(_EVENT_EXPIRY_INDEX)


def _prune(conn: sqlite3.Connection, now: float) -> None:
    conn.execute(
        "DELETE FROM records WHERE key IN (SELECT key FROM records WHERE expires_at <= ? LIMIT ?)",
        (now, _PRUNE_BATCH),
    )
    conn.execute(
        "DELETE FROM counter_events WHERE rowid IN "
        "(SELECT rowid FROM counter_events WHERE expires_at <= ? LIMIT ?)",
        (now, _PRUNE_BATCH),
    )


def _live_etag(conn: sqlite3.Connection, key: str, now: float) -> str | None:
    row = conn.execute(_SELECT_LIVE, (key, now)).fetchone()
    return None if row is None else str(row[1])


def _is_outage(exc: sqlite3.DatabaseError) -> bool:
    """Locked past the busy timeout, I/O or disk trouble, a corrupt or foreign file.

    Integrity and programming errors are bugs in this module, not outages, and stay loud.
    """
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError
