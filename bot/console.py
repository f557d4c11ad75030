"""`sspr-bot chat`: a terminal conversation through the same agent the channels use."""

import asyncio
import sys
from collections.abc import Callable
from itertools import count
from typing import Any, TextIO

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ResourceResponse,
    TurnContextProtocol,
)
from microsoft_agents.hosting.core import ChannelAdapter, ClaimsIdentity, TurnContext

from bot.agent import ResetAgent

CHANNEL = "console"


class ConsoleAdapter(ChannelAdapter):
    """Turns typed lines into activities and prints what the agent sends back."""

    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._write = write
        self._ids = count(1)

    async def send_activities(
        self, context: TurnContextProtocol[Any], activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses = []
        for activity in activities:
            if activity.type == ActivityTypes.message and activity.text:
                self._write(activity.text)
            responses.append(ResourceResponse(id=str(next(self._ids))))
        return responses

    async def update_activity(self, context: TurnContextProtocol[Any], activity: Activity) -> None:
        raise NotImplementedError("a terminal cannot edit what it printed")

    async def delete_activity(self, context: TurnContextProtocol[Any], reference: Any) -> None:
        raise NotImplementedError("a terminal cannot delete what it printed")

    async def say(self, agent: ResetAgent, text: str, *, user: str) -> None:
        activity = Activity(
            type=ActivityTypes.message,
            id=str(next(self._ids)),
            channel_id=CHANNEL,
            service_url="http://localhost/console",
            text=text,
            locale="en",
            from_property=ChannelAccount(id=user),
            recipient=ChannelAccount(id="sspr-bot"),
            conversation=ConversationAccount(id=f"console-{user}"),
        )
        context = TurnContext(self, activity, identity=ClaimsIdentity({}))
        await self.run_pipeline(context, agent.on_turn)


async def chat(
    agent: ResetAgent, *, user: str | None, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> None:
    def write(text: str) -> None:
        stdout.write(f"bot> {text}\n\n")
        stdout.flush()

    adapter = ConsoleAdapter(write)
    write("Type 'reset' to begin, 'help' for help; an empty line or Ctrl-D ends the chat.")
    while True:
        stdout.write("you> ")
        stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line.strip():
            return
        await adapter.say(agent, line.rstrip("\n"), user=user or "console-user")
