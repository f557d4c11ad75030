"""Telling the chat what happened on the password page.

The page runs outside any chat turn, so the result goes back as a proactive message; the
composition root plugs in the sender (`bot.botframework.proactive.BotFrameworkNotifier`).
"""

from typing import Protocol

from dialogs import Reply


class ChatNotifier(Protocol):
    async def notify(self, conversation: str, reply: Reply) -> None:
        """Send `reply` into the conversation (as `TurnRunner.run` names it)."""
        ...
