"""Web chat session fixation.

The attack: the server took any well-formed conversation cookie, issued or not. An attacker
who planted a cookie of their own in a victim's browser held the same conversation as the
victim; with `password.entry: chat`, once the victim passed the check, the attacker typed
the new password. What holds: only ids the server issued are accepted (any other gets a
fresh id and a new conversation), and the id is replaced in the answer that carries the
first passed verification, so one known before (planted or read) speaks for nothing after.
On every store backend.
"""

import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from adapters.directory.embedded import EmbeddedDirectory
from bot.webchat.channel import COOKIE_NAME, COOKIE_PATH
from state import FrozenClock
from tests.support.webchat import Browser, Served, serving_webchat

BACKENDS = ["memory", "sqlite", "redis"]
ASK_ACCOUNT = "Which account is it?"
NEW_PASSWORD = "new password"
ATTACKER_PASSWORD = "attacker's own choice of passphrase 7"
VICTIM_PASSWORD = "amber kettle over the quiet harbour"

MakeServed = Callable[[str], AbstractAsyncContextManager[Served]]


@pytest.fixture(name="served_on")
def served_on_fixture(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> MakeServed:
    """`served_on(backend)`: the web chat with passwords typed into the chat, on that store."""

    def make(backend: str) -> AbstractAsyncContextManager[Served]:
        environ = {}
        if backend == "redis":
            environ["SSPR_REDIS_URL"] = request.getfixturevalue("redis_url")
        config: dict[str, Any] = {"state": {"backend": backend}, "password": {"entry": "chat"}}
        return serving_webchat(tmp_path / "data", clock, {}, environ, **config)

    return make


def plant(browser: Browser, cookie: str) -> None:
    """Put `cookie` into the browser's jar as the server's own would be (same name, path)."""
    morsel = SimpleCookie(f"{COOKIE_NAME}={cookie}; Path={COOKIE_PATH}")
    browser.session.cookie_jar.update_cookies(morsel, URL(browser.url))


async def password_is(served: Served, name: str, password: str) -> bool:
    directory = served.runtime.directory
    assert isinstance(directory, EmbeddedDirectory)
    return await directory.check_password(name, password)


async def verify_from_menu(served: Served, browser: Browser) -> str:
    """Pass the check as bob, in a browser that has already said `reset`; the answer to
    the code."""
    for line in ("bob", "other", "other"):
        await browser.ok(line)
    assert "by email" in await browser.ok("other")
    await served.runtime.background.drain()
    return await browser.ok(served.outbox.last_code())


@pytest.fixture(name="planted")
def planted_fixture() -> str:
    """A cookie the attacker made up, shaped exactly like the server's."""
    return secrets.token_urlsafe(32)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_planted_cookie_does_not_share_the_victims_conversation(
    served_on: MakeServed, backend: str, planted: str
) -> None:
    async with served_on(backend) as served:
        victim, attacker = await served.browser(), await served.browser()
        plant(victim, planted)
        plant(attacker, planted)

        assert ASK_ACCOUNT in await victim.ok("reset")
        assert NEW_PASSWORD in await verify_from_menu(served, victim)
        typed = await attacker.say(ATTACKER_PASSWORD)  # still holding the planted cookie

        assert typed.status == 200
        assert not await password_is(served, "bob", ATTACKER_PASSWORD)
        assert ASK_ACCOUNT in typed.text  # a conversation of the attacker's own
        assert victim.cookie not in {None, planted}  # the victim got a server-issued id
        assert attacker.cookie not in {None, planted, victim.cookie}
        assert "changed" in await victim.ok(VICTIM_PASSWORD)
        assert await password_is(served, "bob", VICTIM_PASSWORD)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_id_changes_when_the_first_check_passes(
    served_on: MakeServed, backend: str
) -> None:
    async with served_on(backend) as served:
        victim = await served.browser()
        await victim.ok("reset")
        before = victim.cookie
        assert before is not None
        thief = await served.browser(address="127.0.0.2")
        plant(thief, before)  # read from the victim's browser before the check
        held = await thief.say("help")
        assert held.status == 200
        assert "Set-Cookie" not in held.headers  # an issued id: accepted as it is

        assert NEW_PASSWORD in await verify_from_menu(served, victim)

        after = victim.cookie
        assert after not in {None, before}
        typed = await thief.say(ATTACKER_PASSWORD)
        assert typed.status == 200
        assert ASK_ACCOUNT in typed.text  # the old id speaks for nothing any more
        assert thief.cookie not in {before, after}
        assert not await password_is(served, "bob", ATTACKER_PASSWORD)
        assert "changed" in await victim.ok(VICTIM_PASSWORD)  # the new id carries on
        assert victim.cookie == after
        assert await password_is(served, "bob", VICTIM_PASSWORD)


async def test_an_unknown_cookie_is_replaced_by_an_issued_one(
    served_on: MakeServed, planted: str
) -> None:
    async with served_on("memory") as served:
        browser = await served.browser()
        plant(browser, planted)
        answer = await browser.say("help")
        assert answer.status == 200
        assert f"{COOKIE_NAME}=" in answer.headers["Set-Cookie"]
        issued = browser.cookie
        assert issued not in {None, planted}
        assert "Set-Cookie" not in (await browser.say("reset")).headers  # now it is known
        assert browser.cookie == issued
