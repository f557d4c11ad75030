"""`sspr-bot chat`: a terminal conversation through the same agent the channels use.

The chat serves the password page its links point to (on the configured host and port)
while it runs, so a reset started in the terminal ends there too: the page's outcome is
printed under the conversation, as a channel shows the bot's own messages.
"""

import asyncio
import errno
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from itertools import count
from typing import Any, TextIO

from aiohttp import web
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ResourceResponse,
    TurnContextProtocol,
)
from microsoft_agents.hosting.core import ChannelAdapter, ClaimsIdentity, TurnContext

from bot.botframework.agent import ResetAgent, conversation_of, development_identity
from bot.botframework.credentials import from_environment
from bot.botframework.render import IMAGE_TYPE, to_activity
from bot.password_page import add_password_page_routes
from bot.runtime import Runtime, bot_framework_adapter, password_page
from bot.server_limits import connection_limits, serving_with_limits
from dialogs import Reply

log = logging.getLogger(__name__)

CHANNEL = "console"
SERVICE = "urn:sspr-bot:console"
SIGNED_OUT_USER = "console-user"
PROMPT = "you> "
GREETING = "Type 'reset' to begin, 'help' for help; an empty line or Ctrl-D ends the chat."
# A terminal shows no pictures; a reply with one (an authenticator app's QR code) says the
# same in its text (the otpauth:// link and the key to type).
NO_PICTURE_HERE = "(The QR code is shown in Teams, Slack and the web chat.)"


class Terminal:
    """The chat's screen. The bot speaks between prompts, except for the password page's
    outcome, which arrives while the prompt waits: it goes on a line of its own, followed
    by a fresh prompt."""

    def __init__(self, stdout: TextIO) -> None:
        self._stdout = stdout
        self._waiting = False

    def say(self, text: str) -> None:
        if self._waiting:
            self._stdout.write(f"\nbot> {text}\n\n{PROMPT}")
        else:
            self._stdout.write(f"bot> {text}\n\n")
        self._stdout.flush()

    def prompt(self) -> None:
        self._stdout.write(PROMPT)
        self._stdout.flush()
        self._waiting = True

    def answered(self) -> None:
        self._waiting = False

    def write(self, text: str, /) -> int:
        """A line from elsewhere in the bot (the outbox echoing a code or a notice, which
        may come while the prompt waits): printed like the bot's words, the prompt after it
        again, so what is typed next still follows a prompt."""
        line = text.rstrip("\n")
        if self._waiting:
            self._stdout.write(f"\n{line}\n\n{PROMPT}")
        else:
            self._stdout.write(f"{line}\n")
        return len(text)

    def flush(self) -> None:
        self._stdout.flush()


