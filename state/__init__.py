"""Storage behind one small contract: memory (tests), SQLite (embedded default), Redis
(several bot instances)."""

from state.base import EtagMismatch, Record, Store, StoreMisconfigured, StoreUnavailable
from state.clock import Clock, FrozenClock, SystemClock
from state.memory import MemoryStore
from state.redis_store import RedisStore
from state.settings import StateSettings, open_store
from state.sqlite import SqliteStore

__all__ = [
    "Clock",
    "EtagMismatch",
    "FrozenClock",
    "MemoryStore",
    "Record",
    "RedisStore",
    "SqliteStore",
    "StateSettings",
    "Store",
    "StoreMisconfigured",
    "StoreUnavailable",
    "SystemClock",
    "open_store",
]
