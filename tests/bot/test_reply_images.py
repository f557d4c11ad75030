"""A reply with a picture (an authenticator app's QR code, made with segno as the enrolment
makes it) on every channel: inline in the Bot Framework activity the connector stand-in
receives, on Teams beside the text; uploaded to the Slack direct message through the Web
API stand-in's three upload steps; inline in the web chat's JSON; and named, not shown, in
the terminal. The picture holds the authenticator key, so it is logged nowhere."""

import base64
import io
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import segno
from microsoft_agents.activity import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
)
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import ClaimsIdentity, TurnContext

from bot.botframework.agent import entra_identity
from bot.botframework.outbound import Outbound
from bot.botframework.proactive import BotFrameworkNotifier, reference_of
from bot.botframework.render import to_activity
from bot.console.terminal import NO_PICTURE_HERE, ConsoleAdapter
from bot.runtime import Runtime, bot_framework_adapter, start_runtime
from bot.slack.blocks import message
from bot.teams.cards import teams_activity
from bot.webchat.channel import reply_json
from dialogs import Choice, Image, Reply
from state import FrozenClock
from tests.stand_ins.connector import ConnectorStandIn, Received
from tests.stand_ins.slack import TEAM
from tests.support.bot_framework_tokens import minting_auth
from tests.support.harness import settings_for
from tests.support.slack import ALICE, ALICE_DM, SlackBot
from tests.support.teams import APP_ID, CHANNEL_KEY, ENVIRON, TENANT

KEY = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
URI = f"otpauth://totp/Contoso:alice%40contoso.com?secret={KEY}&issuer=Contoso"
ALT = "QR code for your authenticator app"
TEXT = (
    "Scan the QR code with your authenticator app, or open this link on the phone that has "
    f"it:\n{URI}\n\nOr type the key by hand: {KEY}"
)


def qr_code(uri: str = URI) -> bytes:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=4)
    return buffer.getvalue()


PNG = qr_code()
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode("ascii")
REPLY = Reply(TEXT, image=Image(PNG, ALT))
ATTACHMENT = {"contentType": "image/png", "contentUrl": DATA_URL, "name": "authenticator.png"}


# -- Bot Framework and Teams ----------------------------------------------------------------


def alice_in_teams(service_url: str) -> Activity:
    """A message from Alice in her 1:1 Teams chat, as the channel posts it."""
    return Activity.model_validate(
        {
            "type": "message",
            "id": "teams-activity-1",
            "channelId": "msteams",
            "serviceUrl": service_url,
            "from": {"id": "29:alice-teams-id", "name": "Alice", "aadObjectId": "f94b2385"},
            "recipient": {"id": f"28:{APP_ID}", "name": "Password reset"},
            "conversation": {
                "id": "a:1on1-alice",
                "conversationType": "personal",
                "tenantId": TENANT,
            },
            "channelData": {"tenant": {"id": TENANT}},
            "text": "register",
            "locale": "en-US",
        }
    )


BotFramework = tuple[Runtime, CloudAdapter, Outbound]


