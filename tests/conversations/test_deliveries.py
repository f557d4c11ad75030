"""A delivery the channel repeats is answered once, also when the repeat reaches another
instance; a store that cannot be reached makes the bot not ready and changes nothing."""

import asyncio

from tests.support.http_fixtures import HttpBot, MakeHttpBot

SQLITE = {"state": {"backend": "sqlite"}}


async def test_a_repeated_activity_is_handled_once(http_bot: HttpBot) -> None:
    await http_bot.say("reset")
    activity = http_bot.activity("email")
    first = await http_bot.post(activity)
    again = await http_bot.post(activity)
    assert "I've emailed" in first.text
    assert again.status == 202
    assert again.replies == []
    assert len(http_bot.outbox.messages()) == 1


async def test_a_repeat_sent_to_another_instance_is_dropped(make_http_bot: MakeHttpBot) -> None:
    async with make_http_bot(**SQLITE) as first, make_http_bot(**SQLITE) as second:
        await first.say("reset")
        activity = first.activity("email")
        mark = len(first.connector.received)
        answers = await asyncio.gather(first.post(activity), second.post(activity))
        assert [answer.status for answer in answers] == [202, 202]
        replies = first.connector.received[mark:]  # both instances reply to one connector
        assert [reply.text.split(".")[0] for reply in replies] == [
            "I've emailed a 6-digit code to a***@contoso"
        ]
        assert len(first.outbox.messages()) == 1


async def test_turns_alternate_between_instances(make_http_bot: MakeHttpBot) -> None:
    async with make_http_bot(**SQLITE) as first, make_http_bot(**SQLITE) as second:
        assert "Hi Alice" in await first.say("reset")
        assert "I've emailed" in await second.say("email")
        done = await first.say(first.outbox.last_code())
        assert "temporary password" in done


async def test_readiness_follows_the_store(make_http_bot: MakeHttpBot) -> None:
    async with make_http_bot(**SQLITE) as bot:
        async with bot.session.get(f"{bot.url}/readyz") as response:
            assert (response.status, await response.json()) == (200, {"status": "ready"})
        await bot.runtime.store.close()
        async with bot.session.get(f"{bot.url}/readyz") as response:
            assert response.status == 503
            assert (await response.json())["status"] == "not ready"
        async with bot.session.get(f"{bot.url}/healthz") as response:
            assert response.status == 200
        answer = await bot.post(bot.activity("reset"))
        assert answer.status == 202
        assert "briefly unavailable" in answer.text
        assert bot.outbox.messages() == []
