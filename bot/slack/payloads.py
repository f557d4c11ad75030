"""What a signed Slack request says, read defensively.

A request that passed the signature check is still only data: every field is checked for
its type and anything unexpected makes the request malformed or ignored, never a 500. The
JSON depth is bounded before anything walks the document.
"""

import json
from dataclasses import dataclass
from typing import Any

from bot.conversations import slack_conversation
from bot.slack import blocks

# Slack's own payloads (a message's blocks, a button press) nest about ten levels deep.
MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class Said:
    """One thing a person said to the bot: typed in a DM or picked with a button."""

    team: str
    channel: str
    user: str
    text: str
    delivery: str  # the id the turn runner remembers

    @property
    def conversation(self) -> str:
        return slack_conversation(self.team, self.channel, self.user)


def json_object(body: bytes) -> dict[str, Any] | None:
    """The JSON object in `body`, or None for anything else: not JSON, not an object, or
    nested deeper than `MAX_JSON_DEPTH` (so deeper than the parser itself can go, too)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or _deeper_than(value, MAX_JSON_DEPTH):
        return None
    return value


def _deeper_than(document: dict[str, Any], limit: int) -> bool:
    """Whether containers nest more than `limit` levels (the document itself is level 1).
    Walked with a list, not recursion, so no depth can make this fail."""
    pending: list[tuple[dict[str, Any] | list[Any], int]] = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def mentions_bot(envelope: dict[str, Any], text: object) -> bool:
    """Whether a message names this app's bot user (`<@U…>`), as listed in the envelope."""
    if not isinstance(text, str):
        return False
    authorizations = envelope.get("authorizations") or []
    bots = {
        entry.get("user_id")
        for entry in authorizations
        if isinstance(entry, dict) and entry.get("is_bot")
    }
    return any(f"<@{bot}>" in text for bot in bots if isinstance(bot, str))


def _object(container: dict[str, Any], name: str) -> dict[str, Any]:
    """A field that should hold an object; an empty one for anything else (a signed but
    malformed payload is ignored, never a 500)."""
    value = container.get(name)
    return value if isinstance(value, dict) else {}


def pressed_button(payload: dict[str, Any]) -> tuple[Said, str, dict[str, Any]] | None:
    """The choice, the pressed message's ts and what `chat.update` needs to redraw it."""
    team = _object(payload, "team").get("id")
    user = _object(payload, "user").get("id")
    container = _object(payload, "container")
    channel = _object(payload, "channel").get("id") or container.get("channel_id")
    message = _object(payload, "message")
    message_ts = container.get("message_ts") or message.get("ts")
    actions = payload.get("actions")
    action = next(
        (
            entry
            for entry in (actions if isinstance(actions, list) else [])
            if isinstance(entry, dict)
            and str(entry.get("action_id", "")).startswith(blocks.ACTION_PREFIX)
            and isinstance(entry.get("value"), str)
        ),
        None,
    )
    if action is None or not (
        isinstance(team, str)
        and isinstance(user, str)
        and isinstance(channel, str)
        and isinstance(message_ts, str)
    ):
        return None
    label = str(_object(action, "text").get("text") or action["value"])
    said = Said(team, channel, user, action["value"], f"slack-action:{channel}:{message_ts}")
    original = {"text": message.get("text"), "blocks": message.get("blocks"), "label": label}
    return said, message_ts, original
