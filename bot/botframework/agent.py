"""The Bot Framework face of the dialog: activities in, activities out."""

from collections.abc import Callable
from typing import Any, Protocol

from microsoft_agents.activity import Activity, ResourceResponse, TurnContextProtocol
from microsoft_agents.hosting.core import ActivityHandler

from bot.botframework.proactive import reference_of
from bot.botframework.render import to_activity
from bot.conversations import bot_framework_conversation
from bot.turns import TurnRunner
from dialogs import Inbound

Identify = Callable[[Activity], str | None]


class MessageTurn(Protocol):
    """What answering a message needs of a turn: the SDK's turn context has it, and so
    does the direct path's (`bot.botframework.direct`)."""

    @property
    def activity(self) -> Activity: ...

    async def send_activity(self, activity_or_text: Activity) -> ResourceResponse | None: ...

    async def send_activities(self, activities: list[Activity]) -> list[ResourceResponse]: ...


def development_identity(activity: Activity) -> str | None:
    """Development mode: the channel's user id is the username (Emulator, `chat --user`)."""
    return activity.from_property.id if activity.from_property else None


def entra_identity(activity: Activity) -> str | None:
    """Authenticated channels: the Entra object id Teams vouches for, else a typed name."""
    account = activity.from_property
    return (account.aad_object_id or None) if account else None


def conversation_of(activity: Activity) -> str:
    """One user's conversation on one channel: the scope of a reset session."""
    user = activity.from_property.id if activity.from_property else ""
    conversation = activity.conversation.id if activity.conversation else ""
    return bot_framework_conversation(str(activity.channel_id), conversation, user)


class ResetAgent(ActivityHandler):
    def __init__(self, runner: TurnRunner, identify: Identify) -> None:
        self._runner = runner
        self._identify = identify

    async def on_message_activity(self, turn_context: TurnContextProtocol[Any]) -> None:
        await self.handle_message(turn_context)

    async def handle_message(self, turn: MessageTurn) -> None:
        activity = turn.activity
        inbound = Inbound(
            text=activity.text or "",
            channel=str(activity.channel_id or ""),
            user=self._identify(activity),
            locale=activity.locale or "",
        )
        replies = await self._runner.run(
            conversation_of(activity), inbound, activity.id, reference_of(activity)
        )
        if replies:
            await turn.send_activities([to_activity(reply) for reply in replies])
