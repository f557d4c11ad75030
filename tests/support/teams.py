"""Microsoft Teams over real HTTP, as `sspr-bot serve` wires it with an app id: channel and
Entra tokens signed by test keys and served as the channel's and Entra's key sets by a local
stand-in, replies captured by the local Bot Connector. A pytest plugin (tests/conftest.py),
so every module gets the `teams_bot` fixture."""

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from bot.conversations import record_key
from bot.runtime import Runtime, http_application, start_runtime
from bot.teams.cards import ADAPTIVE_CARD
from bot.teams.references import reference_key
from state import FrozenClock
from tests.stand_ins.connector import ConnectorStandIn, Received
from tests.support.bot_framework_tokens import (
    ChannelKeysStandIn,
    MintingTokenProvider,
    SigningKey,
    channel_keys_stand_in,
    entra_signing_key,
    mint,
    mint_entra,
    minting_auth,
    signing_key,
)
from tests.support.harness import Outbox, settings_for
from tests.support.serving import serving

APP_ID = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
TENANT = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
ALICE_OBJECT_ID = "f94b2385-7041-4106-91e7-4a97eb539735"
ENVIRON = {
    "MicrosoftAppId": APP_ID,
    "MicrosoftAppPassword": "not-used-outbound-tokens-are-minted",
    "MicrosoftAppTenantId": TENANT,
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__VALIDATE_ISSUER": "true",
}
CHANNEL_KEY = signing_key("channel-key-1", ["msteams", "webchat"])
TEAMS_ONLY_KEY = signing_key("channel-key-2", ["msteams"], index=2)
ENTRA_KEY = entra_signing_key("entra-key-1", index=3)
_ids = count(1)


def next_activity_id() -> str:
    """A fresh activity id: the channel never posts two activities under one id."""
    return f"teams-activity-{next(_ids)}"


@dataclass
class TeamsBot:
    url: str
    runtime: Runtime
    outbox: Outbox
    connector: ConnectorStandIn
    keys: ChannelKeysStandIn
    outbound: MintingTokenProvider
    session: ClientSession

    def activity(
        self,
        text: str | None,
        *,
        value: dict[str, Any] | None = None,
        tenant: str = TENANT,
        conversation_type: str = "personal",
        conversation: str = "a:1on1-alice",
        channel: str = "msteams",
    ) -> dict[str, Any]:
        """A Teams message activity as the Teams channel posts it."""
        activity: dict[str, Any] = {
            "type": "message",
            "id": next_activity_id(),
            "timestamp": "2025-01-01T00:00:00.000Z",
            "channelId": channel,
            "serviceUrl": self.connector.url,
            "from": {
                "id": "29:alice-teams-id",
                "name": "Alice Wilber",
                "aadObjectId": ALICE_OBJECT_ID,
            },
            "recipient": {"id": f"28:{APP_ID}", "name": "Password reset"},
            "conversation": {
                "id": conversation,
                "conversationType": conversation_type,
                "tenantId": tenant,
                **({"isGroup": True} if conversation_type != "personal" else {}),
            },
            "channelData": {"tenant": {"id": tenant}},
            "locale": "en-US",
        }
        if text is not None:
            activity["text"] = text
        if value is not None:
            activity["value"] = value
        return activity

    def token(self, key: SigningKey = CHANNEL_KEY, **claims: Any) -> str:
        return mint(key, **{"audience": APP_ID, "service_url": self.connector.url, **claims})

    def entra_token(self, key: SigningKey = ENTRA_KEY, **claims: Any) -> str:
        """An Entra token for the bot, issued by its tenant, without a `serviceurl` claim."""
        return mint_entra(key, **{"audience": APP_ID, "tenant": TENANT, **claims})

    async def post(self, activity: dict[str, Any], token: str | None) -> tuple[int, list[Received]]:
        mark = len(self.connector.received)
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with self.session.post(
            f"{self.url}/api/messages",
            data=json.dumps(activity),
            headers={"Content-Type": "application/json", **headers},
        ) as response:
            await response.read()
        return response.status, list(self.connector.received[mark:])

    async def say(self, text: str | None, **kwargs: Any) -> list[Received]:
        status, replies = await self.post(self.activity(text, **kwargs), self.token())
        assert status == 202
        return replies

    async def nothing_changed(self) -> None:
        assert self.connector.received == []
        assert self.outbox.messages() == []
        store = self.runtime.store
        assert await store.get(record_key("msteams:a:1on1-alice:29:alice-teams-id")) is None
        assert await store.get(reference_key(ALICE_OBJECT_ID)) is None


@asynccontextmanager
async def running_teams_bot(
    tmp_path: Path,
    clock: FrozenClock,
    connector: ConnectorStandIn,
    *,
    secrets: Mapping[str, str] | None = None,
    **config: Any,
) -> AsyncIterator[TeamsBot]:
    """The bot as `sspr-bot serve` wires it with an app id, Teams rules on: the channel's
    keys from `BotOpenIdMetadata` and Entra's from `ToBotFromEmulatorOpenIdMetadataUrl` (the
    local stand-in), replies to the local connector (`teams.extra_service_origins`), the
    tenant allow-list left empty (the app's tenant); `config` overrides other sections
    (`password={"entry": "link"}`); `secrets` adds to the environment (a hand-off's)."""
    async with AsyncExitStack() as stack:
        keys_stand_in = await stack.enter_async_context(
            channel_keys_stand_in([CHANNEL_KEY, TEAMS_ONLY_KEY], [ENTRA_KEY])
        )
        environ = {
            **ENVIRON,
            "BotOpenIdMetadata": keys_stand_in.metadata_url,
            "ToBotFromEmulatorOpenIdMetadataUrl": keys_stand_in.entra_metadata_url,
            **(secrets or {}),
        }
        teams = {"extra_service_origins": [connector.url], **config.pop("teams", {})}
        settings = settings_for(tmp_path / "data", teams=teams, **config)
        runtime = await start_runtime(settings, secrets=environ, clock=clock, console=None)
        stack.push_async_callback(runtime.close)
        auth, outbound = minting_auth(environ, CHANNEL_KEY)
        url = await stack.enter_async_context(serving(http_application(runtime, auth)))
        session = await stack.enter_async_context(ClientSession())
        yield TeamsBot(
            url,
            runtime,
            Outbox(tmp_path / "data" / "outbox.jsonl"),
            connector,
            keys_stand_in,
            outbound,
            session,
        )


@pytest.fixture(name="teams_bot")
async def teams_bot_fixture(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> AsyncIterator[TeamsBot]:
    async with running_teams_bot(tmp_path, clock, connector) as bot:
        yield bot


def cards(reply: Received) -> list[dict[str, Any]]:
    """The Adaptive Cards a reply carries."""
    return [
        attachment["content"]
        for attachment in reply.activity.get("attachments") or []
        if attachment["contentType"] == ADAPTIVE_CARD
    ]


def messages(replies: list[Received]) -> list[Received]:
    """The message activities among replies (leaving out the typing indicator)."""
    return [reply for reply in replies if reply.activity["type"] == "message"]
