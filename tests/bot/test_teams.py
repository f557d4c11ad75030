"""Microsoft Teams over real HTTP: channel and Entra tokens signed by test keys and checked
by the Agents SDK's JWT middleware (its key lookup pointed at a local OpenID metadata
stand-in), the Teams rules in front of the turn, Adaptive Card replies captured by a local
Bot Connector, and the Teams app package."""

import json
import logging
import struct
import zipfile
import zlib
from pathlib import Path

import jwt
import pytest

from bot.conversations import record_key
from bot.teams import TeamsSettings, allowed_tenants
from bot.teams.manifest import manifest_problems, teams_manifest, write_teams_package
from bot.teams.references import reference_key
from tests.stand_ins.connector import Received
from tests.support.bot_framework_tokens import CHANNEL_AUDIENCE, entra_issuer, signing_key
from tests.support.directory import embedded_directory
from tests.support.harness import PASSWORDS
from tests.support.http_fixtures import MakeHttpBot
from tests.support.teams import (
    ALICE_OBJECT_ID,
    APP_ID,
    CHANNEL_KEY,
    TEAMS_ONLY_KEY,
    TENANT,
    TeamsBot,
    cards,
    messages,
    next_activity_id,
)

FOREIGN_TENANT = "99999999-8888-4777-8666-555555555555"
OTHER_KEY = signing_key("channel-key-1", ["msteams"], index=1)  # same kid, another key pair


async def test_a_valid_channel_token_is_accepted(teams_bot: TeamsBot) -> None:
    status, replies = await teams_bot.post(teams_bot.activity("help"), teams_bot.token())
    assert status == 202
    assert messages(replies)
    assert "/v1/.well-known/openidconfiguration" in teams_bot.keys.requests
    assert "/v1/.well-known/keys" in teams_bot.keys.requests
    # replies carry the bot's own token for the Bot Connector
    [message] = messages(replies)
    assert message.authorization is not None
    outbound = message.authorization.removeprefix("Bearer ")
    claims = jwt.decode(
        outbound,
        CHANNEL_KEY.private.public_key(),
        algorithms=["RS256"],
        audience=CHANNEL_AUDIENCE,
    )
    assert claims["appid"] == APP_ID


@pytest.mark.parametrize("version", ["1.0", "2.0"])
async def test_an_entra_token_for_the_bot_is_accepted(teams_bot: TeamsBot, version: str) -> None:
    """Entra-issued (v1 `sts.windows.net` or v2 `login.microsoftonline.com`), no `serviceurl`
    claim: a trusted serviceUrl and a channel the bot serves pass."""
    status, replies = await teams_bot.post(
        teams_bot.activity("help"), teams_bot.entra_token(version=version)
    )
    assert status == 202
    assert messages(replies)
    assert "/entra/discovery/v2.0/keys" in teams_bot.keys.requests
    claimed = teams_bot.entra_token(version=version, service_url=teams_bot.connector.url)
    status, replies = await teams_bot.post(teams_bot.activity("help"), claimed)
    assert status == 202
    assert messages(replies)


async def test_clock_skew_of_up_to_five_minutes_is_tolerated(teams_bot: TeamsBot) -> None:
    token = teams_bot.token(lifetime=3600, issued_ago=3600 + 240)  # expired 4 minutes ago
    status, _ = await teams_bot.post(teams_bot.activity("help"), token)
    assert status == 202


