"""Notices in people's own chats: `ChannelReach` with the real Slack channel talking to the
Slack Web API stand-in, and the real Bot Framework adapter posting to the connector stand-in
through a Teams user's kept 1:1 conversation reference."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jwt
import pytest
from microsoft_agents.activity import Activity

from adapters.directory import Account
from bot.botframework.credentials import from_environment
from bot.botframework.outbound import Outbound
from bot.botframework.proactive import BotFrameworkNotifier, reference_of
from bot.reach import ChannelReach
from bot.runtime import Runtime, slack_channel, start_runtime
from bot.teams.references import References
from state import FrozenClock
from tests.stand_ins.connector import ConnectorStandIn
from tests.stand_ins.slack import BOT_TOKEN, TEAM, SlackApiStandIn
from tests.support.bot_framework_tokens import (
    CHANNEL_AUDIENCE,
    minting_auth,
    signing_key,
)
from tests.support.harness import settings_for

APP_ID = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
TENANT = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
ALICE_OBJECT_ID = "F94B2385-7041-4106-91E7-4A97EB539735"  # Teams sends it in any case
ENVIRON = {
    "MicrosoftAppId": APP_ID,
    "MicrosoftAppPassword": "not-used-outbound-tokens-are-minted",
    "MicrosoftAppTenantId": TENANT,
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "SLACK_BOT_TOKEN": BOT_TOKEN,
}
KEY = signing_key("channel-key-1", ["msteams"])
NOTICE = "Your password was just reset. If this wasn't you, call the helpdesk."


@dataclass
class Reaching:
    runtime: Runtime
    reach: ChannelReach
    slack_api: SlackApiStandIn
    connector: ConnectorStandIn

    async def alice(self) -> Account:
        account = await self.runtime.directory.find("alice")
        assert account is not None
        return account

    async def keep_teams_reference(self, conversation: str = "a:1on1-alice") -> None:
        """What the Teams agent keeps when Alice writes to the bot in her 1:1 chat."""
        activity = Activity.model_validate(teams_activity(self.connector.url, conversation))
        await References(self.runtime.store).remember(activity, reference_of(activity))

    def slack_posts(self) -> list[dict[str, Any]]:
        return self.slack_api.posts()


def teams_activity(service_url: str, conversation: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "teams-activity-1",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": "29:alice-teams-id", "name": "Alice", "aadObjectId": ALICE_OBJECT_ID},
        "recipient": {"id": f"28:{APP_ID}", "name": "Password reset"},
        "conversation": {"id": conversation, "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
        "text": "reset",
        "locale": "en-US",
    }


async def _reaching(
    stack: AsyncExitStack,
    data_dir: Path,
    clock: FrozenClock,
    slack_api: SlackApiStandIn,
    connector: ConnectorStandIn,
    *,
    development: bool = False,
) -> Reaching:
    """The pieces `http_application` builds, each real: the Bot Framework replies' client
    (its outbound token minted by a test key), the Slack channel, and the reach over both."""
    settings = settings_for(
        data_dir,
        slack={"enabled": True, "api_url": slack_api.api_url},
        teams={"extra_service_origins": [connector.url]},
    )
    runtime = await start_runtime(settings, secrets=ENVIRON, clock=clock, console=None)
    stack.push_async_callback(runtime.close)
    auth = from_environment({}) if development else minting_auth(ENVIRON, KEY)[0]
    slack = slack_channel(runtime)
    stack.push_async_callback(slack.close)
    outbound = Outbound(auth.connections, runtime.connector)
    stack.push_async_callback(outbound.close)
    reach = ChannelReach(runtime.store)
    reach.add_bot_framework(BotFrameworkNotifier(outbound, auth.app_id, runtime.store))
    reach.add_slack(slack)
    return Reaching(runtime, reach, slack_api, connector)


@pytest.fixture(name="reaching")
async def reaching_fixture(
    tmp_path: Path, clock: FrozenClock, slack_api: SlackApiStandIn, connector: ConnectorStandIn
) -> AsyncIterator[Reaching]:
    async with AsyncExitStack() as stack:
        yield await _reaching(stack, tmp_path / "data", clock, slack_api, connector)


# -- Teams ----------------------------------------------------------------------------------


async def test_a_teams_user_is_told_in_their_own_chat(reaching: Reaching) -> None:
    await reaching.keep_teams_reference()
    assert await reaching.reach.tell(await reaching.alice(), NOTICE, besides="slack")

    [sent] = reaching.connector.received
    assert sent.conversation_id == "a:1on1-alice"
    assert sent.activity["type"] == "message"
    assert sent.text == NOTICE
    assert sent.activity["recipient"]["id"] == "29:alice-teams-id"
    assert sent.activity["from"]["id"] == f"28:{APP_ID}"
    # A new message in the conversation (send-to-conversation), not a reply to anything.
    assert sent.reply_to_id is None
    assert "replyToId" not in sent.activity
    assert sent.authorization is not None
    claims = jwt.decode(
        sent.authorization.removeprefix("Bearer "),
        KEY.private.public_key(),
        algorithms=["RS256"],
        audience=CHANNEL_AUDIENCE,
    )
    assert claims["appid"] == APP_ID
    assert reaching.slack_api.calls == []  # the conversation ran on Slack


async def test_a_teams_user_who_never_wrote_to_the_bot_is_not_reached(
    reaching: Reaching,
) -> None:
    assert not await reaching.reach.tell(await reaching.alice(), NOTICE, besides="slack")
    assert reaching.connector.received == []


async def test_the_teams_chat_the_reset_ran_in_is_not_told_again(reaching: Reaching) -> None:
    await reaching.keep_teams_reference()
    assert await reaching.reach.tell(await reaching.alice(), NOTICE, besides="msteams")
    assert reaching.connector.received == []
    [post] = reaching.slack_posts()  # her other chat is
    assert post["text"] == NOTICE


async def test_a_refusing_connector_is_no_error(
    reaching: Reaching, caplog: pytest.LogCaptureFixture
) -> None:
    """Teams refuses once Alice has removed the app; the reset it reports stands."""
    await reaching.keep_teams_reference()
    reaching.connector.refuse_with = 403
    with caplog.at_level(logging.WARNING, logger="bot.reach"):
        assert not await reaching.reach.tell(await reaching.alice(), NOTICE, besides="slack")
    [warning] = [record for record in caplog.records if record.name == "bot.reach"]
    assert warning.getMessage() == "Teams notice not sent"
    assert warning.__dict__["error"] == "ClientResponseError"
    assert all(NOTICE not in record.getMessage() for record in caplog.records)


async def test_development_mode_reaches_teams_without_a_token(
    tmp_path: Path, clock: FrozenClock, slack_api: SlackApiStandIn, connector: ConnectorStandIn
) -> None:
    async with AsyncExitStack() as stack:
        reaching = await _reaching(
            stack, tmp_path / "data", clock, slack_api, connector, development=True
        )
        await reaching.keep_teams_reference()
        assert await reaching.reach.tell(await reaching.alice(), NOTICE, besides="webchat")
    [sent] = connector.received
    assert sent.text == NOTICE
    assert sent.authorization is None


# -- Slack ----------------------------------------------------------------------------------


async def test_a_slack_member_is_told_in_a_direct_message(reaching: Reaching) -> None:
    assert await reaching.reach.tell(await reaching.alice(), NOTICE, besides="msteams")

    [lookup] = reaching.slack_api.called("users.lookupByEmail")
    assert lookup.args["email"] == "alice@contoso.com"
    [opened] = reaching.slack_api.called("conversations.open")
    assert opened.args["users"] == "UALICE001"
    [post] = reaching.slack_posts()
    assert post["channel"] == "DUALICE001"
    assert post["text"] == NOTICE
    record = await reaching.runtime.store.get(f"slack-ref:{TEAM}:UALICE001")
    assert record is not None  # the next notice goes straight to the DM


async def test_the_email_is_matched_whatever_its_case(reaching: Reaching) -> None:
    account = replace(await reaching.alice(), email="Alice@Contoso.COM")
    assert await reaching.reach.tell(account, NOTICE, besides="webchat")
    [post] = reaching.slack_posts()
    assert post["channel"] == "DUALICE001"


async def test_an_email_slack_does_not_know_reaches_nobody(reaching: Reaching) -> None:
    account = replace(await reaching.alice(), email="nobody@contoso.com")
    assert not await reaching.reach.tell(account, NOTICE, besides="msteams")
    assert len(reaching.slack_api.called("users.lookupByEmail")) == 1
    assert reaching.slack_api.called("conversations.open") == []
    assert reaching.slack_posts() == []


@pytest.mark.parametrize(
    "impostor",
    [
        {"id": "UBOTUSER1", "team_id": TEAM, "is_bot": True},
        {"id": "UAPPUSER1", "team_id": TEAM, "is_app_user": True},
        {"id": "UDELETED1", "team_id": TEAM, "deleted": True},
        {"id": "USTRANGR2", "team_id": "TOTHERORG", "is_stranger": True},
        {"id": "UOTHERWS1", "team_id": "TOTHERWS"},  # a workspace the bot was not installed in
    ],
)
async def test_only_an_active_person_of_the_home_workspace_is_reached(
    reaching: Reaching, impostor: dict[str, Any]
) -> None:
    del reaching.slack_api.users["UALICE001"]
    del reaching.slack_api.users["USTRANGER"]
    reaching.slack_api.users[impostor["id"]] = {
        **impostor,
        "profile": {"email": "alice@contoso.com"},
    }
    assert not await reaching.reach.tell(await reaching.alice(), NOTICE, besides="msteams")
    assert reaching.slack_api.called("conversations.open") == []
    assert reaching.slack_posts() == []


async def test_allowed_workspaces_are_the_home_ones(
    tmp_path: Path, clock: FrozenClock, slack_api: SlackApiStandIn, connector: ConnectorStandIn
) -> None:
    """With an allow-list, its workspaces are home (no `auth.test`), and only theirs."""
    slack_api.users["UALICE001"] = {**slack_api.users["UALICE001"], "team_id": "TSALES"}
    async with AsyncExitStack() as stack:
        settings = settings_for(
            tmp_path / "data",
            slack={"enabled": True, "api_url": slack_api.api_url, "allowed_team_ids": ["TSALES"]},
        )
        runtime = await start_runtime(settings, secrets=ENVIRON, clock=clock, console=None)
        stack.push_async_callback(runtime.close)
        slack = slack_channel(runtime)
        stack.push_async_callback(slack.close)
        reach = ChannelReach(runtime.store)
        reach.add_slack(slack)
        alice = await runtime.directory.find("alice")
        assert alice is not None
        assert await reach.tell(alice, NOTICE, besides="webchat")
    assert slack_api.called("auth.test") == []
    [post] = slack_api.posts()
    assert post["channel"] == "DUALICE001"


async def test_the_slack_conversation_the_reset_ran_in_is_not_told_again(
    reaching: Reaching,
) -> None:
    assert not await reaching.reach.tell(await reaching.alice(), NOTICE, besides="slack")
    assert reaching.slack_api.calls == []


async def test_an_account_without_email_is_not_looked_up(reaching: Reaching) -> None:
    account = replace(await reaching.alice(), email=None)
    assert not await reaching.reach.tell(account, NOTICE, besides="msteams")
    assert reaching.slack_api.calls == []


async def test_a_slack_error_is_no_error(
    reaching: Reaching, caplog: pytest.LogCaptureFixture
) -> None:
    reaching.slack_api.failing["users.lookupByEmail"] = "missing_scope"
    with caplog.at_level(logging.WARNING):
        assert not await reaching.reach.tell(await reaching.alice(), NOTICE, besides="msteams")
    assert reaching.slack_posts() == []
    [warning] = [record for record in caplog.records if record.name == "bot.slack.identity"]
    assert warning.__dict__["slack_error"] == "missing_scope"
    assert all(NOTICE not in record.getMessage() for record in caplog.records)


# -- both -----------------------------------------------------------------------------------


async def test_a_web_chat_reset_is_told_on_every_other_channel(reaching: Reaching) -> None:
    await reaching.keep_teams_reference()
    assert await reaching.reach.tell(await reaching.alice(), NOTICE, besides="webchat")
    assert [sent.text for sent in reaching.connector.received] == [NOTICE]
    assert [post["text"] for post in reaching.slack_posts()] == [NOTICE]


async def test_with_no_channel_attached_nobody_is_reached(reaching: Reaching) -> None:
    await reaching.keep_teams_reference()
    bare = ChannelReach(reaching.runtime.store)
    assert not await bare.tell(await reaching.alice(), NOTICE, besides="webchat")
    assert reaching.connector.received == []
    assert reaching.slack_api.calls == []
