"""A Teams notice for someone who never wrote to the bot: with `teams.proactive_service_url`
set, `ChannelReach` opens their 1:1 chat (`POST /v3/conversations` on the connector stand-in,
through the real Agents SDK adapter), posts the notice into it and keeps its reference, so
the next notice goes straight there."""

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jwt
import pytest
from pydantic import ValidationError

from adapters.directory import Account
from bot.botframework.agent import development_identity, entra_identity
from bot.botframework.credentials import from_environment
from bot.botframework.outbound import Outbound
from bot.botframework.proactive import BotFrameworkNotifier
from bot.reach import ChannelReach, teams_new_chats
from bot.runtime import Runtime, bot_framework_adapter, start_runtime
from bot.teams import TeamsSettings
from bot.teams.references import REFERENCE_DAYS, reference_key
from state import FrozenClock
from tests.stand_ins.connector import ConnectorStandIn
from tests.support.bot_framework_tokens import CHANNEL_AUDIENCE, minting_auth, signing_key
from tests.support.harness import settings_for
from tests.support.teams import APP_ID, TENANT
from tests.support.teams import ENVIRON as TEAMS_ENVIRON

NOTICE = "Your password was just reset. If this wasn't you, call the helpdesk."

OTHER_TENANT = "0f9e8d7c-6b5a-4c3d-8e1f-a2b3c4d5e6f7"
ENVIRON = {
    key: TEAMS_ENVIRON[key]
    for key in ("MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppTenantId")
}
KEY = signing_key("channel-key-1", ["msteams"])


@dataclass
class Reaching:
    runtime: Runtime
    reach: ChannelReach
    connector: ConnectorStandIn

    async def alice(self) -> Account:
        account = await self.runtime.directory.find("alice")
        assert account is not None
        return account

    async def tell(self, account: Account) -> bool:
        return await self.reach.tell(account, NOTICE, besides="slack")


async def _reaching(
    stack: AsyncExitStack,
    data_dir: Path,
    clock: FrozenClock,
    connector: ConnectorStandIn,
    *,
    environ: Mapping[str, str] = ENVIRON,
    **teams: Any,
) -> Reaching:
    """The Teams side of the reach as `http_application` builds it, each part real: the Bot
    Framework adapter (its outbound token minted by a test key; none in development mode,
    when `environ` names no app id), the notifier, and the chats opened per `teams`."""
    settings = settings_for(data_dir, teams={"extra_service_origins": [connector.url], **teams})
    runtime = await start_runtime(settings, secrets=environ, clock=clock, console=None)
    stack.push_async_callback(runtime.close)
    if "MicrosoftAppId" in environ:
        auth, _ = minting_auth(environ, KEY)
        adapter, _ = bot_framework_adapter(runtime, auth, entra_identity)
    else:
        auth = from_environment(environ)
        adapter, _ = bot_framework_adapter(runtime, auth, development_identity)
    outbound = Outbound(auth.connections, runtime.connector)
    stack.push_async_callback(outbound.close)
    reach = ChannelReach(runtime.store)
    reach.add_bot_framework(
        BotFrameworkNotifier(outbound, auth.app_id, runtime.store),
        teams_new_chats(adapter, auth, settings.teams),
    )
    return Reaching(runtime, reach, connector)


