"""Redis going away in the middle of a reset: a clear answer, nothing half-written, and the
reset goes on from where it stood once Redis is back (append-only file on)."""

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from state import StoreUnavailable
from tests.support.harness import PASSWORDS, Bot
from tests.support.http_fixtures import MakeHttpBot
from tests.support.redis import RedisServer

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
UNAVAILABLE = "briefly unavailable"


async def test_a_reset_survives_redis_stopping_and_restarting(
    make_bot: MakeBot, make_redis_server: Callable[..., RedisServer]
) -> None:
    server = make_redis_server()
    async with make_bot({"SSPR_REDIS_URL": server.url}, state={"backend": "redis"}) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        await chat.text("email")
        code = bot.outbox.last_code()
        sent = len(bot.outbox.messages())

        server.stop()
        assert UNAVAILABLE in await chat.text(code)
        assert UNAVAILABLE in await bot.chat("bob").text("reset")
        with pytest.raises(StoreUnavailable):
            await bot.runtime.store.ping()
        assert len(bot.outbox.messages()) == sent
        assert await bot.password_is("alice", PASSWORDS["alice"])

        server.start()
        assert "temporary password" in await chat.text(code)
        assert "Hi Bob Basic" in await bot.chat("bob").text("reset")


async def test_a_crash_loses_nothing_with_the_append_only_file(
    make_bot: MakeBot, make_redis_server: Callable[..., RedisServer]
) -> None:
    server = make_redis_server()
    async with make_bot({"SSPR_REDIS_URL": server.url}, state={"backend": "redis"}) as bot:
        chat = bot.chat("bob")
        await chat.text("reset")
        await chat.text("email")
        for wrong in ("111111", "222222"):
            await chat.text(wrong)
        code = bot.outbox.last_code()
        server.kill()
        await asyncio.to_thread(server.start)  # the bot's event loop runs on meanwhile
        await chat.text("333333")
        assert "can't be used any more" in await chat.text(code)
        await chat.text("resend")
        await chat.text("444444")
        assert "too many attempts" in (await chat.text("555555")).lower()


async def test_readiness_reports_redis(
    make_bot: MakeBot, make_redis_server: Callable[..., RedisServer]
) -> None:
    server = make_redis_server()
    async with make_bot({"SSPR_REDIS_URL": server.url}, state={"backend": "redis"}) as bot:
        await bot.runtime.store.ping()
        server.stop()
        with pytest.raises(StoreUnavailable):
            await bot.runtime.store.ping()
        server.start()
        await bot.runtime.store.ping()


async def test_readyz_follows_redis_over_http(
    make_http_bot: MakeHttpBot, make_redis_server: Callable[..., RedisServer]
) -> None:
    server = make_redis_server()
    environ = {"SSPR_REDIS_URL": server.url}
    async with make_http_bot(environ, state={"backend": "redis"}) as bot:
        url = f"{bot.url}/readyz"
        async with bot.session.get(url) as response:
            assert response.status == 200
        server.stop()
        async with bot.session.get(url) as response:
            assert response.status == 503
        assert UNAVAILABLE in await bot.say("reset")
        await asyncio.to_thread(server.start)
        async with bot.session.get(url) as response:
            assert response.status == 200
        assert "Hi Alice Wilber" in await bot.say("reset")
