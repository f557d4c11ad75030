"""Messages the bot starts itself into a Bot Framework conversation (the password page's
result, notices about an account, later hand-offs and reminders), through a kept
conversation reference.

They go out on `Outbound`, the replies' own client, with the token the Agents SDK's
`continue_conversation` would present (claims naming the bot's app id: the Bot Framework
audience and scope), as a new activity in the conversation (`POST .../activities`, Bot
Framework's send-to-conversation): a proactive message answers nothing, where the SDK's
path replies to the made-up id of its continuation event. The SDK built a turn context, a
connector client and a user-token client for each one.
"""

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import ClaimsIdentity
from microsoft_agents.hosting.core.authorization.authentication_constants import (
    AuthenticationConstants,
)

from bot.botframework.outbound import Outbound
from bot.botframework.render import model_json, reply_fields, to_activity
from bot.conversations import read_conversation
from dialogs import Reply
from state import Store

log = logging.getLogger(__name__)

# Channels that print their own replies and take nothing posted: `sspr-bot chat`. Its
# sessions kept from before its service URL became a name still carry a made-up address.
_UNPOSTABLE_CHANNELS = frozenset({"console"})


def reference_of(activity: Activity) -> dict[str, Any]:
    """What to keep of an inbound activity to reach its conversation again: no message
    text, nothing the user typed, and no activity id (a proactive message answers nothing).

    The fields `Activity.get_conversation_reference` takes, as its model would dump them,
    read straight off the activity: building and dumping that model cost a turn more than
    the rest of its address handling. Like that model, it refuses an activity that names
    no conversation, bot or service URL (ValueError): nothing could be sent back into it."""
    if not (activity.conversation and activity.recipient and activity.service_url):
        raise ValueError("the activity names no conversation, bot or service URL")
    reference = {
        "user": model_json(activity.from_property),
        "bot": model_json(activity.recipient),
        "conversation": model_json(activity.conversation),
        "channelId": str(activity.channel_id) if activity.channel_id else None,
        "locale": activity.locale or None,
        "serviceUrl": activity.service_url,
    }
    return {name: value for name, value in reference.items() if value is not None}


class BotFrameworkNotifier:
    """Sends into a Bot Framework conversation through a kept reference: the one in a
    conversation's record (`notify`, for conversations as `TurnRunner.run` names
    them; web chat and Slack ones have none and are left alone), or one kept elsewhere
    (`send`, for a Teams user's own chat)."""

    def __init__(self, outbound: Outbound, app_id: str | None, store: Store) -> None:
        self._outbound = outbound
        self._claims = proactive_claims(app_id)
        self._store = store

    async def notify(self, conversation: str, reply: Reply) -> None:
        kept = (await read_conversation(self._store, conversation)).reference
        if kept and postable(kept):
            await self.send(kept, reply)
        elif kept:
            log.info("conversation has no channel to post to", extra={"channel": _channel(kept)})

    async def send(self, kept: Mapping[str, Any], reply: Reply) -> None:
        """Post `reply` into the conversation of a reference `reference_of` made, from the
        bot to the reference's user. A connector refusal is raised as
        aiohttp.ClientResponseError, and a reference that names no conversation or service
        URL as ValueError: nothing could be sent."""
        await self._outbound.reply(self._claims, reply_fields(to_activity(reply)) | _address(kept))


def proactive_claims(app_id: str | None) -> ClaimsIdentity:
    """The claims the Agents SDK's `continue_conversation` makes for the bot's own app id,
    which choose the outbound token; development mode (no app id) presents none, as for
    replies."""
    if not app_id:
        return ClaimsIdentity({}, authentication_type="anonymous")
    return ClaimsIdentity(
        {
            AuthenticationConstants.AUDIENCE_CLAIM: app_id,
            AuthenticationConstants.APP_ID_CLAIM: app_id,
        }
    )


def _address(kept: Mapping[str, Any]) -> dict[str, Any]:
    """What `Activity.apply_conversation_reference` sets on a message the bot sends into the
    kept conversation, already in its wire form."""
    conversation = kept.get("conversation")
    service_url = kept.get("serviceUrl")
    if not isinstance(conversation, Mapping) or not conversation.get("id") or not service_url:
        raise ValueError("the kept reference names no conversation or service URL")
    address = {
        "channelId": kept.get("channelId"),
        "serviceUrl": service_url,
        "conversation": dict(conversation),
        "from": kept.get("bot"),
        "recipient": kept.get("user"),
        "locale": kept.get("locale"),
    }
    return {name: value for name, value in address.items() if value is not None}


def postable(kept: Mapping[str, Any]) -> bool:
    """Whether a kept reference names a channel service a message can be posted to: an
    absolute http(s) service URL, on a channel that takes posts. Anything else would only
    end in a failed connection, logged as an error, for a message nobody can receive."""
    if _channel(kept) in _UNPOSTABLE_CHANNELS:
        return False
    service_url = kept.get("serviceUrl")
    if not isinstance(service_url, str):
        return False
    parts = urlsplit(service_url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _channel(kept: Mapping[str, Any]) -> str:
    channel = kept.get("channelId")
    return channel if isinstance(channel, str) else "none"