@pytest.fixture(name="reaching")
async def reaching_fixture(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> AsyncIterator[Reaching]:
    async with AsyncExitStack() as stack:
        yield await _reaching(
            stack, tmp_path / "data", clock, connector, proactive_service_url=connector.url
        )


async def test_a_chat_is_opened_for_someone_who_never_wrote(
    reaching: Reaching, clock: FrozenClock
) -> None:
    alice = await reaching.alice()
    assert await reaching.tell(alice)

    [opened] = reaching.connector.opened
    assert opened.members == [alice.id]
    assert opened.tenant == TENANT  # the app's own tenant: no allow-list is configured
    assert opened.tenant_id == TENANT
    assert opened.bot == f"28:{APP_ID}"
    assert opened.is_group is False
    assert opened.authorization is not None
    claims = jwt.decode(
        opened.authorization.removeprefix("Bearer "),
        KEY.private.public_key(),
        algorithms=["RS256"],
        audience=CHANNEL_AUDIENCE,
    )
    assert claims["appid"] == APP_ID
    [sent] = reaching.connector.received
    assert sent.conversation_id == opened.conversation_id
    assert sent.text == NOTICE

    record = await reaching.runtime.store.get(reference_key(alice.id))
    assert record is not None
    assert record.value["conversation"]["id"] == opened.conversation_id
    assert record.value["serviceUrl"] == reaching.connector.url
    assert record.value["user"]["aadObjectId"] == alice.id

    assert await reaching.tell(alice)  # the kept reference: no second chat is opened
    assert len(reaching.connector.opened) == 1
    assert [entry.conversation_id for entry in reaching.connector.received] == [
        opened.conversation_id
    ] * 2

    clock.advance(REFERENCE_DAYS * 86400.0 + 1)  # kept as long as a written one
    assert await reaching.runtime.store.get(reference_key(alice.id)) is None


async def test_without_the_setting_no_chat_is_opened(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> None:
    async with AsyncExitStack() as stack:
        reaching = await _reaching(stack, tmp_path / "data", clock, connector)
        assert not await reaching.tell(await reaching.alice())
    assert connector.opened == []
    assert connector.received == []


async def test_a_user_the_app_is_not_installed_for_is_not_reached(
    reaching: Reaching, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await reaching.alice()
    reaching.connector.not_installed_for.add(alice.id)
    with caplog.at_level(logging.INFO, logger="bot.reach"):
        assert not await reaching.tell(alice)
    assert reaching.connector.opened == []
    assert reaching.connector.received == []
    assert await reaching.runtime.store.get(reference_key(alice.id)) is None
    [record] = [record for record in caplog.records if record.name == "bot.reach"]
    assert record.getMessage() == "Teams chat not opened"
    assert record.levelno == logging.INFO
    assert record.__dict__["status"] == 403
    assert all(alice.id not in repr(entry.__dict__) for entry in caplog.records)


async def test_an_account_whose_id_is_no_entra_object_id_gets_no_chat(
    reaching: Reaching,
) -> None:
    """An LDAP account named by its DN is no Teams user."""
    account = replace(await reaching.alice(), id="uid=alice,ou=people,dc=contoso,dc=com")
    assert not await reaching.tell(account)
    assert reaching.connector.opened == []
    assert reaching.connector.received == []


async def test_with_several_tenants_no_chat_is_opened(
    tmp_path: Path,
    clock: FrozenClock,
    connector: ConnectorStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with AsyncExitStack() as stack:
        with caplog.at_level(logging.INFO, logger="bot.reach"):
            reaching = await _reaching(
                stack,
                tmp_path / "data",
                clock,
                connector,
                proactive_service_url=connector.url,
                allowed_tenant_ids=[TENANT, OTHER_TENANT],
            )
        assert not await reaching.tell(await reaching.alice())
    assert connector.opened == []
    [record] = [record for record in caplog.records if record.name == "bot.reach"]
    assert "one tenant" in record.getMessage()


async def test_the_single_allowed_tenant_is_the_chats(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> None:
    """A multi-tenant app (no app tenant) serving one customer tenant."""
    environ = {**ENVIRON, "MicrosoftAppType": "MultiTenant"}
    async with AsyncExitStack() as stack:
        reaching = await _reaching(
            stack,
            tmp_path / "data",
            clock,
            connector,
            environ=environ,
            proactive_service_url=connector.url,
            allowed_tenant_ids=[OTHER_TENANT],
        )
        assert await reaching.tell(await reaching.alice())
    [opened] = connector.opened
    assert opened.tenant == OTHER_TENANT


async def test_development_mode_opens_a_chat_without_a_token(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> None:
    async with AsyncExitStack() as stack:
        reaching = await _reaching(
            stack,
            tmp_path / "data",
            clock,
            connector,
            environ={},
            proactive_service_url=connector.url,
            allowed_tenant_ids=[TENANT],
        )
        assert await reaching.tell(await reaching.alice())
    [opened] = connector.opened
    assert opened.authorization is None
    assert opened.tenant == TENANT
    [sent] = connector.received
    assert sent.conversation_id == opened.conversation_id
    assert sent.text == NOTICE
    assert sent.authorization is None


# -- the setting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://smba.trafficmanager.net/emea/",
        "https://smba.infra.gcc.teams.microsoft.com/gcc/",
    ],
)
def test_microsoft_channel_services_are_accepted(url: str) -> None:
    assert TeamsSettings(proactive_service_url=url).proactive_service_url == url


def test_a_loopback_service_named_in_the_extra_origins_is_accepted() -> None:
    settings = TeamsSettings(
        proactive_service_url="http://127.0.0.1:3978/",
        extra_service_origins=["http://127.0.0.1:3978"],
    )
    assert settings.proactive_service_url == "http://127.0.0.1:3978/"


@pytest.mark.parametrize(
    ("url", "origins"),
    [
        ("http://smba.trafficmanager.net/emea/", []),
        ("http://bots.contoso.com/", ["http://bots.contoso.com"]),
        ("ftp://smba.trafficmanager.net/emea/", []),
    ],
)
def test_a_service_url_not_https_is_refused(url: str, origins: list[str]) -> None:
    with pytest.raises(ValidationError, match="must be an https URL"):
        TeamsSettings(proactive_service_url=url, extra_service_origins=origins)


@pytest.mark.parametrize(
    "url",
    [
        "https://smba.trafficmanager.net.attacker.example/emea/",
        "https://bots.contoso.com/",
        "https://user@smba.trafficmanager.net/emea/",
        "http://127.0.0.1:3978/",  # loopback, but no origin names it
    ],
)
def test_a_service_the_bot_does_not_reply_to_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="not a channel service the bot replies to"):
        TeamsSettings(proactive_service_url=url)
