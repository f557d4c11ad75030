"""A locked-out account can be unlocked, keeping its password, after the same verifications
a reset needs; the directory's refusals reach the user as something they can act on."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from state import FrozenClock
from tests.support.directory import demo_with
from tests.support.harness import PASSWORDS, Bot, running_bot


@pytest.fixture
async def locked_bob(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Bot]:
    demo_with(tmp_path / "data", "bob", locked=True)
    async with running_bot(tmp_path / "data", clock) as bot:
        yield bot


async def test_a_locked_account_is_offered_an_unlock_after_verification(locked_bob: Bot) -> None:
    bot = locked_bob
    chat = bot.chat("bob")
    assert "Hi Bob Basic" in await chat.text("reset")
    await chat.text("email")
    offer = await chat.say(bot.outbox.last_code())
    text = offer[0].text or ""
    assert "Your account is locked" in text
    assert "1. Unlock it and keep my password" in text
    assert "2. Set a new password" in text
    assert "unlocked" in await chat.text("1")
    assert not (await bot.runtime.directory.find("bob")).locked  # type: ignore[union-attr]
    assert await bot.password_is("bob", PASSWORDS["bob"])
    await bot.runtime.background.drain()
    assert bot.outbox.messages()[-1]["subject"] == "Your account was unlocked"
    await bot.runtime.background.drain()
    assert [e["event"] for e in bot.audit()][-2:] == ["account.unlocked", "notice.sent"]


async def test_a_locked_account_may_still_choose_a_new_password(locked_bob: Bot) -> None:
    bot = locked_bob
    chat = bot.chat("bob")
    await chat.text("reset")
    await chat.text("email")
    await chat.text(bot.outbox.last_code())
    assert "pick one" in (await chat.text("maybe")).lower()
    assert "temporary password" in await chat.text("reset")
    assert not await bot.password_is("bob", PASSWORDS["bob"])


async def test_an_unlocked_account_is_not_offered_an_unlock(bot: Bot) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    await chat.text("email")
    assert "temporary password" in await chat.text(bot.outbox.last_code())


async def test_the_directorys_refusal_is_worded_for_the_user(
    tmp_path: Path, clock: FrozenClock
) -> None:
    chosen = "lantern quarry violet 42"
    async with running_bot(tmp_path / "data", clock, password={"entry": "chat"}) as bot:
        for attempt in ("first", "second"):
            chat = bot.chat("bob")
            await chat.text("reset")
            await chat.text("email")
            await chat.text(bot.outbox.last_code())
            answer = await chat.text(chosen)
            if attempt == "first":
                assert "Done" in answer
        assert "That is your current password" in answer
        assert "Done" in await chat.text("another lantern for the quarry")
        refused = [e for e in bot.audit() if e["event"] == "password.refused_by_directory"]
        assert refused[0]["kind"] == "same"
