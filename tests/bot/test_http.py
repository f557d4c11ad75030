"""The bot over real HTTP: Bot Framework activities in on `/api/messages`, replies out to a
local Bot Connector, through the Agents SDK exactly as a channel drives it."""

import json

from aiohttp import ClientSession

from bot.conversations import record_key
from tests.stand_ins.connector import ConnectorStandIn
from tests.support.directory import embedded_directory
from tests.support.harness import PASSWORDS
from tests.support.http_fixtures import HttpBot, MakeHttpBot

AUTHENTICATED = {
    "MicrosoftAppId": "00000000-0000-0000-0000-000000000001",
    "MicrosoftAppPassword": "x",
    "MicrosoftAppTenantId": "t",
}


def temporary_password(reply: str) -> str:
    assert "temporary password" in reply, reply
    return reply.split("\n\n")[1]


async def test_a_reset_with_one_method_over_http(http_bot: HttpBot) -> None:
    menu = await http_bot.say("reset")
    assert "Hi Alice Wilber" in menu
    sent = await http_bot.say("email")
    assert "a***@contoso.com" in sent
    assert http_bot.outbox.messages()[-1]["to"] == "alice@contoso.com"

    answer = await http_bot.post(http_bot.activity(http_bot.outbox.last_code()))

    assert answer.status == 202
    assert len(answer.replies) == 1
    password = temporary_password(answer.replies[0].text)
    assert len(password) == 16
    directory = embedded_directory(http_bot.runtime)
    assert await directory.check_password("alice", password)
    assert not await directory.check_password("alice", PASSWORDS["alice"])


async def test_replies_answer_the_activity_in_its_conversation(http_bot: HttpBot) -> None:
    inbound = http_bot.activity("reset", conversation="conv-replies")
    answer = await http_bot.post(inbound)
    assert answer.status == 202
    [reply] = answer.replies  # the greeting and the menu travel as one message
    assert reply.authorization is None  # development mode: no token to present
    assert reply.conversation_id == "conv-replies"
    assert reply.reply_to_id == inbound["id"]
    assert reply.activity["type"] == "message"
    assert reply.activity["recipient"]["id"] == "alice"
    assert reply.activity["from"]["id"] == "sspr-bot"
    assert reply.activity["conversation"]["id"] == "conv-replies"
    assert reply.activity["replyToId"] == inbound["id"]


async def test_a_reset_with_two_methods_over_http(make_http_bot: MakeHttpBot) -> None:
    async with make_http_bot(verification={"required": 2}) as bot:
        await bot.say("reset")
        await bot.say("email")
        second = await bot.say(bot.outbox.last_code())
        assert "One more check" in second
        assert "Email a code" not in second
        assert "Code from my authenticator app" in second
        await bot.say("app")
        password = temporary_password(await bot.say(bot.totp("alice")))
        assert await embedded_directory(bot.runtime).check_password("alice", password)
        assert not await embedded_directory(bot.runtime).check_password("alice", PASSWORDS["alice"])


async def test_the_method_menu_has_buttons_and_a_numbered_fallback(http_bot: HttpBot) -> None:
    answer = await http_bot.post(http_bot.activity("reset"))
    [menu] = answer.replies
    assert menu.text.startswith("Hi Alice Wilber.")
    buttons = menu.buttons
    assert len(buttons) >= 2
    assert {button["type"] for button in buttons} == {"imBack"}
    titles = [button["title"] for button in buttons]
    assert "Email a code to a***@contoso.com" in titles
    assert "Code from my authenticator app" in titles
    assert all(button["value"] for button in buttons)
    numbered = [line for line in menu.text.splitlines() if line[:1].isdigit()]
    assert numbered == [f"{n}. {title}" for n, title in enumerate(titles, 1)]
    assert menu.activity["textFormat"] == "plain"