@pytest.mark.parametrize(
    "case",
    [
        "missing token",
        "not a bearer token",
        "bad signature",
        "wrong audience",
        "expired",
        "service url elsewhere",
        "service url on another port",
        "no service url claim",
        "service url on an attachment host",
        "channel not endorsed",
        "entra: another tenant's issuer",
        "entra: tenant unlike the issuer",
        "entra: wrong audience",
        "entra: expired",
        "entra: signed by a channel key",
        "entra: service url not trusted",
        "entra: service url on an attachment host",
        "foreign tenant",
        "no tenant",
    ],
)
async def test_refused_with_nothing_changed(teams_bot: TeamsBot, case: str) -> None:
    activity = teams_bot.activity("reset")
    token: str | None = teams_bot.token()
    expected = {401}
    if case == "missing token":
        token = None
    elif case == "not a bearer token":
        token = "not-a-token"
    elif case == "bad signature":
        token = teams_bot.token(OTHER_KEY)  # the published kid, signed by another key
    elif case == "wrong audience":
        token = teams_bot.token(audience="11111111-2222-4333-8444-555555555555")
    elif case == "expired":
        token = teams_bot.token(lifetime=3600, issued_ago=3600 + 301)
    elif case == "service url elsewhere":
        token = teams_bot.token(service_url="https://smba.trafficmanager.net/amer/")
    elif case == "service url on another port":
        token = teams_bot.token(service_url="http://127.0.0.1:9/")
    elif case == "no service url claim":
        token = teams_bot.token(service_url=None)
    elif case == "service url on an attachment host":  # a Microsoft host, not a channel's
        activity["serviceUrl"] = "https://contoso.sharepoint.com/"
        token = teams_bot.token(service_url=activity["serviceUrl"])
    elif case == "channel not endorsed":
        activity = teams_bot.activity("reset", channel="webchat")
        token = teams_bot.token(TEAMS_ONLY_KEY)
    elif case == "entra: another tenant's issuer":
        token = teams_bot.entra_token(tenant=FOREIGN_TENANT)
    elif case == "entra: tenant unlike the issuer":
        token = teams_bot.entra_token(tenant=FOREIGN_TENANT, issuer=entra_issuer(TENANT))
    elif case == "entra: wrong audience":
        token = teams_bot.entra_token(audience="11111111-2222-4333-8444-555555555555")
    elif case == "entra: expired":
        token = teams_bot.entra_token(lifetime=-301)
    elif case == "entra: signed by a channel key":
        token = teams_bot.entra_token(CHANNEL_KEY)
    elif case == "entra: service url not trusted":
        activity["serviceUrl"] = "https://bot-replies.example.net/"
        token = teams_bot.entra_token()
    elif case == "entra: service url on an attachment host":
        activity["serviceUrl"] = "https://contoso.blob.core.windows.net/replies/"
        token = teams_bot.entra_token()
    elif case == "foreign tenant":
        activity = teams_bot.activity("reset", tenant=FOREIGN_TENANT)
        expected = {403}
    elif case == "no tenant":
        del activity["channelData"]
        expected = {403}
    for _ in range(2):
        status, replies = await teams_bot.post(activity, token)
        assert status in expected, case
        assert replies == []
        activity = {**activity, "id": next_activity_id()}
    await teams_bot.nothing_changed()


async def test_a_full_reset_with_cards_and_a_card_submit(teams_bot: TeamsBot) -> None:
    replies = await teams_bot.say("reset")
    assert replies[0].activity["type"] == "typing"  # shown before the turn runs
    [menu] = messages(replies)
    assert "text" not in menu.activity  # a card travels alone: Teams would show both
    [card] = cards(menu)
    fallback = card["fallbackText"]
    assert "Hi Alice Wilber" in fallback
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.5"
    assert all(block["wrap"] for block in card["body"] if block["type"] == "TextBlock")
    actions = card["actions"]
    assert {action["type"] for action in actions} == {"Action.Submit"}
    titles = [action["title"] for action in actions]
    assert "Email a code to a***@contoso.com" in titles
    numbered = [line for line in fallback.splitlines() if line[:1].isdigit()]
    assert numbered == [f"{n}. {title}" for n, title in enumerate(titles, 1)]
    assert menu.activity["summary"]
    assert "suggestedActions" not in menu.activity

    email = next(action for action in actions if action["title"].startswith("Email"))
    replies = await teams_bot.say(None, value=email["data"])  # a card submit: no text
    [sent] = messages(replies)
    assert "I've emailed a 6-digit code" in sent.text
    assert teams_bot.outbox.messages()[-1]["to"] == "alice@contoso.com"

    replies = await teams_bot.say(teams_bot.outbox.last_code())
    [result] = messages(replies)
    assert "temporary password" in result.text
    assert "attachments" not in result.activity  # the password stays plain, copyable text
    password = result.text.split("\n\n")[1]
    directory = embedded_directory(teams_bot.runtime)
    assert await directory.check_password("alice", password)
    assert not await directory.check_password("alice", PASSWORDS["alice"])

    reference = await teams_bot.runtime.store.get(reference_key(ALICE_OBJECT_ID))
    assert reference is not None
    assert reference.value["conversation"]["id"] == "a:1on1-alice"
    assert reference.value["serviceUrl"] == teams_bot.connector.url


@pytest.mark.parametrize("conversation_type", ["groupChat", "channel"])
async def test_a_shared_conversation_is_declined(
    teams_bot: TeamsBot, conversation_type: str
) -> None:
    replies = await teams_bot.say(
        "reset", conversation_type=conversation_type, conversation="19:group"
    )
    assert [reply.text for reply in replies] == [
        "I only talk in a private chat. Open a 1:1 chat with me and say 'reset'."
    ]
    assert teams_bot.outbox.messages() == []
    assert (
        await teams_bot.runtime.store.get(record_key("msteams:19:group:29:alice-teams-id")) is None
    )


def test_the_allow_list_defaults_to_the_app_tenant() -> None:
    assert allowed_tenants(TeamsSettings(), TENANT.upper()) == {TENANT}
    assert allowed_tenants(TeamsSettings(), None) == frozenset()
    assert allowed_tenants(TeamsSettings(), "common") == frozenset()
    listed = TeamsSettings(allowed_tenant_ids=[FOREIGN_TENANT.upper()])
    assert allowed_tenants(listed, TENANT) == {FOREIGN_TENANT}
    with pytest.raises(ValueError, match="not a tenant id"):
        TeamsSettings(allowed_tenant_ids=["contoso.onmicrosoft.com"])
    with pytest.raises(ValueError, match="extra"):
        TeamsSettings.model_validate({"allowed_tenants": []})


