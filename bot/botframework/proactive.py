"""Messages the bot starts itself into a Bot Framework conversation (the password page's
result, notices about an account, later hand-offs and reminders), through a kept
conversation reference."""

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from microsoft_agents.activity import Activity, ConversationReference
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import ClaimsIdentity

from bot.botframework.render import model_json, to_activity
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

    def __init__(self, adapter: CloudAdapter, app_id: str | None, store: Store) -> None:
        self._adapter = adapter
        self._app_id = app_id
        self._store = store

    async def notify(self, conversation: str, reply: Reply) -> None:
        kept = (await read_conversation(self._store, conversation)).reference
        if kept and postable(kept):
            await self.send(kept, reply)
        elif kept:
            log.info("conversation has no channel to post to", extra={"channel": _channel(kept)})

    async def send(self, kept: Mapping[str, Any], reply: Reply) -> None:
        """Post `reply` into the conversation of a reference `reference_of` made.

        What failed is raised after the turn (a connector refusal is an
        aiohttp.ClientResponseError): the adapter's turn-error handler answers a failed
        turn with an apology, and a message nobody asked for needs none.
        """
        reference = ConversationReference.model_validate(dict(kept))
        continuation = reference.get_continuation_activity()
        failures: list[Exception] = []

        async def post(context: Any) -> None:
            try:
                await context.send_activity(to_activity(reply))
            except Exception as error:
                failures.append(error)

        if self._app_id:
            await self._adapter.continue_conversation(self._app_id, continuation, post)
        else:  # development mode: no token to present, as for replies
            await self._adapter.continue_conversation_with_claims(
                ClaimsIdentity({}, authentication_type="anonymous"), continuation, post, "anonymous"
            )
        if failures:
            raise failures[0]


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
