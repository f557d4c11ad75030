"""The one-time password page over HTTP, on the real app with a connector stand-in for the
chat: a reset up to the page's link, and the page's GET and POST with the security headers
checked on every answer. A pytest plugin (tests/conftest.py), so every module gets the
`page_bot` fixture."""

import json
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientResponse

from bot.password_page import SECURITY_HEADERS
from tests.support.http_fixtures import HttpBot, MakeHttpBot

NEW = "copper lantern orchard 42"
PUBLIC = "http://127.0.0.1:3978"
LINK = re.compile(r"(https?://\S+)/password/([A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(name="page_bot")
async def page_bot_fixture(make_http_bot: MakeHttpBot) -> AsyncIterator[HttpBot]:
    async with make_http_bot(password={"entry": "link"}) as bot:
        yield bot


async def verified(bot: HttpBot, conversation: str = "conv-1") -> str:
    """Alice resets by email code; the token of the link the chat sent her."""
    assert "Hi Alice Wilber" in await bot.say("reset", conversation=conversation)
    assert "emailed" in await bot.say("email", conversation=conversation)
    reply = await bot.say(bot.outbox.last_code(), conversation=conversation)
    found = LINK.search(reply)
    assert found, reply
    assert found.group(1) == PUBLIC
    assert "don't share it" in reply
    return found.group(2)


async def page(bot: HttpBot, token: str) -> tuple[int, str, str | None]:
    """GET the page: status, HTML and the form token (None when no form is shown)."""
    async with bot.session.get(f"{bot.url}/password/{token}") as response:
        assert_headers(response)
        html = await response.text()
    found = CSRF.search(html)
    return response.status, html, found.group(1) if found else None


async def post(
    bot: HttpBot, token: str, csrf: str | None, password: str, confirm: str | None = None
) -> tuple[int, str]:
    """POST the form (`csrf` None leaves the form token out): status and HTML."""
    form = {"password": password, "confirm": password if confirm is None else confirm}
    if csrf is not None:
        form["csrf"] = csrf
    async with bot.session.post(f"{bot.url}/password/{token}", data=form) as response:
        assert_headers(response)
        return response.status, await response.text()


def assert_headers(response: ClientResponse) -> None:
    """Every answer of the page carries the security headers (caching rules on HTML only)."""
    for name, value in SECURITY_HEADERS.items():
        if name != "Cache-Control" or response.content_type == "text/html":
            assert response.headers.get(name) == value, (response.url, name)


def form_token(html: str) -> str:
    """The form token of a page that must show the form."""
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def reset_events(bot: HttpBot) -> list[dict[str, object]]:
    """The audit trail's password resets: what a refused form must not add to."""
    path = bot.runtime.settings.local_path(bot.runtime.settings.audit.path)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    return [event for event in events if event["event"] == "password.reset"]
