"""The global text and call budget as an anonymous kill switch and an oracle.

The attack: a web chat visitor typed real names and `other` until the budget for texts and
calls was spent; then signed-in users got "I can't send texts or calls right now", and
because only real accounts with a phone spent it, it also told which names exist. What
holds: sends for typed, unverified names are capped per client address and per account,
and take their own share of the budget whatever the name, so one visitor cannot exhaust
what identified users get, and every answer reads the same whether the name exists.
"""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from itertools import count
from typing import Any

from dialogs import Inbound
from tests.support.harness import Bot

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
PHONES_FIRST = {"verification": {"methods": ["sms", "voice", "email", "authenticator"]}}
_conversations = count(1)


async def visit(bot: Bot, name: str, client: str, *, others: int = 1) -> list[str]:
    """A signed-out web chat visit from `client`: the name, then `other` a few times."""
    conversation = f"webchat:attack-{next(_conversations)}"
    said: list[str] = []
    for text in ("reset", name, *["other"] * others):
        inbound = Inbound(text, "webchat", user=None, locale="en", client=client)
        replies = await bot.runtime.runner.run(conversation, inbound)
        said.append("\n".join(reply.text for reply in replies))
    await bot.runtime.background.drain()  # codes for typed names go out in the background
    return said


def phone_sends(bot: Bot) -> int:
    return sum(1 for m in bot.outbox.messages() if m["medium"] in ("sms", "voice"))


async def test_a_visitor_cannot_spend_what_signed_in_users_get(make_bot: MakeBot) -> None:
    limits: dict[str, Any] = {
        "phone_budget": {"count": 12, "window": "1h"},
        "typed_phone_budget": {"count": 4, "window": "1h"},
        "typed_per_client": {"count": 100, "window": "1h"},
    }
    async with make_bot(limits=limits, **PHONES_FIRST) as bot:
        for visitor in range(6):
            for name in ("alice", "adele", "bob"):
                await visit(bot, name, f"198.51.100.{visitor}", others=1)
        assert phone_sends(bot) <= 4
        signed_in = bot.chat("alice")
        await signed_in.text("reset")
        assert "I've texted a 6-digit code" in await signed_in.text("sms")


async def test_one_client_address_is_capped_and_another_is_not(make_bot: MakeBot) -> None:
    limits = {"typed_per_client": {"count": 3, "window": "1h"}}
    async with make_bot(limits=limits, **PHONES_FIRST) as bot:
        for _ in range(3):
            await visit(bot, "ghost", "203.0.113.7", others=0)  # made-up names spend it too
        before = len(bot.outbox.messages())
        await visit(bot, "alice", "203.0.113.7", others=0)
        assert len(bot.outbox.messages()) == before
        await visit(bot, "alice", "203.0.113.8", others=0)
        assert len(bot.outbox.messages()) == before + 1


async def test_spending_the_typed_budget_reads_the_same_for_real_and_made_up_names(
    make_bot: MakeBot,
) -> None:
    limits = {
        "typed_phone_budget": {"count": 3, "window": "1h"},
        "typed_per_client": {"count": 4, "window": "1h"},
    }

    async def attack(names: list[str]) -> list[str]:
        async with make_bot(limits=limits, **PHONES_FIRST) as bot:
            said: list[str] = []
            for name in names:
                said += await visit(bot, name, "192.0.2.1", others=2)
            return said

    real = await attack(["alice", "bob", "adele", "alice@contoso.com"])
    made_up = await attack(["ghost", "nobody", "zed", "ghost@contoso.com"])
    assert real == made_up
