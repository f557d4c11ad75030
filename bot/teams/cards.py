"""Replies as Teams shows them: Adaptive Cards with plain-text fallbacks.

Teams ignores suggested actions, so a reply with choices becomes an Adaptive Card 1.5 with
one `Action.Submit` per choice; the same reply, numbered, travels in `text` (and as the
card's `fallbackText`) for clients that render no card: notifications, screen readers,
older mobile clients. A submit comes back as a message whose `value` holds the chosen
`sspr_choice` and whose text is empty; `inbound_text` reads either.
"""

from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, Attachment
from microsoft_agents.hosting.core import TurnContext

from bot.render import plain_text
from dialogs import Reply

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CHOICE_KEY = "sspr_choice"
_SUMMARY_LENGTH = 80


def adaptive_card(reply: Reply) -> dict[str, Any]:
    """The card for one reply: its text, then one button per choice."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": paragraph, "wrap": True, **_emphasis(index, reply)}
        for index, paragraph in enumerate(_paragraphs(reply.text))
    ]
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": body,
        "fallbackText": plain_text(reply),
        "msteams": {"width": "Full"},
    }
    if reply.choices:
        card["actions"] = [
            {"type": "Action.Submit", "title": choice.label, "data": {CHOICE_KEY: choice.value}}
            for choice in reply.choices
        ]
    return card


def teams_activity(reply: Reply) -> Activity:
    """A reply for Teams. Choices make a card; so does a multi-paragraph confirmation or
    result. A reply carrying a password stays plain text: a card would be kept in the chat
    and shown in previews just the same, and text is easier to copy on a phone."""
    # No suggested actions: Teams does not show them; the card carries the buttons.
    activity = Activity(type=ActivityTypes.message, text=plain_text(reply), text_format="plain")
    if reply.sensitive or not (reply.choices or "\n\n" in reply.text):
        return activity
    activity.attachments = [Attachment(content_type=ADAPTIVE_CARD, content=adaptive_card(reply))]
    activity.summary = _summary(reply.text)
    return activity


def inbound_text(activity: Activity) -> str:
    """What the user said: the typed text, or the choice of a card button they pressed."""
    text = (activity.text or "").strip()
    if text:
        return text
    value = activity.value
    if isinstance(value, dict):
        choice = value.get(CHOICE_KEY)
        if isinstance(choice, str):
            return choice
    return ""


async def send_typing(context: TurnContext) -> None:
    """Show "typing…" while a slow step runs (a directory lookup, a code being sent)."""
    await context.send_activity(Activity(type=ActivityTypes.typing))


def _paragraphs(text: str) -> list[str]:
    return [part for part in text.split("\n\n") if part.strip()] or [text]


def _emphasis(index: int, reply: Reply) -> dict[str, Any]:
    return {"weight": "Bolder"} if index == 0 and "\n\n" in reply.text else {}


def _summary(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= _SUMMARY_LENGTH else first[: _SUMMARY_LENGTH - 1] + "…"