async def test_a_button_value_is_understood_like_a_typed_choice(http_bot: HttpBot) -> None:
    menu = (await http_bot.post(http_bot.activity("reset"))).replies[-1]
    email = next(b for b in menu.buttons if b["title"].startswith("Email"))
    sent = await http_bot.say(str(email["value"]))
    assert "I've emailed a 6-digit code" in sent
    assert len(http_bot.outbox.messages()) == 1


async def test_healthz(http_bot: HttpBot) -> None:
    async with http_bot.session.get(f"{http_bot.url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_a_body_over_256_kib_is_refused_and_changes_nothing(http_bot: HttpBot) -> None:
    activity = http_bot.activity("reset")
    activity["value"] = "x" * (256 * 1024)
    answer = await http_bot.post(json.dumps(activity).encode())
    assert answer.status == 413
    assert answer.replies == []
    assert http_bot.outbox.messages() == []
    assert await http_bot.runtime.store.get(record_key("emulator:conv-1:alice")) is None


async def test_a_body_that_is_not_json_is_refused(http_bot: HttpBot) -> None:
    answer = await http_bot.post(b"reset my password please")
    assert answer.status == 400
    assert answer.replies == []
    assert await http_bot.runtime.store.get(record_key("emulator:conv-1:alice")) is None


async def test_json_that_is_no_activity_is_refused(http_bot: HttpBot) -> None:
    for body in (b"{}", b"[]", b'{"type": 7, "conversation": {"id": 1}}'):
        answer = await http_bot.post(body)
        assert answer.status == 400, body
    assert answer.replies == []


async def test_an_activity_without_a_conversation_is_refused(http_bot: HttpBot) -> None:
    answer = await http_bot.post(http_bot.activity("reset", conversation=None))
    assert answer.status == 400
    assert answer.replies == []
    assert http_bot.outbox.messages() == []


async def test_with_an_app_id_a_request_without_a_token_is_refused(
    make_http_bot: MakeHttpBot,
) -> None:
    async with make_http_bot(environ=AUTHENTICATED) as bot:
        await _refused(bot, headers={})


async def test_with_an_app_id_a_garbage_token_is_refused(make_http_bot: MakeHttpBot) -> None:
    async with make_http_bot(environ=AUTHENTICATED) as bot:
        await _refused(bot, headers={"Authorization": "Bearer not-a-token"})
        await _refused(bot, headers={"Authorization": "Basic YWxpY2U6eA=="})


async def _refused(bot: HttpBot, *, headers: dict[str, str]) -> None:
    for text in ("reset", "email"):
        answer = await bot.post(bot.activity(text), headers=headers)
        assert answer.status == 401, answer.body
    assert bot.connector.received == []
    assert bot.outbox.messages() == []
    assert await bot.runtime.store.get(record_key("emulator:conv-1:alice")) is None


async def test_replies_reuse_pooled_connections_across_turns(
    http_bot: HttpBot, connector: ConnectorStandIn
) -> None:
    for turn in range(6):
        await http_bot.say("help", conversation=f"conv-pool-{turn}")
    await http_bot.say("reset", conversation="conv-pool-last")
    await http_bot.say("cancel", conversation="conv-pool-last")
    assert len(connector.received) >= 8
    assert len(connector.client_ports()) == 1


async def test_the_connector_stand_in_records_what_a_plain_client_posts(
    connector: ConnectorStandIn,
) -> None:
    """The stand-in itself: both reply routes answer like the service and record the call."""
    async with ClientSession(base_url=connector.url) as session:
        for path in ("v3/conversations/c1/activities", "v3/conversations/c1/activities/a1"):
            async with session.post(
                path, json={"type": "message", "text": "hi"}, headers={"Authorization": "Bearer t"}
            ) as response:
                assert response.status == 201
                assert set(await response.json()) == {"id"}
    assert [(r.conversation_id, r.reply_to_id) for r in connector.received] == [
        ("c1", None),
        ("c1", "a1"),
    ]
    assert {r.authorization for r in connector.received} == {"Bearer t"}