async def _adapter(
    stack: AsyncExitStack, data_dir: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> BotFramework:
    """The Bot Framework adapter as `sspr-bot serve` builds it with an app id, its outbound
    token minted by a test key, replies going to the connector stand-in."""
    settings = settings_for(data_dir, teams={"extra_service_origins": [connector.url]})
    runtime = await start_runtime(settings, secrets=ENVIRON, clock=clock, console=None)
    stack.push_async_callback(runtime.close)
    auth, _ = minting_auth(ENVIRON, CHANNEL_KEY)
    adapter, _ = bot_framework_adapter(runtime, auth, entra_identity)
    outbound = Outbound(auth.connections, runtime.connector)
    stack.push_async_callback(outbound.close)
    return runtime, adapter, outbound


@pytest.fixture(name="bot_framework")
async def bot_framework_fixture(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> AsyncIterator[BotFramework]:
    async with AsyncExitStack() as stack:
        yield await _adapter(stack, tmp_path / "data", clock, connector)


def test_every_bot_framework_channel_gets_the_picture_inline_beside_the_text() -> None:
    activity = to_activity(Reply(TEXT, (Choice("done", "Done"),), image=Image(PNG, ALT)))
    sent = activity.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert sent["text"] == f"{TEXT}\n1. Done"
    assert sent["attachments"] == [ATTACHMENT]
    assert [action["value"] for action in sent["suggestedActions"]["actions"]] == ["done"]
    assert "attachments" not in to_activity(Reply(TEXT)).model_dump(exclude_none=True)


def test_on_teams_the_picture_goes_with_plain_text_never_a_card() -> None:
    reply = Reply(f"Scan it.\n\n{TEXT}", (Choice("done", "Done"),), image=Image(PNG, ALT))
    sent = teams_activity(reply).model_dump(mode="json", by_alias=True, exclude_none=True)
    assert sent["attachments"] == [ATTACHMENT]  # no Adaptive Card repeating the key
    assert sent["text"] == reply.plain_text()
    assert sent["textFormat"] == "plain"
    assert "suggestedActions" not in sent


async def test_a_teams_reply_with_a_picture_reaches_the_connector_with_it(
    bot_framework: BotFramework,
    connector: ConnectorStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _, adapter, _ = bot_framework
    inbound = alice_in_teams(connector.url)
    continuation = ConversationReference.model_validate(
        reference_of(inbound)
    ).get_continuation_activity()

    async def reply(context: TurnContext) -> None:
        await context.send_activity(teams_activity(REPLY))

    await adapter.continue_conversation(APP_ID, continuation, reply)
    [sent] = connector.received
    assert_carries_the_picture(sent)
    assert_nothing_logged(caplog)


async def test_a_message_the_bot_starts_carries_the_picture_too(
    bot_framework: BotFramework,
    connector: ConnectorStandIn,
) -> None:
    runtime, _, outbound = bot_framework
    notifier = BotFrameworkNotifier(outbound, APP_ID, runtime.store)
    await notifier.send(reference_of(alice_in_teams(connector.url)), REPLY)
    [sent] = connector.received
    assert_carries_the_picture(sent)


def assert_carries_the_picture(sent: Received) -> None:
    assert sent.conversation_id == "a:1on1-alice"
    assert sent.activity["type"] == "message"
    assert sent.text == TEXT
    assert sent.activity["attachments"] == [ATTACHMENT]
    assert base64.b64decode(sent.activity["attachments"][0]["contentUrl"].split(",")[1]) == PNG


def assert_nothing_logged(caplog: pytest.LogCaptureFixture) -> None:
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    for secret in (KEY, DATA_URL.split(",")[1][:40]):
        assert secret not in logged


# -- Slack ----------------------------------------------------------------------------------


def test_on_slack_the_text_stays_one_plain_message() -> None:
    posted = message(Reply(TEXT, (Choice("done", "Done"),), image=Image(PNG, ALT)))
    assert "blocks" not in posted  # the key is not repeated in blocks
    assert posted["unfurl_links"] is False
    assert posted["unfurl_media"] is False


async def test_a_reply_with_a_picture_reaches_slack_as_an_uploaded_png(
    slack_bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    await slack_bot.say("help")  # Alice's direct message is known from here on
    caplog.set_level(logging.DEBUG)
    mark = len(slack_bot.api.calls)

    assert await slack_bot.slack.send_proactive(TEAM, ALICE, [REPLY])

    calls = [call.method for call in slack_bot.api.calls[mark:]]
    assert calls == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    [posted] = slack_bot.api.posts(mark)
    assert posted["channel"] == ALICE_DM
    assert posted["text"] == TEXT.replace("&", "&amp;")  # Slack's escaping, shown as typed
    assert "blocks" not in posted
    assert posted["unfurl_links"] is False
    [uploaded] = slack_bot.api.uploads()
    assert uploaded.channel == ALICE_DM
    assert uploaded.content == PNG
    assert uploaded.mimetype == "image/png"
    assert uploaded.filename == "authenticator.png"
    assert uploaded.alt_txt == ALT
    assert uploaded.title == ALT
    assert uploaded.thread_ts is None
    assert uploaded.initial_comment is None  # the text went as the message above
    assert_nothing_logged(caplog)


async def test_a_picture_slack_refuses_leaves_the_text(
    slack_bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    await slack_bot.say("help")
    slack_bot.api.failing["files.getUploadURLExternal"] = "missing_scope"  # no files:write
    mark = len(slack_bot.api.calls)

    assert await slack_bot.slack.send_proactive(TEAM, ALICE, [REPLY, Reply("Then type a code.")])

    texts = [post["text"] for post in slack_bot.api.posts(mark)]
    assert texts == [TEXT.replace("&", "&amp;"), "Then type a code."]
    assert slack_bot.api.uploads() == []
    [failed] = [record for record in caplog.records if "upload" in record.getMessage()]
    assert failed.__dict__["slack_error"] == "missing_scope"
    assert_nothing_logged(caplog)


# -- the web chat ---------------------------------------------------------------------------


def test_the_web_chat_gets_the_picture_inline() -> None:
    reply = Reply("Scan this.", image=Image(b"\x89PNG\r\n\x1a\n", "QR code <for> your app"))
    assert reply_json(reply) == {
        "text": "Scan this.",
        "choices": [],
        "sensitive": False,
        "image": {"src": "data:image/png;base64,iVBORw0KGgo=", "alt": "QR code <for> your app"},
    }
    assert "image" not in reply_json(Reply("Scan this."))


# -- the terminal ---------------------------------------------------------------------------


async def test_the_terminal_prints_the_text_and_says_where_the_picture_is() -> None:
    printed: list[str] = []
    adapter = ConsoleAdapter(printed.append, user="alice")
    activity = Activity(
        type="message",
        text="register",
        channel_id="console",
        service_url="urn:sspr-bot:console",
        from_property=ChannelAccount(id="alice"),
        recipient=ChannelAccount(id="sspr-bot"),
        conversation=ConversationAccount(id="console-alice"),
    )
    context = TurnContext(adapter, activity, identity=ClaimsIdentity({}))

    await context.send_activity(to_activity(REPLY))
    await context.send_activity(to_activity(Reply("Done.")))
    await adapter.notify(adapter.conversation, REPLY)

    expected = f"{TEXT}\n{NO_PICTURE_HERE}"
    assert printed == [expected, "Done.", expected]
    assert "Teams, Slack and the web chat" in NO_PICTURE_HERE
