"""The one-time password page over HTTP: the real app on a free port, a connector stand-in
for the chat, and the frozen clock (DESIGN.md invariants 5 and 6)."""

import asyncio
import hashlib
import re

import pytest

from bot.conversations import read_conversation, record_key
from tests.support.directory import embedded_directory
from tests.support.harness import PASSWORDS
from tests.support.http_fixtures import HttpBot, MakeHttpBot
from tests.support.password_page import (
    LINK,
    NEW,
    assert_headers,
    form_token,
    page,
    post,
    reset_events,
    verified,
)


def notices(bot: HttpBot) -> list[str]:
    """What the bot told the chat on its own (the connector received it outside any turn)."""
    return [reply.text for reply in bot.connector.received if reply.text.startswith("Done:")]


async def test_a_whole_reset_ends_on_the_page(page_bot: HttpBot) -> None:
    bot = page_bot
    token = await verified(bot)
    assert "open the link" in await bot.say("what now?")

    status, html, csrf = await page(bot, token)
    assert status == 200
    assert '<html lang="en-US">' in html
    assert "alice" in html
    assert 'aria-live="polite"' in html
    assert 'autocomplete="new-password"' in html
    assert "<script src=" in html
    assert "12 to 256 characters" in html
    assert csrf is not None

    status, html = await post(bot, token, csrf, NEW)
    assert status == 200, html
    assert "Password changed" in html
    assert NEW not in html
    await bot.runtime.background.drain()
    assert await embedded_directory(bot.runtime).check_password("alice", NEW)
    assert not await embedded_directory(bot.runtime).check_password("alice", PASSWORDS["alice"])
    [event] = reset_events(bot)
    assert event["must_change"] is False
    assert notices(bot) == [
        "Done: your new password is set (on the password page), and you've been signed out "
        "of your other sessions."
    ]
    record = await read_conversation(bot.runtime.store, "emulator:conv-1:alice")
    assert record.session is not None
    assert record.session["state"] == "done"
    notified = [message for message in bot.outbox.messages() if "was reset" in message["subject"]]
    assert len(notified) == 1


async def test_the_page_and_its_files_carry_the_security_headers(page_bot: HttpBot) -> None:
    token = await verified(page_bot)
    status, html, _ = await page(page_bot, token)
    assert status == 200
    for path in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        async with page_bot.session.get(f"{page_bot.url}{path}") as response:
            assert response.status == 200
            assert_headers(response)
            body = await response.text()
        assert "<script" not in body
    assert "<style" not in html
    assert " style=" not in html
    assert " on" not in html.split("<body")[1]


async def test_a_weak_password_is_refused_with_the_reason_and_the_link_still_works(
    page_bot: HttpBot,
) -> None:
    token = await verified(page_bot)
    _, _, csrf = await page(page_bot, token)
    status, html = await post(page_bot, token, csrf, "short1")
    assert status == 400
    assert "too short" in html
    assert "short1" not in html
    status, html = await post(page_bot, token, form_token(html), "alice wilber rocks 1")
    assert status == 400
    assert "your name or username" in html
    status, html = await post(page_bot, token, form_token(html), NEW, "something else")
    assert status == 400
    assert "not the same" in html
    assert await embedded_directory(page_bot.runtime).check_password("alice", PASSWORDS["alice"])

    status, html = await post(page_bot, token, form_token(html), NEW)
    assert status == 200, html
    assert await embedded_directory(page_bot.runtime).check_password("alice", NEW)


async def test_a_used_link_is_refused(page_bot: HttpBot) -> None:
    token = await verified(page_bot)
    _, _, csrf = await page(page_bot, token)
    assert (await post(page_bot, token, csrf, NEW))[0] == 200
    status, html, form = await page(page_bot, token)
    assert status == 410
    assert form is None
    assert "can&#x27;t be used any more" in html
    status, _ = await post(page_bot, token, csrf, "another good phrase 7")
    assert status == 410
    assert await embedded_directory(page_bot.runtime).check_password("alice", NEW)


async def test_an_expired_link_is_refused(page_bot: HttpBot) -> None:
    token = await verified(page_bot)
    _, _, csrf = await page(page_bot, token)
    page_bot.clock.advance(601)
    status, _, form = await page(page_bot, token)
    assert status == 410
    assert form is None
    assert (await post(page_bot, token, csrf, NEW))[0] == 410
    assert await embedded_directory(page_bot.runtime).check_password("alice", PASSWORDS["alice"])
    assert "took too long" in await page_bot.say("hello?")


async def test_a_link_of_a_cancelled_or_replaced_session_is_refused(page_bot: HttpBot) -> None:
    token = await verified(page_bot)
    _, _, csrf = await page(page_bot, token)
    assert "Cancelled" in await page_bot.say("cancel")
    assert (await page(page_bot, token))[0] == 410
    assert (await post(page_bot, token, csrf, NEW))[0] == 410

    second = await verified(page_bot)
    assert second != token
    assert (await page(page_bot, token))[0] == 410
    assert (await page(page_bot, second))[0] == 200
    assert await embedded_directory(page_bot.runtime).check_password("alice", PASSWORDS["alice"])


@pytest.mark.parametrize("token", ["x" * 43, "not.a%20token", "a" * 500])
async def test_unknown_tokens_get_the_same_refusal(page_bot: HttpBot, token: str) -> None:
    status, html, form = await page(page_bot, token)
    assert status == 410
    assert form is None
    assert "be used any more" in html


