"""Slack over real HTTP, as `sspr-bot serve` builds it with `slack.enabled`: Events API and
interactivity requests signed as Slack signs them (`SignatureVerifier.generate_signature`,
the bot's frozen clock as "now"), replies through slack_sdk's AsyncWebClient to the local
stand-in of the Slack Web API. A pytest plugin (tests/conftest.py), so every module gets the
`slack_api`, `make_slack_bot` and `slack_bot` fixtures."""

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from slack_sdk.signature import SignatureVerifier

from bot.botframework.credentials import from_environment
from bot.runtime import Runtime, http_application, start_runtime
from bot.slack import SlackChannel
from bot.slack.routes import SLACK_KEY
from state import FrozenClock
from tests.stand_ins.slack import (
    BOT_TOKEN,
    BOT_USER,
    TEAM,
    SlackApiStandIn,
    form_payload,
    slack_api_stand_in,
)
from tests.support.harness import Outbox, settings_for
from tests.support.serving import serving

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ENVIRON = {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN}
ALICE = "UALICE001"
ALICE_DM = "DALICE001"
_ids = count(1)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class SlackBot:
    """One bot instance serving Slack on a free loopback port."""

    url: str
    runtime: Runtime
    slack: SlackChannel
    clock: FrozenClock
    api: SlackApiStandIn
    outbox: Outbox
    session: ClientSession

    def signed(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(self.clock.now()) if timestamp is None else timestamp)
        signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
        assert signature is not None
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}

    async def post(
        self,
        path: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Answer:
        sent = {"Content-Type": content_type, **(self.signed(body) if headers is None else headers)}
        async with self.session.post(f"{self.url}{path}", data=body, headers=sent) as response:
            return Answer(response.status, await response.read())

    async def event(self, envelope: dict[str, Any], **extra_headers: str) -> Answer:
        body = json.dumps(envelope).encode()
        return await self.post("/api/slack/events", body, {**self.signed(body), **extra_headers})

    async def say(self, text: str, *, user: str = ALICE, channel: str = ALICE_DM) -> list[Any]:
        """A direct message; the posts the bot made for it once its turn has finished."""
        mark = len(self.api.calls)
        answer = await self.event(message_event(text, user=user, channel=channel))
        assert answer.status == 200, answer.body
        await self.slack.drain()
        return self.api.posts(mark)

    async def press(self, post: dict[str, Any], value: str, *, user: str = ALICE) -> Answer:
        """Press the button of `value` on a message the bot posted."""
        return await self.post(
            "/api/slack/interactivity",
            form_payload(block_actions(post, value, user=user)),
            None,
            "application/x-www-form-urlencoded",
        )


def message_event(
    text: str,
    *,
    user: str = ALICE,
    channel: str = ALICE_DM,
    channel_type: str = "im",
    team: str = TEAM,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An Events API `event_callback` envelope around a `message` event, as Slack sends it."""
    number = next(_ids)
    return {
        "token": "legacy-verification-token-unused",
        "team_id": team,
        "api_app_id": "A0SSPRBOT",
        "event": {
            "type": "message",
            "user": user,
            "text": text,
            "ts": f"1700000100.{number:06d}",
            "client_msg_id": f"msg-{number}",
            "team": team,
            "channel": channel,
            "event_ts": f"1700000100.{number:06d}",
            "channel_type": channel_type,
            **fields,
        },
        "type": "event_callback",
        "event_id": event_id or f"Ev{number:08d}",
        "event_time": 1700000100,
        "authorizations": [
            {"team_id": team, "user_id": BOT_USER, "is_bot": True, "is_enterprise_install": False}
        ],
        "is_ext_shared_channel": False,
    }


def block_actions(post: dict[str, Any], value: str, *, user: str = ALICE) -> dict[str, Any]:
    """The `block_actions` payload Slack sends when `user` presses a button of `post`."""
    [button] = [
        element
        for block in post["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["value"] == value
    ]
    ts = post["ts"]
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "alice", "team_id": TEAM},
        "api_app_id": "A0SSPRBOT",
        "token": "legacy-verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": post["channel"],
            "is_ephemeral": False,
        },
        "trigger_id": "1234.5678.abcdef",
        "team": {"id": TEAM, "domain": "contoso"},
        "channel": {"id": post["channel"], "name": "directmessage"},
        "message": {
            "type": "message",
            "ts": ts,
            "text": post["text"],
            "bot_id": "BBOT0001",
            "blocks": post["blocks"],
        },
        "response_url": "https://hooks.slack.com/actions/T/1/never-called",
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "sspr_choices",
                "text": button["text"],
                "value": value,
                "type": "button",
                "action_ts": "1700000200.000001",
            }
        ],
    }


@asynccontextmanager
async def running_slack_bot(
    data_dir: Path,
    clock: FrozenClock,
    api: SlackApiStandIn,
    *,
    slack: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] = ENVIRON,
    **config: Any,
) -> AsyncIterator[SlackBot]:
    """The bot exactly as `sspr-bot serve` builds it, with `slack.enabled` and the Slack
    Web API at the stand-in; `secrets` what the command read at start (Slack's at least)."""
    async with AsyncExitStack() as stack:
        slack_section = {"enabled": True, "api_url": api.api_url, **(slack or {})}
        settings = settings_for(data_dir, slack=slack_section, **config)
        runtime = await start_runtime(settings, secrets=secrets, clock=clock, console=None)
        stack.push_async_callback(runtime.close)
        app = http_application(runtime, from_environment(secrets))
        channel = app[SLACK_KEY]
        url = await stack.enter_async_context(serving(app))
        session = await stack.enter_async_context(ClientSession())
        yield SlackBot(
            url,
            runtime,
            channel,
            clock,
            api,
            Outbox(data_dir / "outbox.jsonl"),
            session,
        )


MakeSlackBot = Callable[..., AbstractAsyncContextManager[SlackBot]]


@pytest.fixture(name="slack_api")
async def slack_api_fixture() -> AsyncIterator[SlackApiStandIn]:
    async with slack_api_stand_in() as stand_in:
        yield stand_in


@pytest.fixture(name="make_slack_bot")
def make_slack_bot_fixture(
    tmp_path: Path, clock: FrozenClock, slack_api: SlackApiStandIn
) -> MakeSlackBot:
    def make(**config: Any) -> AbstractAsyncContextManager[SlackBot]:
        return running_slack_bot(tmp_path / "data", clock, slack_api, **config)

    return make


@pytest.fixture(name="slack_bot")
async def slack_bot_fixture(make_slack_bot: MakeSlackBot) -> AsyncIterator[SlackBot]:
    async with make_slack_bot() as bot:
        yield bot


def buttons(post: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons of a message the bot posted."""
    return [
        element
        for block in post.get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
    ]
