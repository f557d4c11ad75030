"""Everything the bot writes to Slack through the Web API, and where each user is reached.

Messages, a reply's picture uploaded under it, a pressed message redrawn, a direct message
opened for a conversation the bot starts. The reference record `slack-ref:{team}:{user}`
(the user's DM channel) is owned here: written when a person talks to the bot, read when
the bot talks first.
"""

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from dialogs import Image, Reply
from state import Store, StoreUnavailable

log = logging.getLogger(__name__)

REFERENCE_TTL = 180 * 86400
MAX_REMEMBERED_REFERENCES = 10_000
IMAGE_NAME = "authenticator.png"


class SlackPoster:
    def __init__(self, client: AsyncWebClient, store: Store) -> None:
        self._client = client
        self._store = store
        self._references: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def send_proactive(self, team: str, user: str, replies: Sequence[Reply]) -> bool:
        """Post to a Slack user's direct message with the bot, opening it if need be.

        For conversations the bot starts (hand-off answers, reminders). True when posted.
        """
        channel: str | None = None
        try:
            record = await self._store.get(_reference_key(team, user))
        except StoreUnavailable:
            record = None
        if record is not None and isinstance(record.value.get("channel"), str):
            channel = record.value["channel"]
        if channel is None:
            try:
                opened = await self._client.conversations_open(users=user)
            except (SlackApiError, ClientError, TimeoutError) as error:
                log.error("Slack conversations.open failed", extra=_error_fields(error))
                return False
            channel = str((opened.get("channel") or {}).get("id") or "")
            if not channel:
                return False
            await self.remember(team, user, channel)
        return await self.post(channel, replies)

    async def remember(self, team: str, user: str, channel: str) -> None:
        """Keep where to reach this user (`slack-ref:{team}:{user}`) for proactive messages;
        written when it is new to this instance, not on every message."""
        key = (team, user)
        if self._references.get(key) == channel:
            self._references.move_to_end(key)
            return
        reference = {"team": team, "user": user, "channel": channel}
        try:
            await self._store.put(_reference_key(team, user), reference, ttl=REFERENCE_TTL)
        except StoreUnavailable:
            log.warning("state store unavailable; Slack conversation reference not kept")
            return
        self._references[key] = channel
        while len(self._references) > MAX_REMEMBERED_REFERENCES:
            self._references.popitem(last=False)

    async def post(
        self, channel: str, replies: Sequence[Reply], *, thread_ts: str | None = None
    ) -> bool:
        for reply in replies:
            try:
                await self._client.chat_postMessage(
                    channel=channel, thread_ts=thread_ts, **blocks.message(reply)
                )
            except (SlackApiError, ClientError, TimeoutError) as error:
                log.error("Slack chat.postMessage failed", extra=_error_fields(error))
                return False
            if reply.image is not None:
                await self._upload(channel, reply.image, thread_ts)
        return True

    async def _upload(self, channel: str, image: Image, thread_ts: str | None) -> None:
        """Show a reply's picture under its text. Slack shows an image only from a public
        URL or an uploaded file, and this one holds a secret (an authenticator key), so it is
        uploaded into the conversation itself, never hosted (`files_upload_v2`:
        files.getUploadURLExternal, the bytes to the URL it gives, then
        files.completeUploadExternal sharing it here). A failure (most often an app installed
        before it asked for `files:write`) leaves the text, which says the same in words."""
        try:
            await self._client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                file=image.png,
                filename=IMAGE_NAME,
                title=image.alt,
                alt_txt=image.alt,
            )
        except (SlackApiError, SlackRequestError, ClientError, TimeoutError) as error:
            log.error("Slack image upload failed", extra=_error_fields(error))

    async def redraw_answered(self, channel: str, ts: str, original: dict[str, Any]) -> None:
        """Replace a pressed message's buttons by the choice; a failure only leaves them."""
        try:
            await self._client.chat_update(
                channel=channel,
                ts=ts,
                text=str(original.get("text") or ""),
                blocks=blocks.answered(list(original.get("blocks") or []), original["label"]),
            )
        except (SlackApiError, ClientError, TimeoutError) as error:
            log.warning("Slack chat.update failed", extra=_error_fields(error))


def _reference_key(team: str, user: str) -> str:
    return f"slack-ref:{team}:{user}"


def _error_fields(error: Exception) -> dict[str, Any]:
    if isinstance(error, SlackApiError) and error.response is not None:
        return {"slack_error": error.response.get("error")}
    return {"error": type(error).__name__}