async def test_an_unknown_link_is_refused_in_the_browsers_language(page_bot: HttpBot) -> None:
    catalog = page_bot.runtime.catalog
    spanish = {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}
    async with page_bot.session.get(f"{page_bot.url}/password/{'x' * 43}", headers=spanish) as got:
        html = await got.text()
    assert got.status == 410
    assert catalog.text("page_refused_title", "es") in html
    assert catalog.text("password_link_used", "es") in html
    assert 'lang="es"' in html


async def test_forged_host_headers_do_not_change_the_link(make_http_bot: MakeHttpBot) -> None:
    public = "https://sspr.contoso.test/reset"
    config = {"password": {"entry": "link"}, "server": {"public_url": public + "/"}}
    async with make_http_bot(**config) as bot:
        forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
        forged |= {"X-Forwarded-Proto": "http", "Forwarded": "host=evil.example"}
        replies = []
        for text in ("reset", "email"):
            replies.append((await bot.post(bot.activity(text), headers=forged)).text)
        answer = await bot.post(bot.activity(bot.outbox.last_code()), headers=forged)
        found = LINK.search(answer.text)
        assert found, answer.text
        assert found.group(1) == public
        assert "evil" not in answer.text
        status, _, csrf = await page(bot, found.group(2))
        assert status == 200
        assert csrf


@pytest.mark.parametrize("csrf", [None, "", "not-the-token"])
async def test_a_post_without_the_form_token_is_refused(
    page_bot: HttpBot, csrf: str | None
) -> None:
    token = await verified(page_bot)
    _, _, real = await page(page_bot, token)
    status, html = await post(page_bot, token, csrf, NEW)
    assert status == 403
    assert "expired" in html
    assert await embedded_directory(page_bot.runtime).check_password("alice", PASSWORDS["alice"])
    assert reset_events(page_bot) == []
    assert (await post(page_bot, token, real, NEW))[0] == 200


async def test_a_form_token_of_another_link_is_refused(page_bot: HttpBot) -> None:
    mine = await verified(page_bot, "conv-a")
    other = await verified(page_bot, "conv-b")
    _, _, other_csrf = await page(page_bot, other)
    await page(page_bot, mine)
    assert (await post(page_bot, mine, other_csrf, NEW))[0] == 403


async def test_two_posts_at_once_set_the_password_once(page_bot: HttpBot) -> None:
    token = await verified(page_bot)
    _, _, csrf = await page(page_bot, token)
    results = await asyncio.gather(
        post(page_bot, token, csrf, NEW), post(page_bot, token, csrf, "a different phrase 9")
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 410], results
    await page_bot.runtime.background.drain()
    assert len(reset_events(page_bot)) == 1
    assert len(notices(page_bot)) == 1
    winner = NEW if results[0][0] == 200 else "a different phrase 9"
    assert await embedded_directory(page_bot.runtime).check_password("alice", winner)


async def test_only_a_hash_of_the_token_is_stored(page_bot: HttpBot) -> None:
    token = await verified(page_bot)
    store = page_bot.runtime.store
    assert await store.get(f"pwlink:{token}") is None
    record = await store.get(f"pwlink:{hashlib.sha256(token.encode()).hexdigest()}")
    assert record is not None
    assert token not in str(record.value)
    session = await store.get(record_key("emulator:conv-1:alice"))
    assert session is not None
    assert token not in str(session.value)


async def test_the_form_has_a_show_password_button(page_bot: HttpBot) -> None:
    token = await verified(page_bot)
    _, html, _ = await page(page_bot, token)
    assert (
        '<button type="button" id="show-password" class="toggle" aria-pressed="false" '
        'aria-controls="new-password confirm-password" hidden>Show password</button>'
    ) in html  # shown by page.js, which makes it work


async def test_the_result_says_what_to_do_next_and_the_way_back(page_bot: HttpBot) -> None:
    token = await verified(page_bot)
    _, _, csrf = await page(page_bot, token)
    status, html = await post(page_bot, token, csrf, NEW)
    assert status == 200
    assert "<h1>Password changed</h1>" in html
    assert '<h2 id="next-heading">What next</h2>' in html
    assert "Sign in again with your new password on each device you use" in html
    assert "<li>You can close this tab now.</li>" in html
    # The reset began in the Emulator: back there, by name, not to the web chat.
    assert '<p class="back">Go back to the Bot Framework Emulator to continue.</p>' in html
    assert 'href="/"' not in html


async def test_a_refused_link_shows_the_way_back_to_the_chat(page_bot: HttpBot) -> None:
    status, html, _ = await page(page_bot, "x" * 43)
    assert status == 410
    assert "<h1>Link not valid</h1>" in html
    assert '<p class="back"><a href="/">Back to the chat</a></p>' in html  # the web chat


async def test_without_the_web_chat_a_refused_link_points_to_teams_or_slack(
    make_http_bot: MakeHttpBot,
) -> None:
    async with make_http_bot(password={"entry": "link"}, webchat={"enabled": False}) as bot:
        status, html, _ = await page(bot, "x" * 43)
    assert status == 410
    assert 'href="/"' not in html
    assert "Go back to Microsoft Teams or Slack and say &#x27;reset&#x27;" in html
