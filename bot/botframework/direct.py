"""Message activities run straight into the reset agent, without the Agents SDK's turn
pipeline.

Every check stays: the token is the SDK validator's (`token_check`), the channel's rules
are the adapter's own (`ChannelCloudAdapter.refusal`), and the activity is the SDK's
model, validated as the SDK validates it. What is left out is what a message to this bot
never uses: the per-turn connector and user-token clients, the middleware set, the
dispatch by activity type. Replies go out through `Outbound` in the order the agent sends
them, as the SDK's turn context sends them.

Anything else (conversation updates, invokes, `expectReplies`) goes the SDK's way.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, DeliveryModes, ResourceResponse
from microsoft_agents.hosting.core.authorization import ClaimsIdentity

from bot.botframework.outbound import Outbound
from bot.botframework.render import model_json, reply_fields

log = logging.getLogger(__name__)

Apology = Callable[["DirectTurn", Exception], Awaitable[None]]


def takes(body: dict[str, Any]) -> bool:
    """Whether this activity runs the direct way: a message, answered with 202."""
    return (
        body.get("type") == ActivityTypes.message
        and body.get("deliveryMode") != DeliveryModes.expect_replies
    )


class DirectTurn:
    """The part of a turn context the reset agents use: the activity, and sending
    replies into its conversation."""

    def __init__(self, activity: Activity, claims: ClaimsIdentity, outbound: Outbound) -> None:
        self.activity = activity
        self._claims = claims
        self._outbound = outbound
        self._address = _reply_address(activity)
        self.responded = False

    async def send_activity(self, activity_or_text: Activity) -> ResourceResponse | None:
        [sent] = await self.send_activities([activity_or_text])
        return sent

    async def send_activities(self, activities: Sequence[Activity]) -> list[ResourceResponse]:
        """Addressed as the SDK's turn context addresses them (from the bot, to the user,
        in the incoming activity's conversation, as a reply to it), and posted one after
        the other. The reply's own fields are dumped once; the address is the incoming
        activity's, dumped once for all replies."""
        sent: list[ResourceResponse] = []
        for activity in activities:
            body = reply_fields(activity) | self._address
            ident = await self._outbound.reply(self._claims, body)
            if body["type"] != ActivityTypes.trace:
                self.responded = True
            sent.append(ResourceResponse(id=ident or ""))
        return sent


def _reply_address(incoming: Activity) -> dict[str, Any]:
    """What `Activity.apply_conversation_reference` sets on a reply to `incoming`."""

    address: dict[str, Any] = {
        "channelId": str(incoming.channel_id) if incoming.channel_id else None,
        "serviceUrl": incoming.service_url,
        "conversation": model_json(incoming.conversation),
        "from": model_json(incoming.recipient),
        "recipient": model_json(incoming.from_property),
        "replyToId": incoming.id,
        "locale": incoming.locale,
    }
    return {name: value for name, value in address.items() if value is not None}


class DirectTurns:
    """Runs a message activity's turn with `handle` (the agent's), apologising through
    `apology` when the turn fails, as the adapter's turn-error handler does."""

    def __init__(
        self,
        handle: Callable[[DirectTurn], Awaitable[None]],
        outbound: Outbound,
        apology: Apology,
    ) -> None:
        self._handle = handle
        self._outbound = outbound
        self._apology = apology

    async def run(self, claims: ClaimsIdentity, activity: Activity) -> None:
        turn = DirectTurn(activity, claims, self._outbound)
        try:
            await self._handle(turn)
        except Exception as error:
            await self._apology(turn, error)
