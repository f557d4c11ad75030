"""The `state` section of the bot's config: where sessions, codes and lockout counters live."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from state.base import Store
from state.clock import Clock
from state.memory import MemoryStore
from state.sqlite import SqliteStore


class StateSettings(BaseModel):
    """Where the bot keeps conversations in progress, one-time codes and lockout counters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["memory", "sqlite"] = Field(
        default="sqlite",
        description=(
            "`sqlite` keeps state in one local file, so a restart does not forget "
            "conversations or lockouts. `memory` forgets everything on restart; use it "
            "only for trying the bot out."
        ),
    )
    path: str = Field(
        default="state.sqlite3",
        min_length=1,
        description=(
            "The SQLite file (created if missing, readable by the bot's user only). A "
            "relative path is taken from the bot's data directory. Ignored by `memory`."
        ),
    )


async def open_store(settings: StateSettings, *, data_dir: Path, clock: Clock) -> Store:
    """The configured backend, opened; StoreUnavailable if its file cannot be used."""
    if settings.backend == "memory":
        return MemoryStore(clock)
    return await SqliteStore.open(data_dir / settings.path, clock)