async def test_development_mode_admits_any_tenant_with_one_warning_each(
    make_http_bot: MakeHttpBot, caplog: pytest.LogCaptureFixture
) -> None:
    """No app id, no allow-list: no token is checked, so a tenant id proves nothing. A
    Teams-shaped activity is answered, and each tenant is named in one warning, however many
    messages it sends; a configured list is kept (see `test_refused_with_nothing_changed`
    for the check with an app id)."""
    replies: list[Received] = []
    async with make_http_bot() as bot:
        with caplog.at_level(logging.WARNING, logger="bot.teams.admission"):
            for tenant in (TENANT, TENANT, FOREIGN_TENANT):
                activity = bot.activity("help", user="29:alice-teams-id")
                activity.update(
                    channelId="msteams",
                    conversation={"id": "a:1on1", "conversationType": "personal"},
                    channelData={"tenant": {"id": tenant}},
                )
                answer = await bot.post(activity)
                assert answer.status == 202, answer.body
                replies += messages(answer.replies)
    assert len(replies) == 3
    warned = [record for record in caplog.records if record.name == "bot.teams.admission"]
    assert [getattr(record, "tenant", None) for record in warned] == [TENANT, FOREIGN_TENANT]
    assert all("DEVELOPMENT MODE" in record.getMessage() for record in warned)


async def test_development_mode_keeps_a_configured_allow_list(make_http_bot: MakeHttpBot) -> None:
    async with make_http_bot(teams={"allowed_tenant_ids": [TENANT]}) as bot:
        activity = bot.activity("help", user="29:alice-teams-id")
        activity.update(channelId="msteams", channelData={"tenant": {"id": FOREIGN_TENANT}})
        answer = await bot.post(activity)
    assert answer.status == 403
    assert answer.replies == []


def _png_size(data: bytes) -> tuple[int, int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    width, height, depth, color_type = struct.unpack(">IIBB", data[16:26])
    assert depth == 8
    assert (
        zlib.crc32(data[12 : 16 + length])
        == struct.unpack(">I", data[16 + length : 20 + length])[0]
    )
    return width, height, color_type


def test_the_teams_package(tmp_path: Path) -> None:
    settings = TeamsSettings(public_base_url="https://sspr.contoso.com")
    package = write_teams_package(settings, APP_ID, tmp_path / "teams")
    with zipfile.ZipFile(package) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        color = archive.read("color.png")
        outline = archive.read("outline.png")
    assert manifest_problems(manifest) == []
    assert manifest["manifestVersion"] == "1.17"
    assert manifest["bots"] == [
        {
            "botId": APP_ID,
            "scopes": ["personal"],
            "supportsFiles": False,
            "isNotificationOnly": False,
        }
    ]
    assert manifest["validDomains"] == ["sspr.contoso.com"]
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert _png_size(color) == (192, 192, 6)
    assert _png_size(outline) == (32, 32, 6)
    # the outline icon is white on transparency
    pixels = zlib.decompress(outline[33 + 8 : -16])  # IDAT's data, before its CRC and IEND
    rows = [pixels[row * 129 + 1 : (row + 1) * 129] for row in range(32)]
    rgba = [tuple(row[i : i + 4]) for row in rows for i in range(0, 128, 4)]
    assert {pixel[:3] for pixel in rgba} == {(255, 255, 255)}
    assert {pixel[3] for pixel in rgba} >= {0, 255}


def test_a_manifest_breaking_the_schema_is_named() -> None:
    manifest = teams_manifest(TeamsSettings(), APP_ID)
    broken = {**manifest, "id": "not-a-guid", "accentColor": "blue", "validDomains": ["https://x/"]}
    broken["bots"] = [{**manifest["bots"][0], "scopes": ["everywhere"]}]
    problems = manifest_problems(broken)
    assert any(problem.startswith("id:") for problem in problems)
    assert any(problem.startswith("accentColor:") for problem in problems)
    assert any(problem.startswith("validDomains:") for problem in problems)
    assert any(problem.startswith("bots[0].scopes:") for problem in problems)


async def test_the_outbound_token_is_asked_for_once_and_sent_with_every_reply(
    teams_bot: TeamsBot,
) -> None:
    """Replies reuse the token until it nears its expiry, on kept-alive connections."""
    for text in ("help", "help", "help"):
        await teams_bot.say(text)
    assert len(teams_bot.outbound.requested) == 1
    [sent] = {reply.authorization or "" for reply in teams_bot.connector.received}
    assert sent.startswith("Bearer ")
    assert len(teams_bot.connector.client_ports()) == 1
