"""Replies as Teams shows them: Adaptive Cards with plain-text fallbacks.

Teams ignores suggested actions, so a reply with choices becomes an Adaptive Card 1.5 with
one `Action.Submit` per choice, and the reply carrying the password page's link a card
whose button (`Action.OpenUrl`) opens it; the link stays in the card's text as well.

A card travels alone. Teams keeps a card in a message of its own, so an activity with both
`text` and a card shows up as two messages, the text and then the card: the menu twice
(microsoft/BotFramework-Services#98, MicrosoftDocs/msteams-docs#1998 and #2594). So a card's
activity has no `text`; its `summary` (the first line) is what the chat list and
notifications show instead of "sent a card", and the card's `fallbackText` (the reply with
its choices numbered) is for clients that render no card. A submit comes back as a message
whose `value` holds the chosen `sspr_choice` and whose text is empty; `inbound_text` reads
either.
"""

from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, Attachment

from bot.botframework.agent import MessageTurn
from bot.botframework.render import image_attachment
from dialogs import Reply

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CHOICE_KEY = "sspr_choice"
_SUMMARY_LENGTH = 80


def adaptive_card(reply: Reply) -> dict[str, Any]:
    """The card for one reply: its text, then its link's button and one button per choice."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": paragraph, "wrap": True, **_emphasis(index, reply)}
        for index, paragraph in enumerate(_paragraphs(reply.text))
    ]
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": body,
        "fallbackText": reply.plain_text(),
        "msteams": {"width": "Full"},
    }
    actions: list[dict[str, Any]] = []
    if reply.link is not None:
        actions.append(
            {
                "type": "Action.OpenUrl",
                "title": reply.link.label,
                "url": reply.link.url,
                "style": "positive",
            }
        )
    actions.extend(
        {"type": "Action.Submit", "title": choice.label, "data": {CHOICE_KEY: choice.value}}
        for choice in reply.choices
    )
    if actions:
        card["actions"] = actions
    return card


def teams_activity(reply: Reply) -> Activity:
    """A reply for Teams. Choices make a card, and so do a link and a multi-paragraph
    confirmation or result; the card then goes without `text` (see above). A reply carrying
    a password stays plain text: a card would be kept in the chat and shown in previews just
    the same, and text is easier to copy on a phone. So does one with an image (the
    authenticator key and its QR code): its text, with the picture attached inline."""
    # No suggested actions: Teams does not show them; the card carries the buttons.
    if reply.image is not None:
        return Activity(
            type=ActivityTypes.message,
            text=reply.plain_text(),
            text_format="plain",
            attachments=[image_attachment(reply.image)],
        )
    if reply.sensitive or not (reply.choices or reply.link or "\n\n" in reply.text):
        return Activity(type=ActivityTypes.message, text=reply.plain_text(), text_format="plain")
    return Activity(
        type=ActivityTypes.message,
        attachments=[Attachment(content_type=ADAPTIVE_CARD, content=adaptive_card(reply))],
        summary=_summary(reply.text),
    )


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


async def send_typing(context: MessageTurn) -> None:
    """Show "typing…" while a slow step runs (a directory lookup, a code being sent)."""
    await context.send_activity(Activity(type=ActivityTypes.typing))


def _paragraphs(text: str) -> list[str]:
    return [part for part in text.split("\n\n") if part.strip()] or [text]


def _emphasis(index: int, reply: Reply) -> dict[str, Any]:
    return {"weight": "Bolder"} if index == 0 and "\n\n" in reply.text else {}


def _summary(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= _SUMMARY_LENGTH else first[: _SUMMARY_LENGTH - 1] + "…"
