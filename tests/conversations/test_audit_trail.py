"""The audit trail of whole conversations: every step leaves its event, each naming who
asked (the channel's user id, the page's client address), the account once the bot knows
it, and one correlation id per conversation; no event holds a code, an answer, a link
token or a password."""

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from tests.support.harness import ANSWERS, Bot
from tests.support.http_fixtures import HttpBot, MakeHttpBot
from tests.support.password_page import NEW, form_token, page, post, verified

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
FIELDS = {"at", "event", "requester", "account", "channel", "method", "outcome", "correlation_id"}


async def alice_id(bot: Bot) -> str:
    alice = await bot.runtime.directory.find("alice")
    assert alice is not None
    return alice.id


def conversation_events(bot: Bot) -> list[dict[str, Any]]:
    return [event for event in bot.audit() if "correlation_id" in event]


async def test_every_step_of_a_reset_is_audited_with_requester_and_correlation(
    bot: Bot,
) -> None:
    chat = bot.chat("alice")
    await chat.text("reset")
    await chat.text("email")
    await chat.text("resend")
    await chat.text("other")
    await chat.text("email")
    await chat.text(bot.outbox.last_code())
    await bot.runtime.background.drain()

    events = conversation_events(bot)
    assert [event["event"] for event in events] == [
        "reset.started",
        "reset.identified",
        "methods.offered",
        "challenge.issued",
        "code.sent",
        "challenge.resent",
        "code.sent",
        "challenge.switched",
        "methods.offered",
        "challenge.issued",
        "code.sent",
        "challenge.passed",
        "password.reset",
        "notice.sent",
    ]
    account = await alice_id(bot)
    for event in events:
        assert set(event) >= FIELDS, event
        assert event["requester"] == "alice"
        assert event["account"] == account
        assert event["channel"] == "test"
    assert len({event["correlation_id"] for event in events}) == 1
    assert len(events[0]["correlation_id"]) == 12
    outcomes = {event["event"]: event["outcome"] for event in events}
    assert outcomes["reset.started"] == "requested"
    assert outcomes["reset.identified"] == "identified"
    assert outcomes["challenge.passed"] == "passed"
    assert outcomes["password.reset"] == "reset"
    sent = [event for event in events if event["event"] == "code.sent"]
    assert all(event["method"] == "email" and event["message_id"] for event in sent)
    assert all(event["provider"] == "outbox" for event in sent)
    assert events[3]["method"] == "email"

    again = bot.chat("alice")
    await again.text("reset")
    later = conversation_events(bot)[len(events) :]
    assert later
    assert later[0]["correlation_id"] != events[0]["correlation_id"]


async def test_a_lockout_of_a_typed_name_names_the_account_but_never_the_name(bot: Bot) -> None:
    typed = "alice@contoso.com"
    chat = bot.chat()
    await chat.text("reset")
    await chat.text(typed)
    for wrong in ("000000", "000001", "000002", "000003", "000004", "000005"):
        if "too many attempts" in (await chat.text(wrong)).lower():
            break
    events = conversation_events(bot)
    names = [event["event"] for event in events]
    assert names[:3] == ["reset.started", "reset.identified", "challenge.issued"]
    assert "challenge.failed" in names
    assert names[-1] == "reset.locked"
    account = await alice_id(bot)
    assert {event["requester"] for event in events} == {chat.user}
    assert len({event["correlation_id"] for event in events}) == 1
    assert [event["account"] for event in events[1:]] == [account] * (len(events) - 1)
    assert typed not in bot.audit_path.read_text()

    again = bot.chat("alice")
    await again.text("reset")
    started, identified, locked = conversation_events(bot)[-3:]
    assert [started["event"], identified["event"], locked["event"]] == [
        "reset.started",
        "reset.identified",
        "reset.locked",
    ]
    assert started["account"] == locked["account"] == account
    assert locked["requester"] == "alice"


