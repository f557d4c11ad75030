"""A whole bot on embedded parts (memory store, demo directory copy, outbox, audit) driven
through the Agents SDK's in-process TestAdapter, with a frozen clock."""

import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pyotp
from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount
from microsoft_agents.hosting.core import ClaimsIdentity
from microsoft_agents.testing import TestAdapter

from bot.botframework.agent import ResetAgent, development_identity
from bot.botframework.credentials import from_environment
from bot.runtime import Runtime, bot_framework_adapter, start_runtime
from bot.settings import Settings
from state import FrozenClock
from tests.support.directory import embedded_directory

TOTP = {"alice": "MCE3HIXZW4VZTS6R7WB35M2KH77222RP", "adele": "T3QHS4G7QP75HNINRJH4F53V47I66VYC"}
ANSWERS = {
    "alice": {
        "What was the name of your first pet?": "Biscuit",
        "In which city did your parents meet?": "New York",
        "What was the name of your primary school?": "Oak Hill",
        "Which street did you grow up on?": "Elm Street",
    },
    "adele": {
        "What was the name of your first pet?": "Rufus",
        "In which city did your parents meet?": "Seattle",
        "What was the surname of your favourite teacher?": "Okafor",
    },
}
PASSWORDS = {name: f"Demo-Pass-{name}-1" for name in ("alice", "adele", "dave", "olivia", "bob")}
_conversations = count(1)


@dataclass
class Outbox:
    path: Path

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def last_code(self) -> str:
        body = self.messages()[-1]["body"]
        found = re.search(r"\d(?:[ ,]*\d){5,}", body)
        assert found, body
        return re.sub(r"\D", "", found.group())


class Chat:
    """One conversation: `say` returns the activities the bot sent for that message."""

    def __init__(self, agent: ResetAgent, user: str | None) -> None:
        self._agent = agent
        self.user = user or f"web-visitor-{next(_conversations)}"
        reference = TestAdapter.create_conversation_model(
            user_id=self.user, conv_id=f"conversation-{next(_conversations)}"
        )
        self.adapter = TestAdapter(conversation=reference)

    async def say(self, text: str) -> list[Activity]:
        before = len(self.adapter.activity_queue)
        activity = Activity(
            type=ActivityTypes.message,
            text=text,
            locale="en-US",
            from_property=ChannelAccount(id=self.user),
        )
        await self.adapter.process_activity(ClaimsIdentity({}), activity, self._agent.on_turn)
        return list(self.adapter.activity_queue[before:])

    async def text(self, text: str) -> str:
        return "\n---\n".join(reply.text or "" for reply in await self.say(text))


@dataclass
class Bot:
    runtime: Runtime
    clock: FrozenClock
    outbox: Outbox
    audit_path: Path
    data_dir: Path

    def chat(self, user: str | None = None) -> Chat:
        """A signed-in user's chat (`user` given) or an anonymous one that types a name."""
        identify = development_identity if user else (lambda activity: None)
        _, agent = bot_framework_adapter(self.runtime, from_environment({}), identify)
        return Chat(agent, user)

    def totp(self, user: str, *, step_offset: int = 0) -> str:
        return pyotp.TOTP(TOTP[user]).at(self.clock.now() + 30 * step_offset)

    def audit(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]

    async def password_is(self, user: str, password: str) -> bool:
        return await embedded_directory(self.runtime).check_password(user, password)


def settings_for(data_dir: Path, **config: Any) -> Settings:
    """Settings for a test bot. The password entry is `temporary` unless a test names another
    (most tests end on the chat's reply; the password page tests ask for `link`)."""
    document: dict[str, Any] = {"data_dir": str(data_dir), "state": {"backend": "memory"}}
    document.update(config)
    document["password"] = {"entry": "temporary", **document.get("password", {})}
    return Settings.model_validate(document)


@asynccontextmanager
async def running_bot(
    data_dir: Path, clock: FrozenClock, environ: Mapping[str, str] | None = None, **config: Any
) -> AsyncIterator[Bot]:
    settings = settings_for(data_dir, **config)
    runtime = await start_runtime(settings, secrets=environ or {}, clock=clock, console=None)
    try:
        yield Bot(
            runtime,
            clock,
            Outbox(data_dir / "outbox.jsonl"),
            data_dir / "audit.jsonl",
            data_dir,
        )
    finally:
        await runtime.close()
