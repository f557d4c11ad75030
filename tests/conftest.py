"""Fixtures shared by the whole-bot tests."""

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from state import FrozenClock
from tests.harness import Bot, running_bot

pytest_plugins = [
    "tests.http_fixtures",
    "tests.servers",
    "tests.ldap_server",
    "tests.samba_dc",
    "tests.browser",
]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(start=float(int(time.time())) // 30 * 30 + 1)


@pytest.fixture
async def bot(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path / "data", clock) as started:
        yield started


@pytest.fixture
def make_bot(tmp_path: Path, clock: FrozenClock) -> Callable[..., AbstractAsyncContextManager[Bot]]:
    """A bot with config overrides: `async with make_bot(verification={"required": 2})`;
    `environ=` sets the environment it starts in (secrets, `SSPR_REDIS_URL`)."""

    def make(
        environ: Mapping[str, str] | None = None, **config: Any
    ) -> AbstractAsyncContextManager[Bot]:
        return running_bot(tmp_path / "data", clock, environ, **config)

    return make
