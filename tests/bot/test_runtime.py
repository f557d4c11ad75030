"""The composition root: what it builds from settings and the environment, and what it refuses."""

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.directory import DirectoryUnavailable
from bot.keys import SecretKeyInvalid
from bot.runtime import start_runtime
from state import FrozenClock
from tests.support.harness import settings_for
from tests.support.redis import RedisServer


async def test_the_demo_directory_is_created_privately_on_first_start(tmp_path: Path) -> None:
    runtime = await start_runtime(settings_for(tmp_path), secrets={}, clock=FrozenClock())
    await runtime.close()
    created = tmp_path / "directory.yaml"
    assert stat.S_IMODE(created.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


async def test_without_demo_seeding_a_missing_directory_stops_start_up(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, directory={"embedded": {"seed_demo": False}})
    with pytest.raises(DirectoryUnavailable):
        await start_runtime(settings, secrets={}, clock=FrozenClock())
    assert not (tmp_path / "directory.yaml").exists()


async def test_a_short_shared_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyInvalid):
        await start_runtime(
            settings_for(tmp_path), secrets={"SSPR_SECRET_KEY": "too-short"}, clock=FrozenClock()
        )


async def test_the_generated_code_key_survives_a_restart(tmp_path: Path) -> None:
    first = await start_runtime(settings_for(tmp_path), secrets={}, clock=FrozenClock())
    await first.close()
    key = (tmp_path / "secret.key").read_text()
    second = await start_runtime(settings_for(tmp_path), secrets={}, clock=FrozenClock())
    await second.close()
    assert (tmp_path / "secret.key").read_text() == key
    assert len(key) == 64


async def test_a_redis_without_persistence_is_reported_at_start_up(
    tmp_path: Path,
    make_redis_server: Callable[..., RedisServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    volatile = make_redis_server("--appendonly", "no", "--save", "")
    settings = settings_for(tmp_path, state={"backend": "redis"})
    environ = {"SSPR_REDIS_URL": volatile.url}
    runtime = await start_runtime(settings, secrets=environ, clock=FrozenClock())
    await runtime.close()
    warned = [r.getMessage() for r in caplog.records if r.name == "bot.runtime"]
    assert any("appendonly" in message for message in warned), warned


async def test_a_persistent_redis_starts_quietly(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path, state={"backend": "redis"})
    runtime = await start_runtime(
        settings, secrets={"SSPR_REDIS_URL": redis_url}, clock=FrozenClock()
    )
    await runtime.close()
    assert not [r for r in caplog.records if "appendonly" in r.getMessage()]
