"""A lock that conversations already under way ignored.

The attack: after bob's flow locked, a conversation started before the lock still caused
calls and emails with `other` and `resend`, and another typed its earlier code and got a
password link. What holds: the lock is checked before every send, every check and the
password step, in every conversation, on every instance.
"""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from tests.support.harness import Bot, Chat

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
SHARED = {"state": {"backend": "sqlite"}, "password": {"entry": "chat"}}
LOCKED = "too many attempts"


async def lock_by_failing(chat: Chat) -> None:
    await chat.text("reset")
    await chat.text("email")
    for wrong in ("111111", "222222", "333333", "resend", "444444"):
        await chat.text(wrong)
    assert LOCKED in await chat.text("555555")


async def test_a_lock_stops_every_conversation_on_every_instance(make_bot: MakeBot) -> None:
    async with make_bot(**SHARED) as first, make_bot(**SHARED) as second:
        sender = second.chat("bob")  # code sent, waiting for it
        await sender.text("reset")
        await sender.text("email")
        code = second.outbox.last_code()
        chooser = second.chat("bob")  # at the menu
        await chooser.text("reset")
        verified = second.chat("bob")  # verified, choosing a password in the chat
        await verified.text("reset")
        await verified.text("sms")
        assert "new password" in await verified.text(second.outbox.last_code())

        await lock_by_failing(first.chat("bob"))
        sent = len(first.outbox.messages())

        assert LOCKED in await sender.text("resend")
        assert LOCKED in await chooser.text("sms")
        assert LOCKED in await second.chat("bob").text("reset")
        assert LOCKED in await sender.text(code)
        assert LOCKED in await verified.text("A long and quite new passphrase 42")
        assert len(first.outbox.messages()) == sent
        events = [e["event"] for e in first.audit()]  # one data folder: one audit file
        assert "password.reset" not in events
        assert events.count("challenge.passed") == 1
