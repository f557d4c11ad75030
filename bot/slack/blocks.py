"""Channel-neutral replies as Slack messages: a text fallback and Block Kit buttons.

Every message carries `text` (what notifications, screen readers and old clients show; the
choices numbered, so typing a number works too; the password page's link in full). A reply
with choices or a link also carries blocks: a section with the text, then the link as a URL
button and one button per choice. Slack opens a URL button's link itself and still reports
the press, which is acknowledged and otherwise ignored (its `action_id` is no choice's).
Texts go out as plain text (`mrkdwn` off, `plain_text` objects), so an asterisk or
underscore in a name or a temporary password is shown as typed instead of turning into
formatting that hides characters.
"""

from typing import Any

from bot.slack.text import escape
from dialogs import Reply

ACTION_PREFIX = "sspr_choice_"
CHOICES_BLOCK = "sspr_choices"
LINK_ACTION = "sspr_link"
MAX_BUTTONS = 25  # Slack's limit per actions block
MAX_BUTTON_TEXT = 75
MAX_SECTION_TEXT = 3000


def _plain(text: str, limit: int) -> dict[str, Any]:
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text, "emoji": False}


def message(reply: Reply) -> dict[str, Any]:
    """`chat.postMessage` arguments (without the channel) for one reply.

    The reply carrying a temporary password is one plain message, never repeated in blocks:
    it should exist in as few places as possible. Slack keeps message history (and exports
    it), so a password posted here outlives the conversation; the one-time link mode keeps
    passwords out of chat entirely. A reply with an image carries an authenticator key, and
    is kept as plain for the same reason (its picture is uploaded beside it: `SlackPoster`).
    """
    arguments: dict[str, Any] = {
        "text": escape(reply.plain_text()),
        "mrkdwn": False,
        "unfurl_links": False,
        "unfurl_media": False,
    }
    if reply.sensitive or reply.image is not None or not (reply.choices or reply.link):
        return arguments
    elements: list[dict[str, Any]] = []
    if reply.link is not None:
        elements.append(
            {
                "type": "button",
                "action_id": LINK_ACTION,
                "text": _plain(reply.link.label, MAX_BUTTON_TEXT),
                "url": reply.link.url,
                "style": "primary",
            }
        )
    elements.extend(
        {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}{number}",
            "text": _plain(choice.label, MAX_BUTTON_TEXT),
            "value": choice.value,
        }
        for number, choice in enumerate(reply.choices[: MAX_BUTTONS - len(elements)], 1)
    )
    arguments["blocks"] = [
        {"type": "section", "text": _plain(reply.text, MAX_SECTION_TEXT)},
        {"type": "actions", "block_id": CHOICES_BLOCK, "elements": elements},
    ]
    return arguments


def answered(blocks: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    """The blocks of a message whose button was pressed: the buttons replaced by the choice."""
    kept = [block for block in blocks if block.get("type") != "actions"]
    return [*kept, {"type": "context", "elements": [_plain(f"✓ {label}", MAX_SECTION_TEXT)]}]
