"""The web chat over real HTTP, served like production: the page, the JSON API a browser
talks to (one cookie jar per browser), the rate limit, the CAPTCHA against a siteverify
stand-in, and the same answers whether or not the typed account exists."""

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, get_args

import pytest

from adapters.directory.embedded import EmbeddedDirectory
from bot.botframework.credentials import from_environment
from bot.conversations import record_key
from bot.runtime import http_application, start_runtime
from bot.webchat import CAPTCHA_SECRET_VARIABLE
from bot.webchat.channel import COOKIE_NAME
from bot.webchat.conversations import (
    BUSY_SECONDS,
    ConversationBusy,
    ConversationIds,
    conversation_of,
)
from dialogs.settings import PasswordSettings
from state import FrozenClock, MemoryStore
from tests.stand_ins.captcha import SITE_KEY, captcha_stand_in
from tests.support.harness import Outbox, settings_for
from tests.support.ports import free_port
from tests.support.serving import serving
from tests.support.webchat import API, OUTCOME, Answer, Browser, Served, serving_webchat

NEW_PASSWORD = "copper lantern orchard 42"
OUTCOME_REQUESTS = 40  # asking for the outcome: per client address and minute


@asynccontextmanager
async def serving_everything(data_dir: Path, clock: FrozenClock) -> AsyncIterator[Served]:
    """The whole bot as `sspr-bot serve` builds it (the web chat and the password page on one
    origin, the public URL its own), in link mode."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_for(data_dir, server={"public_url": url}, password={"entry": "link"})
    runtime = await start_runtime(settings, secrets={}, clock=clock, console=None)
    async with AsyncExitStack() as exits:
        exits.push_async_callback(runtime.close)
        app = http_application(runtime, from_environment({}))
        await exits.enter_async_context(serving(app, port=port))
        yield Served(url, runtime, clock, Outbox(data_dir / "outbox.jsonl"), exits)


@pytest.fixture(name="whole_bot")
async def whole_bot_fixture(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Served]:
    async with serving_everything(tmp_path / "data", clock) as served:
        yield served


MakeServed = Callable[..., AbstractAsyncContextManager[Served]]


@pytest.fixture(name="make_served")
def make_served_fixture(tmp_path: Path, clock: FrozenClock) -> MakeServed:
    """`async with make_served(webchat={...}, environ={...}, verification={...}) as served:`"""

    def make(
        webchat: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        **config: Any,
    ) -> AbstractAsyncContextManager[Served]:
        return serving_webchat(tmp_path / "data", clock, webchat or {}, environ or {}, **config)

    return make


@pytest.fixture(name="served")
async def served_fixture(make_served: MakeServed) -> AsyncIterator[Served]:
    async with make_served() as served:
        yield served


ORIGIN_FREE = {"Content-Type": "application/json"}
LOCKED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


# The password-entry modes this build has that end a chat reset without typing a password.
ENDINGS = [
    mode for mode in get_args(PasswordSettings.model_fields["entry"].annotation) if mode != "chat"
]


@pytest.mark.parametrize("mode", ENDINGS)
async def test_a_complete_reset_in_the_web_chat(make_served: MakeServed, mode: str) -> None:
    async with make_served(password={"entry": mode}) as served:
        await a_complete_reset(served)


async def a_complete_reset(served: Served) -> None:
    browser = await served.browser()
    first = await browser.say("reset")
    assert first.status == 200
    assert "Which account is it?" in first.text
    assert browser.cookie is not None
    for line in ("bob", "other", "other"):
        await browser.ok(line)
    menu = await browser.say("other")
    assert "by email" in menu.text
    await served.runtime.background.drain()
    assert served.outbox.messages()[-1]["to"] == "bob@contoso.com"

    ending = await browser.say(served.outbox.last_code())  # the reply that ends verification

    assert ending.status == 200
    [reply] = ending.json["replies"]
    mode = served.runtime.settings.password.entry
    assert reply["sensitive"] is (mode != "link")  # a password to copy; a link is a button
    if mode == "link":  # the one-time password page link, as a button the page shows
        link = reply["link"]
        assert link["label"] == "Choose my new password"
        assert link["url"].startswith(served.runtime.settings.server.password_page)
        assert link["url"] in reply["text"]  # and in the text, for copying by hand
        assert ending.json["awaiting"] == "page"
    else:
        assert mode == "temporary", mode
        assert "temporary password" in reply["text"]
        password = reply["text"].split("\n\n")[1]
        directory = served.runtime.directory
        assert isinstance(directory, EmbeddedDirectory)
        assert await directory.check_password("bob", password)
        assert "link" not in reply


async def test_every_typed_name_gets_byte_identical_answers(make_served: MakeServed) -> None:
    script = ["reset", "{name}", "123456", "other", "654321", "other", "resend", "other"]
    transcripts = []
    async with make_served(webchat={"rate_limit": {"requests": 100}}) as served:
        for name in ("bob", "ghost", "dave", "olivia"):
            browser = await served.browser()
            answers = [await browser.say(line.format(name=name)) for line in script]
            transcripts.append(
                [(a.status, a.headers.get("Content-Length"), a.body) for a in answers]
            )
    assert all(status == 200 for status, _, _ in transcripts[0])
    for other in transcripts[1:]:
        assert other == transcripts[0]


async def test_the_page_is_locked_down(served: Served) -> None:
    page = await served.get("/", headers={"Accept-Language": "fr-CA, de;q=0.5"})

    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Content-Security-Policy"] == LOCKED_CSP
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    html = page.body.decode()
    assert '<html lang="fr">' in html
    assert 'role="log" aria-live="polite"' in html
    assert '<label for="message">Votre message</label>' in html
    assert "<script>" not in html  # nothing inline: the CSP allows none
    assert "style=" not in html
    assert "Set-Cookie" not in page.headers
    script = await served.get("/webchat/static/chat.js")
    assert script.status == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert b"innerHTML" not in script.body
    style = await served.get("/webchat/static/chat.css")
    assert b"prefers-color-scheme: dark" in style.body


async def test_the_dialog_answers_in_the_browser_language(make_served: MakeServed) -> None:
    greeting = "Bonjour. Quel compte ?"
    async with make_served(messages={"fr": {"ask_account": greeting}}) as served:
        browser = await served.browser()
        french = await browser.say("reset", headers={"Accept-Language": "fr-FR,en;q=0.8"})
        assert french.text == greeting
        english = await (await served.browser()).say("reset", headers={"Accept-Language": "sv"})
        assert "Which account is it?" in english.text


async def test_the_conversation_cookie_is_strict(served: Served) -> None:
    browser = await served.browser()
    answer = await browser.say("reset")
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/webchat" in cookie
    assert "Secure" not in cookie  # http on 127.0.0.1; secure_cookies adds it for https
    assert "Set-Cookie" not in (await browser.say("bob")).headers
    for header in ("Referrer-Policy", "Cache-Control", "X-Content-Type-Options"):
        assert header in answer.headers


async def test_cross_site_requests_are_refused(served: Served) -> None:
    browser = await served.browser()
    forged = [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": served.url, "Content-Type": "text/plain"},
        {"Origin": served.url, "Content-Type": "application/x-www-form-urlencoded"},
        {"Origin": served.url, "Sec-Fetch-Site": "cross-site"},
        {"Origin": served.url, "Sec-Fetch-Site": "same-site"},
    ]
    for headers in forged:
        answer = await browser.post({"text": "reset"}, headers=headers)
        assert answer.status == 403, headers
        assert answer.json["error"] == "forbidden"
    async with browser.session.post(f"{served.url}{API}", data=b'{"text":"reset"}') as response:
        assert response.status == 403  # no Origin and no JSON content type: a plain form post
    assert browser.cookie is None  # no conversation was started
    same = await browser.say("reset", headers={"Sec-Fetch-Site": "same-origin"})
    assert same.status == 200


async def test_a_huge_or_malformed_body_is_refused(served: Served) -> None:
    browser = await served.browser()
    huge = await browser.post(json.dumps({"text": "x" * 1_000_000}).encode())
    assert huge.status == 413
    assert huge.json["error"] == "too_large"
    for body in (
        b"not json",
        b"[]",
        b'{"text": 5}',
        b'{"text": "a", "choice": "b"}',
        b"{}",
        b'{"text": "a", "more": {"nested": "b"}}',  # the page sends one flat object
    ):
        answer = await browser.post(body)
        assert answer.status == 400, body
        assert answer.json["error"] == "malformed"
    long = await browser.say("x" * 1001)
    assert long.status == 200
    assert "too long" in long.text
    assert browser.cookie is not None


async def test_a_button_value_counts_as_typed(served: Served) -> None:
    browser = await served.browser()
    await browser.ok("reset")
    assert "authenticator" in (await browser.post({"choice": "bob"})).text


async def test_typed_markup_never_comes_back_as_markup(served: Served) -> None:
    browser = await served.browser()
    hostile = '<img src=x onerror="alert(1)">&<script>alert(2)</script>'
    for line in (hostile, "reset", hostile, "x" * 1001 + hostile):
        answer = await browser.say(line)
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
        for markup in (b"<", b">", b"&"):
            assert markup not in answer.body
        assert isinstance(answer.json["replies"], list)
    page = await served.get("/")
    assert b"onerror" not in page.body


async def test_the_rate_limit_holds_per_client_address(make_served: MakeServed) -> None:
    async with make_served(webchat={"rate_limit": {"requests": 3, "window": 60}}) as served:
        browser = await served.browser()
        for line in ("reset", "bob", "other"):
            await browser.ok(line)
        key = record_key(await conversation_of(served.runtime.store, browser.cookie or "") or "")
        before = await served.runtime.store.get(key)

        refused = await browser.say("cancel")

        assert refused.status == 429
        assert refused.headers["Retry-After"] == "60"
        assert refused.json == {
            "error": "rate_limited",
            "message": "You've sent a lot of messages in a short time. Please wait a minute "
            "and try again.",
        }
        assert await served.runtime.store.get(key) == before  # nothing changed
        spoofed = await browser.say("cancel", headers={"X-Forwarded-For": "203.0.113.9"})
        assert spoofed.status == 429  # the header is not trusted unless configured
        neighbour = await served.browser(address="127.0.0.2")
        assert (await neighbour.say("reset")).status == 200
        served.clock.advance(61)
        assert "phone call" in await browser.ok("other")  # the conversation went on


async def test_a_trusted_proxy_header_names_the_client(make_served: MakeServed) -> None:
    webchat = {"rate_limit": {"requests": 2}, "trusted_proxy_header": "X-Forwarded-For"}
    async with make_served(webchat=webchat) as served:
        browser = await served.browser()  # behind a proxy on 127.0.0.1
        client = {"X-Forwarded-For": "203.0.113.7"}
        assert (await browser.say("reset", headers=client)).status == 200
        # What a client writes itself sits left of what the proxy appended: never used.
        spoofing = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
        assert (await browser.say("bob", headers=spoofing)).status == 200
        assert (await browser.say("other", headers=client)).status == 429
        other_client = {"X-Forwarded-For": "203.0.113.8"}
        assert (await browser.say("other", headers=other_client)).status == 200
        # IPv6 clients count per /64.
        for host in ("1", "2"):
            v6 = {"X-Forwarded-For": f"2001:db8:1:2::{host}"}
            assert (await browser.say("help", headers=v6)).status == 200
        assert (
            await browser.say("help", headers={"X-Forwarded-For": "2001:db8:1:2::3"})
        ).status == 429


async def test_a_configured_captcha_is_checked_once_per_conversation(
    make_served: MakeServed,
) -> None:
    async with captcha_stand_in() as provider:
        webchat = {
            "captcha": {"provider": "turnstile", "site_key": SITE_KEY, "verify_url": provider.url}
        }
        environ = {CAPTCHA_SECRET_VARIABLE: provider.secret}
        async with make_served(webchat=webchat, environ=environ) as served:
            page = await served.get("/")
            csp = page.headers["Content-Security-Policy"]
            assert "script-src 'self' https://challenges.cloudflare.com;" in csp
            assert "frame-src https://challenges.cloudflare.com;" in csp
            assert f'data-sitekey="{SITE_KEY}"' in page.body.decode()

            browser = await served.browser()
            missing = await browser.say("reset")
            assert missing.status == 403
            assert missing.json["error"] == "captcha_required"
            assert provider.received == []
            bad = await browser.say("reset", captcha_token="forged")
            assert bad.status == 403
            assert bad.json["error"] == "captcha_failed"
            assert browser.cookie is None

            good = await browser.say("reset", captcha_token=provider.solve("solved-1"))
            assert good.status == 200
            assert "Which account is it?" in good.text
            assert provider.received[-1] == {
                "secret": provider.secret,
                "response": "solved-1",
                "remoteip": "127.0.0.1",
            }
            assert "authenticator" in await browser.ok("bob")  # not asked again
            assert len(provider.received) == 2

            replayed = await (await served.browser()).say("reset", captcha_token="solved-1")
            assert replayed.status == 403  # a token is good once, at the provider


async def test_a_captcha_needs_its_secret(make_served: MakeServed) -> None:
    webchat = {"captcha": {"provider": "hcaptcha", "site_key": SITE_KEY}}
    with pytest.raises(ValueError, match=CAPTCHA_SECRET_VARIABLE):
        async with make_served(webchat=webchat):
            pass


async def test_one_message_of_a_conversation_is_answered_at_a_time(clock: FrozenClock) -> None:
    store = MemoryStore(clock)
    conversations = ConversationIds(store, clock)
    first = await conversations.claim(None)
    await conversations.finish(first, answered=True)
    cookie = first.new_cookie
    assert cookie is not None

    held = await conversations.claim(cookie)

    assert held.conversation == first.conversation
    with pytest.raises(ConversationBusy):
        await conversations.claim(cookie)
    await conversations.finish(held, answered=True)
    left = await conversations.claim(cookie)  # and never finished, as if the instance died
    with pytest.raises(ConversationBusy):
        await conversations.claim(cookie)
    clock.advance(BUSY_SECONDS)
    assert (await conversations.claim(cookie)).conversation == left.conversation


async def test_an_id_issued_for_a_refused_message_is_never_kept(clock: FrozenClock) -> None:
    store = MemoryStore(clock)
    conversations = ConversationIds(store, clock)
    refused = await conversations.claim(None)
    await conversations.finish(refused, answered=False)
    assert refused.new_cookie is None
    assert await conversation_of(store, refused.cookie) is None


async def verified_in_the_web_chat(served: Served, browser: Browser) -> Answer:
    """Bob through the web chat up to the password page's link: the answer carrying it."""
    await browser.ok("reset")
    await browser.ok("bob")
    await browser.ok("other")
    await served.runtime.background.drain()
    answer = await browser.say(served.outbox.last_code())
    assert answer.status == 200
    return answer


