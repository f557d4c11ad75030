"""Talking to the bot as someone a channel vouches for, to register methods, and reading
what the registry then holds."""

import re
from urllib.parse import parse_qs, urlparse

from bot.conversations import bot_framework_conversation
from dialogs import Inbound
from dialogs.registry import Registered
from dialogs.replies import Reply
from tests.support.harness import Bot


class Person:
    """Someone the channel vouches for (as Teams does), talking to the bot's turn runner,
    so the replies are read as the dialog made them (with their images)."""

    def __init__(self, bot: Bot, user: str, channel: str = "msteams") -> None:
        self._bot = bot
        self._user = user
        self._channel = channel
        self._conversation = bot_framework_conversation(channel, f"enrol-{user}", user)

    async def say(self, text: str) -> list[Reply]:
        inbound = Inbound(text, self._channel, user=self._user)
        return await self._bot.runtime.runner.run(self._conversation, inbound)

    async def text(self, text: str) -> str:
        return "\n---\n".join(reply.plain_text() for reply in await self.say(text))


def shown_secret(reply: Reply) -> str:
    """The key in a setup reply, from its otpauth link; the key typed by hand must be it."""
    found = re.search(r"otpauth://\S+", reply.text)
    assert found, reply.text
    uri = urlparse(found.group())
    secret = parse_qs(uri.query)["secret"][0]
    grouped = " ".join(secret[start : start + 4] for start in range(0, len(secret), 4))
    assert f"\n\n{grouped}\n\n" in reply.text
    return secret


async def proven_by_email(bot: Bot, person: Person) -> str:
    first = await person.text("register")
    assert "let's confirm it's you" in first
    await person.text("email")
    return await person.text(bot.outbox.last_code())


async def registered(bot: Bot, username: str) -> Registered:
    account = await bot.runtime.directory.find(username)
    assert account is not None
    return await bot.runtime.registry.read(account.id)
