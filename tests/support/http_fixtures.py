"""The real bot HTTP app served on a free loopback port, replying to a connector stand-in."""

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pyotp
import pytest
from aiohttp import ClientSession

from bot.botframework.credentials import from_environment
from bot.runtime import Runtime, http_application, start_runtime
from state import FrozenClock
from tests.stand_ins.connector import ConnectorStandIn, Received, connector_stand_in
from tests.support.harness import TOTP, Outbox, settings_for
from tests.support.serving import serving

_ids = count(1)


@dataclass(frozen=True)
class Answer:
    """What `/api/messages` answered, and the replies the connector received meanwhile."""

    status: int
    body: bytes
    replies: list[Received]

    @property
    def text(self) -> str:
        return "\n---\n".join(reply.text for reply in self.replies)


@dataclass
class HttpBot:
    url: str
    runtime: Runtime
    clock: FrozenClock
    outbox: Outbox
    connector: ConnectorStandIn
    session: ClientSession

    def activity(
        self, text: str, *, user: str = "alice", conversation: str | None = "conv-1"
    ) -> dict[str, Any]:
        """A Bot Framework message activity as the Emulator sends it."""
        activity: dict[str, Any] = {
            "type": "message",
            "id": f"activity-{next(_ids)}",
            "timestamp": "2025-01-01T00:00:00.000Z",
            "channelId": "emulator",
            "serviceUrl": self.connector.url,
            "from": {"id": user, "name": user},
            "recipient": {"id": "sspr-bot", "name": "sspr-bot"},
            "text": text,
            "locale": "en-US",
        }
        if conversation is not None:
            activity["conversation"] = {"id": conversation}
        return activity

    async def post(
        self, body: bytes | dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> Answer:
        mark = len(self.connector.received)
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        sent_headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.post(
            f"{self.url}/api/messages", data=data, headers=sent_headers
        ) as response:
            answer = await response.read()
        return Answer(response.status, answer, list(self.connector.received[mark:]))

    async def say(self, text: str, *, user: str = "alice", conversation: str = "conv-1") -> str:
        """Send one message and return the text of the replies; the turn must be accepted."""
        answer = await self.post(self.activity(text, user=user, conversation=conversation))
        assert answer.status == 202, answer.body
        return answer.text

    def totp(self, user: str) -> str:
        return pyotp.TOTP(TOTP[user]).at(self.clock.now())


@asynccontextmanager
async def running_http_bot(
    data_dir: Path,
    clock: FrozenClock,
    connector: ConnectorStandIn,
    environ: Mapping[str, str],
    **config: Any,
) -> AsyncIterator[HttpBot]:
    settings = settings_for(data_dir, **config)
    runtime = await start_runtime(settings, secrets=environ, clock=clock, console=None)
    try:
        app = http_application(runtime, from_environment(environ))
        async with serving(app) as url, ClientSession() as session:
            yield HttpBot(
                url, runtime, clock, Outbox(data_dir / "outbox.jsonl"), connector, session
            )
    finally:
        await runtime.close()


MakeHttpBot = Callable[..., AbstractAsyncContextManager[HttpBot]]


@pytest.fixture(name="connector")
async def connector_fixture() -> AsyncIterator[ConnectorStandIn]:
    async with connector_stand_in() as stand_in:
        yield stand_in


@pytest.fixture(name="make_http_bot")
def make_http_bot_fixture(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> MakeHttpBot:
    """`async with make_http_bot(environ={...}, verification={"required": 2}) as bot:`."""

    def make(
        environ: Mapping[str, str] | None = None, **config: Any
    ) -> AbstractAsyncContextManager[HttpBot]:
        return running_http_bot(tmp_path / "data", clock, connector, environ or {}, **config)

    return make


@pytest.fixture(name="http_bot")
async def http_bot_fixture(make_http_bot: MakeHttpBot) -> AsyncIterator[HttpBot]:
    async with make_http_bot() as bot:
        yield bot