async def test_each_answer_says_what_the_reset_awaits(make_served: MakeServed) -> None:
    async with make_served(password={"entry": "link"}) as served:
        browser = await served.browser()
        assert (await browser.say("reset")).json["awaiting"] == ""  # a name, typed
        app = await browser.say("bob")
        assert "authenticator app" in app.text
        assert app.json["awaiting"] == "app_code"  # digits, but nothing to send again
        sent = await browser.say("other")
        assert "text message" in sent.text
        assert sent.json["awaiting"] == "code"  # digits, and `resend` works
        resent = await browser.say("resend")
        assert resent.json["awaiting"] == "code"
        await served.runtime.background.drain()
        linked = await browser.say(served.outbox.last_code())
        assert linked.json["awaiting"] == "page"
        assert (await browser.say("cancel")).json["awaiting"] == ""


async def test_the_web_chat_learns_the_password_page_result(whole_bot: Served) -> None:
    served = whole_bot
    browser = await served.browser()
    assert (await browser.outcome()).json == {"waiting": False, "replies": []}  # no chat
    linked = await verified_in_the_web_chat(served, browser)
    waiting = await browser.outcome()
    assert waiting.status == 200
    assert waiting.json == {"waiting": True, "replies": []}
    assert waiting.headers["Cache-Control"] == "no-store"
    stranger = await served.browser()
    assert (await stranger.outcome()).json == {"waiting": False, "replies": []}

    page = await browser.set_password_on_the_page(
        linked.json["replies"][0]["link"]["url"], NEW_PASSWORD
    )
    assert "Password changed" in page

    done = await browser.outcome()
    assert done.json["waiting"] is False
    assert [reply["text"] for reply in done.json["replies"]] == [
        "Done: your new password is set (on the password page), and you've been signed "
        "out of your other sessions."
    ]
    directory = served.runtime.directory
    assert isinstance(directory, EmbeddedDirectory)
    assert await directory.check_password("bob", NEW_PASSWORD)
    assert "Which account" in await browser.ok("reset")  # a new reset: nothing to wait for
    assert (await browser.outcome()).json == {"waiting": False, "replies": []}


