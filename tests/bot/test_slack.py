"""Slack directly: signed Events API and interactivity requests into the real bot over HTTP,
replies through slack_sdk's AsyncWebClient to a local stand-in of the Slack Web API.

Requests are signed as Slack signs them (`SignatureVerifier.generate_signature`), with the
bot's frozen clock as "now"; the bot is composed the way the service composes it.
"""

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from slack_sdk.signature import SignatureVerifier

from adapters.directory.embedded import EmbeddedDirectory
from bot.botframework.agent import development_identity
from bot.botframework.credentials import from_environment
from bot.runtime import bot_framework_adapter
from bot.slack import (
    PublicUrlInvalid,
    SlackMisconfigured,
    SlackSettings,
    manifest_problems,
    slack_manifest,
)
from bot.slack.settings import SlackSecrets
from bot.slack.text import escape, typed_text
from dialogs import Choice, Reply
from state import FrozenClock
from tests.stand_ins.slack import (
    BOT_TOKEN,
    BOT_USER,
    TEAM,
    SlackApiStandIn,
    form_payload,
)
from tests.support.directory import embedded_directory
from tests.support.harness import PASSWORDS, Chat
from tests.support.slack import (
    ALICE,
    ALICE_DM,
    SIGNING_SECRET,
    MakeSlackBot,
    SlackBot,
    buttons,
    message_event,
    running_slack_bot,
)

# -- requests from Slack, and nothing else -----------------------------------------------


