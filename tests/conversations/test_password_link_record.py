"""The password link record is the conversation record's owner's to create: straight after
the turn that issued the link and only when that turn's write won. Deliveries that must not
delay a reply run in the process's one background pool, which closing the bot finishes."""

import asyncio
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from bot.conversations import bot_framework_conversation, record_key
from dialogs import Inbound
from dialogs.password_link import link_key
from state import EtagMismatch
from tests.support.harness import Bot

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
TOKEN = re.compile(r"/password/([A-Za-z0-9_-]+)")
ALICE = bot_framework_conversation("msteams", "link-record", "alice")


def said(text: str) -> Inbound:
    return Inbound(text, "msteams", user="alice")


async def up_to_the_code(bot: Bot) -> None:
    """Alice asks for an email code; the next message (the code) issues the link."""
    runner = bot.runtime.runner
    assert "Hi Alice Wilber" in (await runner.run(ALICE, said("reset")))[0].text
    assert any("emailed" in reply.text for reply in await runner.run(ALICE, said("email")))


async def test_the_link_record_is_there_straight_after_the_turn_that_issued_it(
    make_bot: MakeBot,
) -> None:
    async with make_bot(password={"entry": "link"}) as bot:
        await up_to_the_code(bot)
        replies = await bot.runtime.runner.run(ALICE, said(bot.outbox.last_code()))
        found = TOKEN.search("\n".join(reply.text for reply in replies))
        assert found, replies
        token = found.group(1)
        conversations = bot.runtime.conversations

        link = await conversations.linked(token)
        assert link is not None
        assert link.conversation.id == ALICE
        assert link.session["state"] == "awaiting_password"
        assert link.link.value["session_key"] == record_key(ALICE)
        assert link.link.value["csrf"] == []  # no form shown yet, so no form token is valid
        assert not link.issued_here("")

        csrf = await conversations.issue_form_token(link)
        assert csrf is not None
        shown = await conversations.linked(token)
        assert shown is not None
        assert len(shown.link.value["csrf"]) == 1
        assert shown.issued_here(csrf)


async def test_a_turn_whose_write_loses_creates_no_link_record(make_bot: MakeBot) -> None:
    async with make_bot(password={"entry": "link"}) as bot:
        await up_to_the_code(bot)
        dialog, conversations = bot.runtime.dialog, bot.runtime.conversations
        read = await conversations.read(ALICE)
        outcome = await dialog.turn(read.session, said(bot.outbox.last_code()))
        assert outcome.issued_link is not None
        await conversations.write(read.after_turn(read.session, "meanwhile", None))

        with pytest.raises(EtagMismatch):
            await conversations.apply(read.after_turn(outcome.session, None, None), outcome)

        assert await bot.runtime.store.get(outcome.issued_link.key) is None
        assert "password.link_sent" not in [event["event"] for event in bot.audit()]
        assert (await conversations.read(ALICE)).session == read.session


async def test_the_link_of_a_cancelled_reset_opens_nothing(
    make_bot: MakeBot,
) -> None:
    async with make_bot(password={"entry": "link"}) as bot:
        await up_to_the_code(bot)
        replies = await bot.runtime.runner.run(ALICE, said(bot.outbox.last_code()))
        found = TOKEN.search("\n".join(reply.text for reply in replies))
        assert found, replies
        conversations = bot.runtime.conversations
        assert await bot.runtime.store.get(link_key(found.group(1))) is not None
        await bot.runtime.runner.run(ALICE, said("cancel"))
        assert await conversations.linked(found.group(1)) is None


async def test_the_pool_carries_the_code_of_a_blind_challenge(bot: Bot) -> None:
    chat = bot.chat()
    for line in ("reset", "bob", "other"):
        await chat.say(line)
    await bot.runtime.background.drain()
    assert [(m["medium"], m["to"]) for m in bot.outbox.messages()] == [("sms", "+1 425 555 0105")]


async def test_closing_the_bot_finishes_deliveries_under_way_and_refuses_new_work(
    make_bot: MakeBot,
) -> None:
    async with make_bot() as bot:
        chat = bot.chat()
        for line in ("reset", "bob", "other"):
            await chat.say(line)
    assert [m["medium"] for m in bot.outbox.messages()] == ["sms"]
    assert not bot.runtime.background.start(asyncio.sleep(0), failed="late work")
