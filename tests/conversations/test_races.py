"""Parallel turns never gain credit by racing: one code counts once, a failure budget is
never exceeded, and one authenticator code serves one session. Run on every store backend,
Redis included (a real server)."""

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from tests.support.harness import PASSWORDS, Bot, Chat

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
BACKENDS = ["memory", "sqlite", "redis"]


@pytest.fixture
def backend_bot(request: pytest.FixtureRequest, make_bot: MakeBot) -> Callable[..., Any]:
    """`backend_bot(backend, **config)`: a bot on that store (redis: the test server)."""

    def make(backend: str, **config: Any) -> AbstractAsyncContextManager[Bot]:
        environ = {}
        if backend == "redis":
            environ["SSPR_REDIS_URL"] = request.getfixturevalue("redis_url")
        return make_bot(environ, state={"backend": backend}, **config)

    return make


def events(bot: Bot, name: str) -> list[dict[str, Any]]:
    return [entry for entry in bot.audit() if entry["event"] == name]


async def all_at_once(chat: Chat, texts: list[str]) -> list[str]:
    """Send every text concurrently; the texts of all replies the bot sent for them."""
    before = len(chat.adapter.activity_queue)
    await asyncio.gather(*(chat.say(text) for text in texts))
    return [activity.text or "" for activity in chat.adapter.activity_queue[before:]]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_fifty_parallel_submissions_of_one_code_give_one_reset(
    backend_bot: MakeBot, backend: str
) -> None:
    async with backend_bot(backend) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        await chat.text("email")
        code = bot.outbox.last_code()
        answers = await all_at_once(chat, [code] * 50)
        shown = [a.split("\n\n")[1] for a in answers if "temporary password" in a]
        assert len(shown) == 1
        assert len(events(bot, "password.reset")) == 1
        assert len(events(bot, "challenge.passed")) == 1
        assert await bot.password_is("alice", shown[0])
        assert not await bot.password_is("alice", PASSWORDS["alice"])


@pytest.mark.parametrize("backend", BACKENDS)
async def test_fifty_parallel_wrong_guesses_are_evaluated_within_the_budget(
    backend_bot: MakeBot, backend: str
) -> None:
    async with backend_bot(backend, codes={"attempts": 10}) as bot:
        chat = bot.chat("bob")
        await chat.text("reset")
        await chat.text("email")
        code = int(bot.outbox.last_code())
        guesses = [f"{(code + n) % 1_000_000:06d}" for n in range(1, 51)]
        await all_at_once(chat, guesses)
        account = (await bot.runtime.directory.find("bob")).id  # type: ignore[union-attr]
        evaluated = await bot.runtime.store.count(f"fail:{account}", window=86400)
        assert evaluated == 5  # every evaluation holds a slot of the failure budget
        assert len(events(bot, "challenge.failed")) <= 5
        assert events(bot, "reset.locked")
        assert "too many attempts" in (await bot.chat("bob").text("reset")).lower()
        assert await bot.password_is("bob", PASSWORDS["bob"])


@pytest.mark.parametrize("backend", BACKENDS)
async def test_two_sessions_cannot_both_spend_one_authenticator_code(
    backend_bot: MakeBot, backend: str
) -> None:
    async with backend_bot(backend) as bot:
        first, second = bot.chat("alice"), bot.chat("alice")
        for chat in (first, second):
            await chat.text("reset")
            await chat.text("app")
        code = bot.totp("alice")
        both = await asyncio.gather(all_at_once(first, [code]), all_at_once(second, [code]))
        answers = [reply for replies in both for reply in replies]
        assert sum("temporary password" in answer for answer in answers) == 1
        assert sum("isn't right" in answer for answer in answers) == 1
        assert len(events(bot, "password.reset")) == 1