async def test_an_expired_link_ends_the_wait(make_served: MakeServed) -> None:
    async with make_served(password={"entry": "link"}) as served:
        browser = await served.browser()
        await verified_in_the_web_chat(served, browser)
        served.clock.advance(11 * 60)
        expired = await browser.outcome()
        assert expired.json["waiting"] is False
        assert "took too long" in expired.json["replies"][0]["text"]


async def test_asking_for_the_outcome_is_guarded_like_a_message(served: Served) -> None:
    browser = await served.browser()
    for headers in (
        {"Origin": "https://evil.example"},
        {"Content-Type": "text/plain"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        answer = await browser.outcome(headers=headers)
        assert answer.status == 403, headers
    for body in (b"", b"[]", b'{"text": "reset"}', b"{" * 100):
        answer = await browser.outcome(body)
        assert answer.status in (400, 413), body
    for _ in range(OUTCOME_REQUESTS - 4):  # the four bodies above counted
        assert (await browser.outcome()).status == 200
    limited = await browser.outcome()
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "60"
    assert (await browser.say("reset")).status == 200  # waiting never uses up typing


async def test_the_page_offers_a_start_button_and_quick_buttons(served: Served) -> None:
    html = (await served.get("/")).body.decode()
    assert 'id="start-button"' in html
    assert ">Reset my password</button>" in html
    assert 'data-value="reset"' in html
    assert 'id="quick"' in html
    assert 'data-text-resend="Send another code"' in html
    assert 'data-text-other="Try another way"' in html
    assert f'data-outcome="{OUTCOME}"' in html
