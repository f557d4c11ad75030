"""Reloading the config file under a running bot: a valid file's rules apply to the
conversations that begin after it, one in flight finishes under the rules it began with, an
invalid file is refused and the running rules kept, a restart-only change is said to need a
restart, and every reload is audited. In process, on the whole bot (`running_bot`), through
the reload entry point the server's watch and SIGHUP call."""

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.reload import Reloader, file_fingerprint
from state import FrozenClock
from tests.support.harness import Bot, running_bot

BASE: dict[str, Any] = {"state": {"backend": "memory"}, "password": {"entry": "temporary"}}


def write_config(path: Path, data_dir: Path, **sections: Any) -> None:
    """The file `running_bot` would be configured from, with `sections` over it."""
    document = {"data_dir": str(data_dir), **BASE, **sections}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")


def write_invalid(path: Path) -> None:
    path.write_text("verification:\n  required: 3\n  methds: [email]\n", encoding="utf-8")


def remove(path: Path) -> None:
    path.unlink()


def fingerprint_of(path: Path) -> str:
    return file_fingerprint(path.read_bytes())


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sspr.yaml"
    write_config(path, tmp_path / "data", verification={"required": 1})
    return path


@pytest.fixture
async def bot(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path / "data", clock, verification={"required": 1}) as bot:
        yield bot


def reloader(bot: Bot, config: Path) -> Reloader:
    runtime = bot.runtime
    return Reloader(
        config, started=runtime.settings, versions=runtime.versions, audit=runtime.audit
    )


def reloads(bot: Bot) -> list[dict[str, Any]]:
    return [event for event in bot.audit() if event["event"] == "config.reloaded"]


async def test_a_valid_file_applies_to_a_new_conversation_and_is_audited(
    bot: Bot, config: Path, tmp_path: Path
) -> None:
    write_config(config, tmp_path / "data", verification={"required": 2})

    reloaded = await reloader(bot, config).reload("sighup")

    assert reloaded.outcome == "applied"
    assert reloaded.needs_restart == ()
    chat = bot.chat("alice")
    await chat.text("reset")
    await chat.text("email")
    assert "One more check" in await chat.text(bot.outbox.last_code())
    [audited] = reloads(bot)
    assert audited["outcome"] == "applied"
    assert audited["cause"] == "sighup"
    assert audited["fingerprint"] == fingerprint_of(config)
    assert audited["rules"] == bot.runtime.versions.current.fingerprint
    assert audited["problems"] == 0


async def test_a_conversation_in_flight_finishes_under_the_rules_it_began_with(
    bot: Bot, config: Path, tmp_path: Path
) -> None:
    before = bot.chat("alice")
    await before.text("reset")
    write_config(config, tmp_path / "data", verification={"required": 2}, codes={"length": 8})

    assert (await reloader(bot, config).reload("file_changed")).outcome == "applied"

    await before.text("email")
    old_code = bot.outbox.last_code()
    assert len(old_code) == 6  # issued after the reload, under the rules at its start
    assert "temporary password" in await before.text(old_code)  # one check was enough
    after = bot.chat("alice@contoso.com")
    await after.text("reset")
    await after.text("email")
    new_code = bot.outbox.last_code()
    assert len(new_code) == 8
    assert "One more check" in await after.text(new_code)


async def test_an_invalid_file_is_refused_its_errors_logged_and_the_rules_kept(
    bot: Bot, config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running = bot.runtime.versions.current.fingerprint
    write_invalid(config)

    with caplog.at_level(logging.ERROR, logger="bot.reload"):
        reloaded = await reloader(bot, config).reload("sighup")

    assert reloaded.outcome == "refused"
    assert reloaded.problems == (
        "verification.required: must be 1 or 2",
        "verification.methds: unknown setting (did you mean 'methods'?)",
    )
    [logged] = [record for record in caplog.records if "refused" in record.getMessage()]
    assert logged.problems == list(reloaded.problems)  # type: ignore[attr-defined]
    assert bot.runtime.versions.current.fingerprint == running
    chat = bot.chat("alice")
    await chat.text("reset")
    await chat.text("email")
    assert "temporary password" in await chat.text(bot.outbox.last_code())
    [audited] = reloads(bot)
    assert audited["outcome"] == "refused"
    assert audited["problems"] == 2
    assert audited["rules"] == running
    assert "methds" not in str(audited)  # the trail counts the errors; the log says them


async def test_an_unreadable_file_is_refused(bot: Bot, config: Path) -> None:
    remove(config)

    reloaded = await reloader(bot, config).reload("file_changed")

    assert reloaded.outcome == "refused"
    assert reloaded.problems[0].endswith("cannot read (No such file or directory)")
    assert reloads(bot)[0]["fingerprint"] is None


async def test_a_restart_only_change_is_said_to_need_a_restart_and_the_rest_applies(
    bot: Bot, config: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_config(
        config,
        tmp_path / "data",
        verification={"required": 2},
        server={"port": 4000},
        password={"entry": "temporary", "min_length": 16},
    )

    with caplog.at_level(logging.WARNING, logger="bot.reload"):
        reloaded = await reloader(bot, config).reload("sighup")

    assert reloaded.outcome == "applied"
    assert reloaded.needs_restart == ("server",)
    assert bot.runtime.versions.current.settings.verification.required == 2
    assert bot.runtime.versions.current.settings.password.min_length == 16  # live
    [warned] = [record for record in caplog.records if "restart" in record.getMessage()]
    assert warned.sections == ["server"]  # type: ignore[attr-defined]
    assert reloads(bot)[0]["needs_restart"] == "server"


async def test_the_same_rules_again_change_nothing(bot: Bot, config: Path) -> None:
    running = bot.runtime.versions.current

    reloaded = await reloader(bot, config).reload("sighup")

    assert reloaded.outcome == "unchanged"
    assert bot.runtime.versions.current is running
    assert reloads(bot)[0]["outcome"] == "unchanged"


async def test_a_superseded_dialog_is_dropped_once_its_sessions_are_over(
    bot: Bot, config: Path, tmp_path: Path, clock: FrozenClock
) -> None:
    first = bot.runtime.versions.current.fingerprint
    write_config(config, tmp_path / "data", verification={"required": 2})
    await reloader(bot, config).reload("sighup")
    assert bot.runtime.versions.in_use[1:] == [first]

    clock.advance(bot.runtime.settings.session.kept_for)

    assert bot.runtime.versions.in_use == [bot.runtime.versions.current.fingerprint]
