"""Telling the chat what happened on the password page.

The page runs outside any chat turn, so the result goes back as a proactive message: the
composition root plugs in a sender per channel. `RecordingNotifier` serves the console and
the tests; `BotFrameworkNotifier` opens the conversation again through the Bot Framework
with a conversation reference kept for it.
"""

import logging
from dataclasses import dataclass, field
from typing import Protocol

from dialogs import Reply

log = logging.getLogger(__name__)


class ChatNotifier(Protocol):
    async def notify(self, conversation: str, reply: Reply) -> None:
        """Send `reply` into the conversation (a `TurnRunner` key, `session:...`)."""
        ...


@dataclass(frozen=True)
class Notice:
    conversation: str
    text: str


@dataclass
class RecordingNotifier:
    """Keeps the notices (the console prints them on its next turn; tests read them)."""

    notices: list[Notice] = field(default_factory=list)

    async def notify(self, conversation: str, reply: Reply) -> None:
        self.notices.append(Notice(conversation, reply.text))

    def for_conversation(self, conversation: str) -> list[str]:
        return [notice.text for notice in self.notices if notice.conversation == conversation]