async def test_a_hand_over_to_the_helpdesk_is_audited(bot: Bot) -> None:
    chat = bot.chat("alice")
    await chat.text("reset")
    await chat.text("agent")
    escalated = conversation_events(bot)[-1]
    assert escalated["event"] == "reset.escalated"
    assert escalated["outcome"] == "handed_off"
    assert escalated["reason"] == "asked"
    assert escalated["requester"] == "alice"
    assert escalated["account"] == await alice_id(bot)
    assert escalated["correlation_id"] == conversation_events(bot)[0]["correlation_id"]


async def test_no_event_of_a_full_reset_holds_a_code_answer_or_password(
    make_bot: MakeBot,
) -> None:
    chosen = "Lantern-Orchard-Copper-42"
    async with make_bot(verification={"required": 2}, password={"entry": "chat"}) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        await chat.text("email")
        code = bot.outbox.last_code()
        await chat.text(code)
        question = await chat.text("questions")
        given = []
        for _ in range(3):
            answer = ANSWERS["alice"][question.split(": ", 1)[1]]
            given.append(answer)
            question = await chat.text(answer)
        assert "new password" in question.lower()
        assert "changed" in (await chat.text(chosen)).lower()
        assert await bot.password_is("alice", chosen)
        await bot.runtime.background.drain()
        trail = bot.audit_path.read_text()
    assert "password.reset" in trail
    for secret in (code, chosen, *given):
        assert secret not in trail, secret
    for event in map(json.loads, trail.splitlines()):
        for value in event.values():
            assert str(value) not in (code, chosen, *given)


async def test_the_password_page_is_audited_by_its_client_address_without_the_token(
    page_bot: HttpBot,
) -> None:
    bot = page_bot
    token = await verified(bot)
    code = bot.outbox.last_code()
    _, html, _ = await page(bot, token)
    status, _ = await post(bot, token, form_token(html), NEW)
    assert status == 200
    await bot.runtime.background.drain()
    path = bot.runtime.settings.local_path(bot.runtime.settings.audit.path)
    trail = path.read_text()
    events = [json.loads(line) for line in trail.splitlines()]
    [used] = [event for event in events if event["event"] == "password.link_used"]
    [reset] = [event for event in events if event["event"] == "password.reset"]
    assert used["requester"] == reset["requester"] == "127.0.0.1"
    [sent] = [event for event in events if event["event"] == "password.link_sent"]
    assert sent["correlation_id"] == reset["correlation_id"] == used["correlation_id"]
    assert sent["requester"] != "127.0.0.1"
    for secret in (token, code, NEW):
        assert secret not in trail


def page_requesters(bot: HttpBot) -> set[str]:
    path = bot.runtime.settings.local_path(bot.runtime.settings.audit.path)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    wanted = {"password.link_used", "password.reset"}
    return {event["requester"] for event in events if event["event"] in wanted}


async def post_forwarded(bot: HttpBot, token: str, csrf: str, forwarded_for: str) -> int:
    form = {"password": NEW, "confirm": NEW, "csrf": csrf}
    headers = {"X-Forwarded-For": forwarded_for}
    async with bot.session.post(
        f"{bot.url}/password/{token}", data=form, headers=headers
    ) as response:
        return response.status


async def test_behind_the_trusted_proxy_the_page_names_the_address_it_forwarded(
    make_http_bot: MakeHttpBot,
) -> None:
    webchat = {"trusted_proxy_header": "X-Forwarded-For", "trusted_proxies": ["127.0.0.1/32"]}
    async with make_http_bot(password={"entry": "link"}, webchat=webchat) as bot:
        token = await verified(bot)
        _, html, _ = await page(bot, token)
        assert await post_forwarded(bot, token, form_token(html), "203.0.113.9") == 200
        await bot.runtime.background.drain()
        assert page_requesters(bot) == {"203.0.113.9"}


async def test_a_forwarded_address_from_an_untrusted_client_is_not_believed(
    page_bot: HttpBot,
) -> None:
    token = await verified(page_bot)
    _, html, _ = await page(page_bot, token)
    assert await post_forwarded(page_bot, token, form_token(html), "203.0.113.9") == 200
    await page_bot.runtime.background.drain()
    assert page_requesters(page_bot) == {"127.0.0.1"}