async def test_the_url_verification_challenge_is_answered(slack_bot: SlackBot) -> None:
    body = {
        "token": "unused",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    answer = await slack_bot.event(body)
    assert answer.status == 200
    assert answer.json() == {"challenge": body["challenge"]}


def _forged(bot: SlackBot, body: bytes, case: str) -> tuple[bytes, dict[str, str]]:
    now = int(bot.clock.now())
    if case == "bad signature":
        headers = bot.signed(body)
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    elif case == "signed with another secret":
        signature = SignatureVerifier("another-secret").generate_signature(
            timestamp=str(now), body=body
        )
        assert signature is not None
        headers = {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": signature}
    elif case == "stale timestamp":
        headers = bot.signed(body, timestamp=now - 301)
    elif case == "future timestamp":
        headers = bot.signed(body, timestamp=now + 301)
    elif case == "tampered body":
        headers = bot.signed(body)
        body = body.replace(b"reset", b"RESET")
    elif case == "no signature":
        headers = {"X-Slack-Request-Timestamp": str(now)}
    elif case == "no timestamp":
        headers = {"X-Slack-Signature": bot.signed(body)["X-Slack-Signature"]}
    elif case == "timestamp not a number":
        headers = {**bot.signed(body), "X-Slack-Request-Timestamp": "soon"}
    else:
        raise AssertionError(case)
    return body, headers


FORGERIES = [
    "bad signature",
    "signed with another secret",
    "stale timestamp",
    "future timestamp",
    "tampered body",
    "no signature",
    "no timestamp",
    "timestamp not a number",
]


@pytest.mark.parametrize("case", FORGERIES)
async def test_requests_not_signed_by_slack_are_refused_and_change_nothing(
    slack_bot: SlackBot, case: str
) -> None:
    envelope = message_event("reset")
    body, headers = _forged(slack_bot, json.dumps(envelope).encode(), case)
    events = await slack_bot.post("/api/slack/events", body, headers)
    payload = form_payload({"type": "block_actions", "actions": [{"value": "reset"}]})
    payload, form_headers = _forged(slack_bot, payload, case)
    pressed = await slack_bot.post(
        "/api/slack/interactivity", payload, form_headers, "application/x-www-form-urlencoded"
    )
    await slack_bot.slack.drain()

    assert (events.status, pressed.status) == (401, 401)
    assert slack_bot.api.calls == []
    store = slack_bot.runtime.store
    assert await store.get(f"slack-event:{TEAM}:{envelope['event_id']}") is None
    assert await store.get(f"session:slack:{TEAM}:{ALICE_DM}:{ALICE}") is None


async def test_a_signature_inside_the_window_is_accepted(slack_bot: SlackBot) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
    now = int(slack_bot.clock.now())
    for stamp in (now - 300, now + 300):
        answer = await slack_bot.post(
            "/api/slack/events", body, slack_bot.signed(body, timestamp=stamp)
        )
        assert answer.status == 200


async def test_an_oversized_request_is_refused_unread(slack_bot: SlackBot) -> None:
    body = b"{" + b" " * (256 * 1024) + b"}"
    answer = await slack_bot.post("/api/slack/events", body)
    assert answer.status == 413
    assert slack_bot.api.calls == []


# -- acknowledging at once, handling once ---------------------------------------------


async def test_a_retried_event_is_handled_once(slack_bot: SlackBot) -> None:
    envelope = message_event("reset")
    first = await slack_bot.event(envelope)
    retry = await slack_bot.event(
        envelope, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    replay = await slack_bot.event(envelope)  # the same signed request again, inside 300 s
    await slack_bot.slack.drain()

    assert (first.status, retry.status, replay.status) == (200, 200, 200)
    [menu] = slack_bot.api.posts()
    assert menu["text"].startswith("Hi Alice Wilber.")
    assert len(slack_bot.api.called("users.info")) == 1


async def test_one_event_delivered_to_two_instances_is_handled_once(
    tmp_path: Path, clock: FrozenClock, slack_api: SlackApiStandIn
) -> None:
    """Two instances behind a load balancer share one store: one of them runs the turn."""
    config: dict[str, Any] = {"state": {"backend": "sqlite"}}
    async with (
        running_slack_bot(tmp_path / "data", clock, slack_api, **config) as one,
        running_slack_bot(tmp_path / "data", clock, slack_api, **config) as other,
    ):
        envelope = message_event("reset")
        answers = await asyncio.gather(one.event(envelope), other.event(envelope))
        await asyncio.gather(one.slack.drain(), other.slack.drain())

    assert [answer.status for answer in answers] == [200, 200]
    [menu] = slack_api.posts()
    assert menu["text"].startswith("Hi Alice Wilber.")


async def test_the_ack_returns_before_a_slow_turn_finishes(slack_bot: SlackBot) -> None:
    slack_bot.api.users_info_gate.clear()  # Slack's users.info will not answer yet

    async with asyncio.timeout(5):  # an ack that waited for the turn would never come
        answer = await slack_bot.event(message_event("reset"))
        await slack_bot.api.users_info_waiting.wait()

    assert answer.status == 200
    assert slack_bot.api.posts() == []  # the turn is still blocked
    slack_bot.api.users_info_gate.set()
    await slack_bot.slack.drain()
    [menu] = slack_bot.api.posts()
    assert menu["text"].startswith("Hi Alice Wilber.")


# -- a reset over buttons --------------------------------------------------------------


async def test_a_full_reset_over_buttons(
    slack_bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    [menu] = await slack_bot.say("reset")
    assert menu["channel"] == ALICE_DM
    assert menu["text"].startswith("Hi Alice Wilber.")
    section, _ = menu["blocks"]
    assert section["type"] == "section"
    assert section["text"]["text"].startswith("Hi Alice Wilber.")
    labels = [button["text"]["text"] for button in buttons(menu)]
    assert "Email a code to a***@contoso.com" in labels
    numbered = [line for line in menu["text"].splitlines() if line[:1].isdigit()]
    assert numbered == [f"{n}. {label}" for n, label in enumerate(labels, 1)]  # the fallback
    assert [button["action_id"] for button in buttons(menu)] == [
        f"sspr_choice_{number}" for number in range(1, len(labels) + 1)
    ]
    [info] = slack_bot.api.called("users.info")
    assert info.args["user"] == ALICE
    assert info.authorization == f"Bearer {BOT_TOKEN}"
    posted = slack_bot.api.called("chat.postMessage")[0]
    assert posted.authorization == f"Bearer {BOT_TOKEN}"

    mark = len(slack_bot.api.calls)
    pressed = await slack_bot.press(menu, "email")
    await slack_bot.slack.drain()
    assert pressed.status == 200
    [update] = slack_bot.api.called("chat.update", mark)
    assert update.args["channel"] == ALICE_DM
    assert update.args["ts"] == menu["ts"]
    assert buttons(update.args) == []  # the buttons are gone
    assert update.args["blocks"][-1]["elements"][0]["text"] == "✓ Email a code to a***@contoso.com"
    [sent] = slack_bot.api.posts(mark)
    assert "I've emailed a 6-digit code to a***@contoso.com" in sent["text"]
    assert slack_bot.outbox.messages()[-1]["to"] == "alice@contoso.com"

    mark = len(slack_bot.api.calls)
    again = await slack_bot.press(menu, "email")  # a double tap, or a second device
    await slack_bot.slack.drain()
    assert again.status == 200
    assert slack_bot.api.calls[mark:] == []
    assert len(slack_bot.outbox.messages()) == 1

    code = slack_bot.outbox.last_code()
    [done] = await slack_bot.say(code)
    assert "temporary password" in done["text"]
    assert "blocks" not in done  # the password is in one plain message, not repeated
    assert done["mrkdwn"] is False
    password = done["text"].split("\n\n")[1]
    directory = slack_bot.runtime.directory
    assert isinstance(directory, EmbeddedDirectory)
    assert await directory.check_password("alice", password)
    assert not await directory.check_password("alice", PASSWORDS["alice"])
    for secret in (password, BOT_TOKEN, SIGNING_SECRET, code):
        assert secret not in caplog.text


async def test_a_typed_number_works_like_a_button(slack_bot: SlackBot) -> None:
    await slack_bot.say("reset")
    [asked] = await slack_bot.say("1")
    assert "authenticator app" in asked["text"]


async def test_conversation_references_are_kept_for_proactive_messages(
    slack_bot: SlackBot,
) -> None:
    await slack_bot.say("reset")
    record = await slack_bot.runtime.store.get(f"slack-ref:{TEAM}:{ALICE}")
    assert record is not None
    assert record.value == {"team": TEAM, "user": ALICE, "channel": ALICE_DM}

    mark = len(slack_bot.api.calls)
    assert await slack_bot.slack.send_proactive(TEAM, ALICE, [Reply("Your ticket was closed.")])
    [post] = slack_bot.api.posts(mark)
    assert post["channel"] == ALICE_DM
    assert post["text"] == "Your ticket was closed."
    assert slack_bot.api.called("conversations.open", mark) == []


async def test_a_proactive_message_opens_a_direct_message_when_none_is_known(
    slack_bot: SlackBot,
) -> None:
    assert await slack_bot.slack.send_proactive(TEAM, ALICE, [Reply("Hello.")])
    [opened] = slack_bot.api.called("conversations.open")
    assert opened.args["users"] == ALICE
    [post] = slack_bot.api.posts()
    assert post["channel"] == f"D{ALICE}"
    record = await slack_bot.runtime.store.get(f"slack-ref:{TEAM}:{ALICE}")
    assert record is not None
    assert record.value["channel"] == f"D{ALICE}"


async def test_texts_are_shown_as_written(slack_bot: SlackBot) -> None:
    """Slack's control characters are escaped and its formatting is off: `<!channel>` stays
    text, and `_x_` in a temporary password is not turned into italics."""
    reply = Reply("Use <!channel> & _Pass_word*1*", choices=(Choice("a", "<b>"),))
    assert await slack_bot.slack.send_proactive(TEAM, ALICE, [reply])
    [post] = slack_bot.api.posts()
    assert post["text"] == "Use &lt;!channel&gt; &amp; _Pass_word*1*\n1. &lt;b&gt;"
    assert post["mrkdwn"] is False
    section, actions = post["blocks"]
    assert section["text"] == {"type": "plain_text", "text": reply.text, "emoji": False}
    assert actions["elements"][0]["text"]["text"] == "<b>"


async def test_slack_links_and_escapes_reach_the_dialog_as_typed(slack_bot: SlackBot) -> None:
    """Slack sends `reset alice@contoso.com` as a mailto link; it names her own account."""
    [refused] = await slack_bot.say("reset <mailto:bob@contoso.com|bob@contoso.com>")
    assert "only reset the password of the account you're signed in with" in refused["text"]
    [menu] = await slack_bot.say("reset <mailto:alice@contoso.com|alice@contoso.com>")
    assert menu["text"].startswith("Hi Alice Wilber.")


@pytest.mark.parametrize(
    ("sent", "typed"),
    [
        ("P&amp;ss &lt;word&gt; 1", "P&ss <word> 1"),
        ("&amp;lt;", "&lt;"),
        ("<mailto:a@b.com|a@b.com>", "a@b.com"),
        ("see <https://contoso.com|contoso.com>", "see contoso.com"),
        ("<https://contoso.com/x>", "https://contoso.com/x"),
        ("123456", "123456"),
    ],
)
def test_typed_text_undoes_slack_formatting(sent: str, typed: str) -> None:
    assert typed_text(sent) == typed
    if "<" not in sent:
        assert escape(typed) == sent


# -- where and with whom the bot talks -------------------------------------------------


async def test_a_channel_message_to_the_bot_is_declined_in_a_thread(slack_bot: SlackBot) -> None:
    text = f"<@{BOT_USER}> reset my password"
    message = message_event(text, channel="CGENERAL1", channel_type="channel")
    mention = message_event(text, channel="CGENERAL1")
    mention["event"] = {**message["event"], "type": "app_mention"}
    del mention["event"]["channel_type"]

    for envelope in (message, mention):
        assert (await slack_bot.event(envelope)).status == 200
    await slack_bot.slack.drain()

    [decline] = slack_bot.api.posts()  # one answer, though Slack sent two events
    assert decline["channel"] == "CGENERAL1"
    assert decline["thread_ts"] == message["event"]["ts"]
    assert "direct message" in decline["text"]
    assert slack_bot.api.called("users.info") == []
    assert await slack_bot.runtime.store.get(f"session:slack:{TEAM}:CGENERAL1:{ALICE}") is None


async def test_channel_chatter_not_addressed_to_the_bot_is_ignored(slack_bot: SlackBot) -> None:
    envelope = message_event(
        "anyone know the wifi password?", channel="CGENERAL1", channel_type="channel"
    )
    assert (await slack_bot.event(envelope)).status == 200
    await slack_bot.slack.drain()
    assert slack_bot.api.calls == []


@pytest.mark.parametrize(
    "fields",
    [
        {"bot_id": "BBOT0001", "subtype": "bot_message"},
        {"bot_id": "BBOT0001"},
        {"subtype": "message_changed"},
        {"subtype": "file_share"},
    ],
    ids=["bot message", "own message", "edit", "file share"],
)
async def test_messages_from_bots_and_edits_are_ignored(
    slack_bot: SlackBot, fields: dict[str, str]
) -> None:
    await slack_bot.say("reset")  # a conversation in progress
    mark = len(slack_bot.api.calls)
    assert (await slack_bot.event(message_event("email", **fields))).status == 200
    await slack_bot.slack.drain()
    assert slack_bot.api.calls[mark:] == []
    assert slack_bot.outbox.messages() == []


async def test_a_slack_user_without_an_email_is_refused_politely(slack_bot: SlackBot) -> None:
    [answer] = await slack_bot.say("reset", user="UNOMAIL01", channel="DNOMAIL01")
    assert "isn't available for your Slack account" in answer["text"]
    assert "blocks" not in answer
    store = slack_bot.runtime.store
    assert await store.get(f"session:slack:{TEAM}:DNOMAIL01:UNOMAIL01") is None


async def test_a_slack_connect_stranger_is_refused_whatever_email_they_show(
    slack_bot: SlackBot,
) -> None:
    [answer] = await slack_bot.say("reset", user="USTRANGER", channel="DSTRANGER")
    assert "isn't available for your Slack account" in answer["text"]
    assert slack_bot.outbox.messages() == []


async def test_a_workspace_not_allowed_is_ignored(make_slack_bot: MakeSlackBot) -> None:
    async with make_slack_bot(slack={"allowed_team_ids": ["TOTHERWS1"]}) as bot:
        assert (await bot.event(message_event("reset"))).status == 200
        await bot.slack.drain()
        assert bot.api.calls == []


async def test_a_user_slack_does_not_know_is_refused_politely(slack_bot: SlackBot) -> None:
    slack_bot.api.users.pop(ALICE)
    [answer] = await slack_bot.say("reset")
    assert "isn't available for your Slack account" in answer["text"]


async def test_when_slack_cannot_say_who_wrote_nothing_happens(slack_bot: SlackBot) -> None:
    slack_bot.api.failing["users.info"] = "missing_scope"
    [answer] = await slack_bot.say("reset")
    assert "briefly unavailable" in answer["text"]
    assert await slack_bot.runtime.store.get(f"session:slack:{TEAM}:{ALICE_DM}:{ALICE}") is None


# -- configuration and the app manifest ------------------------------------------------


def test_secrets_come_from_the_environment() -> None:
    with pytest.raises(SlackMisconfigured, match="SLACK_SIGNING_SECRET"):
        SlackSecrets.from_env({"SLACK_BOT_TOKEN": BOT_TOKEN})
    with pytest.raises(SlackMisconfigured, match="SLACK_BOT_TOKEN"):
        SlackSecrets.from_env(
            {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": "xoxp-user"}
        )
    secrets = SlackSecrets.from_env(
        {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN}
    )
    assert (secrets.signing_secret, secrets.bot_token) == (SIGNING_SECRET, BOT_TOKEN)
    assert SIGNING_SECRET not in repr(secrets)
    assert BOT_TOKEN not in repr(secrets)


@pytest.mark.parametrize(
    "section",
    [
        {"api_url": "http://slack.example.com/api/"},
        {"api_url": "slack.com/api"},
        {"allowed_team_ids": ["T 1"]},
        {"unknown": 1},
        {"app_name": "x" * 36},
    ],
)
def test_settings_refuse_what_cannot_work(section: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SlackSettings.model_validate(section)


def test_the_manifest_has_every_required_field() -> None:
    manifest = slack_manifest(
        SlackSettings(app_name="Contoso Password Reset"), "https://bot.contoso.com/"
    )

    assert manifest_problems(manifest) == []
    assert manifest["display_information"]["name"] == "Contoso Password Reset"
    assert manifest["features"]["bot_user"]["display_name"] == "Contoso Password Reset"
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(
        [
            "chat:write",
            "files:write",
            "im:history",
            "im:read",
            "im:write",
            "users:read",
            "users:read.email",
        ]
    )
    settings = manifest["settings"]
    assert settings["event_subscriptions"] == {
        "request_url": "https://bot.contoso.com/api/slack/events",
        "bot_events": ["message.im"],
    }
    assert settings["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://bot.contoso.com/api/slack/interactivity",
    }
    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is False
    json.dumps(manifest)  # it serialises as the JSON Slack accepts


def test_the_manifest_check_names_what_is_wrong() -> None:
    manifest = slack_manifest(SlackSettings(), "https://bot.contoso.com/sspr")
    assert manifest["settings"]["event_subscriptions"]["request_url"] == (
        "https://bot.contoso.com/sspr/api/slack/events"
    )
    manifest["oauth_config"]["scopes"]["bot"].remove("users:read.email")
    manifest["settings"]["interactivity"]["request_url"] = "http://bot.contoso.com/x"
    manifest["settings"]["socket_mode_enabled"] = True
    del manifest["display_information"]["name"]
    manifest["extra"] = {}

    assert manifest_problems(manifest) == [
        "unknown top-level keys: extra",
        "display_information.name: required text",
        "oauth_config.scopes.bot: missing users:read.email",
        "settings.interactivity.request_url: must be an https URL",
        "settings.socket_mode_enabled: must be false",
    ]


@pytest.mark.parametrize(
    "url", ["http://bot.contoso.com", "bot.contoso.com", "https://bot.contoso.com/?x=1"]
)
def test_the_manifest_needs_a_public_https_url(url: str) -> None:
    with pytest.raises(PublicUrlInvalid):
        slack_manifest(SlackSettings(), url)


async def test_the_password_page_reports_back_into_the_slack_conversation(
    make_slack_bot: MakeSlackBot,
) -> None:
    async with make_slack_bot(password={"entry": "link"}) as bot:
        await bot.say("reset")
        await bot.say("email")
        [link] = await bot.say(bot.outbox.last_code())
        found = re.search(r"/password/([A-Za-z0-9_-]+)", link["text"])
        assert found, link["text"]
        page_url = f"{bot.url}/password/{found.group(1)}"
        async with bot.session.get(page_url) as response:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await response.text())
        assert csrf
        mark = len(bot.api.calls)
        chosen = "amber kettle over the quiet harbour"
        form = {"password": chosen, "confirm": chosen, "csrf": csrf.group(1)}
        async with bot.session.post(page_url, data=form) as response:
            assert response.status == 200
        [notice] = bot.api.posts(mark)
        assert notice["channel"] == ALICE_DM
        assert notice["text"].startswith("Done: your new password is set")
        assert await embedded_directory(bot.runtime).check_password("alice", chosen)


async def test_a_reset_on_another_channel_is_told_in_slack_and_one_in_slack_is_not(
    slack_bot: SlackBot,
) -> None:
    _, agent = bot_framework_adapter(slack_bot.runtime, from_environment({}), development_identity)
    teams = Chat(agent, "alice")
    await teams.text("reset")
    await teams.text("email")
    mark = len(slack_bot.api.calls)
    assert "temporary password" in await teams.text(slack_bot.outbox.last_code())
    await slack_bot.runtime.background.drain()
    [notice] = slack_bot.api.posts(mark)
    [opened] = slack_bot.api.called("conversations.open", mark)
    assert opened.args["users"] == ALICE
    assert notice["channel"] == opened.answer["channel"]["id"]
    assert notice["text"].startswith("The password of alice was reset")
    assert "temporary" not in notice["text"]

    await slack_bot.say("reset")
    await slack_bot.say("email")
    mark = len(slack_bot.api.calls)
    [done] = await slack_bot.say(slack_bot.outbox.last_code())
    await slack_bot.runtime.background.drain()
    await slack_bot.slack.drain()
    assert "temporary password" in done["text"]
    assert [post["text"] for post in slack_bot.api.posts(mark)] == [done["text"]]
