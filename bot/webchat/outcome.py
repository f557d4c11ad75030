"""The password page's result, kept for a web chat conversation.

Teams and Slack hear the page's result as a message the bot sends itself; nothing can be
sent to a web chat page. So the page leaves what it said (the same texts it showed) in the
conversation's record, beside the session it ended, and the web chat page asks for it while
it waits. The next turn of the conversation writes the record without it: by then the chat
has moved on. Nothing secret is in these texts: the password chosen on the page is never
repeated, and a temporary password is never set there.

This module is the one that knows the field; the password page writes it, the web chat
reads it.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from bot.webchat.conversations import CONVERSATION_PREFIX

_FIELD = "page_outcome"


def keeps_outcome(conversation: str) -> bool:
    """Whether a conversation (as `TurnRunner.run` names it) is a web chat one."""
    return conversation.startswith(CONVERSATION_PREFIX)


def with_outcome(record: Mapping[str, Any], texts: Sequence[str]) -> dict[str, Any]:
    """The conversation record's value with the page's result kept in it."""
    return {**record, _FIELD: list(texts)}


def outcome_in(record: Mapping[str, Any]) -> list[str]:
    """What the password page said when it ended the conversation's reset; empty when it
    did not (or the conversation has had a turn since)."""
    kept = record.get(_FIELD)
    if not isinstance(kept, list):
        return []
    return [text for text in kept if isinstance(text, str)]