class ConsoleAdapter(ChannelAdapter):
    """Turns typed lines into activities and prints what the agent sends back.

    The turn runner drops an activity id it has already seen in a conversation, and a
    conversation outlives the process (the store keeps it), so every id carries a prefix
    drawn for this run. A signed-in user's chat is that user's conversation
    (`console-<user>`): a restart resumes an unfinished reset. A signed-out run is a
    conversation of its own (`console-<run>`), as two people at two terminals are two
    conversations. The activities' service URL is a name, not an address (`SERVICE`):
    nothing can be posted back to a terminal, and the kept conversation reference must not
    pretend otherwise (see `bot.botframework.proactive.postable`).
    """

    def __init__(self, write: Callable[[str], None], *, user: str | None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._write = write
        run = uuid.uuid4().hex
        self._ids = (f"{run}-{number}" for number in count(1))
        self._user = user or SIGNED_OUT_USER
        self._conversation = f"console-{user}" if user else f"console-{run}"

    @property
    def conversation(self) -> str:
        """This chat's conversation as the turn runner names it (`conversation_of`)."""
        return conversation_of(self._activity("", None))

    async def send_activities(
        self, context: TurnContextProtocol[Any], activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses = []
        for activity in activities:
            if activity.type == ActivityTypes.message and activity.text:
                self._write(_printed(activity))
            responses.append(ResourceResponse(id=next(self._ids)))
        return responses

    async def update_activity(self, context: TurnContextProtocol[Any], activity: Activity) -> None:
        raise NotImplementedError("a terminal cannot edit what it printed")

    async def delete_activity(self, context: TurnContextProtocol[Any], reference: Any) -> None:
        raise NotImplementedError("a terminal cannot delete what it printed")

    async def say(self, agent: ResetAgent, text: str) -> None:
        activity = self._activity(text, next(self._ids))
        context = TurnContext(self, activity, identity=ClaimsIdentity({}))
        await self.run_pipeline(context, agent.on_turn)

    async def notify(self, conversation: str, reply: Reply) -> None:
        """The password page's `ChatNotifier`: this chat's outcome is printed; another
        conversation's (a link from another terminal) is not this one's to show."""
        if conversation == self.conversation:
            self._write(_printed(to_activity(reply)))
        else:
            log.info("password page outcome for another conversation not shown")

    def _activity(self, text: str, activity_id: str | None) -> Activity:
        return Activity(
            type=ActivityTypes.message,
            id=activity_id,
            channel_id=CHANNEL,
            service_url=SERVICE,
            text=text,
            locale="en",
            from_property=ChannelAccount(id=self._user),
            recipient=ChannelAccount(id="sspr-bot"),
            conversation=ConversationAccount(id=self._conversation),
        )


@asynccontextmanager
async def password_page_served(runtime: Runtime, adapter: ConsoleAdapter) -> AsyncIterator[str]:
    """The password page on the configured host and port while the block runs, its outcomes
    printed by `adapter`. Yields what the terminal should know about it: nothing when it is
    served, else why not (most often `sspr-bot serve` already has the address: its page then
    takes the links, from the same store, but this chat cannot show their outcome)."""
    server = runtime.settings.server
    app = web.Application()
    add_password_page_routes(app, password_page(runtime, adapter, webchat_served=False))
    limits = connection_limits(server)
    async with AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(
                serving_with_limits(app, server.host, server.port, limits)
            )
            problem = ""
        except OSError as error:
            problem = _not_served(f"{server.host}:{server.port}", error)
        yield problem


async def terminal_chat(
    runtime: Runtime,
    terminal: Terminal,
    *,
    user: str | None,
    stdin: TextIO = sys.stdin,
) -> None:
    """A chat as the signed-in `user`, or signed out (the account is typed), with the
    password page served beside it, until an empty line or the end of input. `terminal`
    is also the runtime's console, so the outbox's lines keep the prompt in order."""
    adapter = ConsoleAdapter(terminal.say, user=user)
    identify = development_identity if user else _signed_out
    _, agent = bot_framework_adapter(runtime, from_environment({}), identify)
    async with password_page_served(runtime, adapter) as problem:
        terminal.say(GREETING)
        if problem:
            terminal.say(problem)
        await _converse(agent, adapter, terminal, stdin)


async def _converse(
    agent: ResetAgent, adapter: ConsoleAdapter, terminal: Terminal, stdin: TextIO
) -> None:
    while True:
        terminal.prompt()
        line = await asyncio.to_thread(stdin.readline)
        terminal.answered()
        if not line.strip():
            return
        await adapter.say(agent, line.rstrip("\n"))


def _not_served(address: str, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"The password page is not served from this chat: {address} is taken. If "
            "`sspr-bot serve` (`make run`) has it, on the same data folder, links open "
            "there and the reset works, but this chat will not print how it ended."
        )
    reason = os.strerror(error.errno) if error.errno else str(error)
    return (
        f"The password page is not served from this chat: it cannot listen on {address} "
        f"({reason.lower()}), so its links open only where a server has that address."
    )


def _printed(activity: Activity) -> str:
    """A message as the terminal prints it: its text, and a word where a picture would be."""
    text = activity.text or ""
    if any(attachment.content_type == IMAGE_TYPE for attachment in activity.attachments or ()):
        return f"{text}\n{NO_PICTURE_HERE}"
    return text


def _signed_out(activity: Activity) -> str | None:
    """A signed-out chat has no account until one is typed."""
    return None
