"""The web chat and the password page in real Chromium at phone size: a signed-out person
resets their password end to end with buttons, the chat learns the page's result, and every
way a link can go wrong is refused with the way back to the chat."""

import io
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import segno
from playwright.async_api import Browser, Page, Route, expect

from bot.botframework.credentials import from_environment
from bot.runtime import Runtime, http_application, start_runtime
from bot.webchat.channel import reply_json
from dialogs import Image, Reply
from state import FrozenClock
from tests.support.browser import PHONE, screenshot_path
from tests.support.directory import embedded_directory
from tests.support.harness import PASSWORDS, Outbox, settings_for
from tests.support.ports import free_port
from tests.support.serving import serving as serve_app

STRONG = "amber kettle over the quiet harbour"
QR_ALT = "QR code for your authenticator app"
REMOTE = "https://images.example/qr.png"


@dataclass
class Site:
    url: str
    runtime: Runtime
    outbox: Outbox
    clock: FrozenClock


@asynccontextmanager
async def serving(data_dir: Path, clock: FrozenClock) -> AsyncIterator[Site]:
    """The bot as `make run` serves it: web chat at /, link mode, the configured public URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_for(data_dir, server={"public_url": url}, password={"entry": "link"})
    runtime = await start_runtime(settings, secrets={}, clock=clock, console=None)
    try:
        async with serve_app(http_application(runtime, from_environment({})), port=port):
            yield Site(url, runtime, Outbox(data_dir / "outbox.jsonl"), clock)
    finally:
        await runtime.close()


@pytest.fixture
async def site(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Site]:
    async with serving(tmp_path / "data", clock) as running:
        yield running


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = await context.new_page()
    yield page
    await context.close()


async def say(page: Page, text: str, expected: str) -> None:
    """Type a message into the web chat and wait for the bot's answer to contain `expected`."""
    before = await page.locator("#transcript .message").count()
    await page.fill("#message", text)
    await page.press("#message", "Enter")
    answers = page.locator("#transcript .message").nth(before + 1)
    await expect(answers).to_contain_text(expected)


async def verified_link(site: Site, page: Page, *, name: str = "bob") -> str:
    """Go through the web chat as `name` up to the password link; return the link."""
    await page.goto(site.url + "/")
    await say(page, "reset", "Which account")
    await say(page, name, "authenticator app")
    await say(page, "other", "text message")
    await site.runtime.background.drain()
    await say(page, site.outbox.last_code(), "password")
    link = page.locator("#transcript a").last
    href = await link.get_attribute("href")
    assert href is not None
    assert href.startswith(site.url + "/password/")
    return href


async def test_a_signed_out_person_resets_their_password_end_to_end(
    site: Site, phone: Page
) -> None:
    link = await verified_link(site, phone)
    await phone.screenshot(path=screenshot_path("webchat-phone"), full_page=True)
    anchor = phone.locator("#transcript a").last
    assert "noopener" in (await anchor.get_attribute("rel") or "")
    await phone.goto(link)
    await expect(phone.locator("h1")).to_contain_text("Choose a new password")

    await phone.fill("#new-password", "Password1Password1")
    await phone.fill("#confirm-password", "Password1Password1")
    await phone.click("#password-form button[type=submit]")
    await expect(phone.locator("#form-error")).to_contain_text("too common")
    await phone.screenshot(path=screenshot_path("password-page-refused-phone"), full_page=True)

    await phone.fill("#new-password", STRONG)
    await phone.fill("#confirm-password", STRONG)
    await phone.click("#password-form button[type=submit]")
    await expect(phone.locator("h1")).to_contain_text("Password changed")
    await phone.screenshot(path=screenshot_path("password-page-done-phone"), full_page=True)

    directory = embedded_directory(site.runtime)
    assert await directory.check_password("bob", STRONG)
    assert not await directory.check_password("bob", PASSWORDS["bob"])


async def test_the_pages_in_dark_mode(site: Site, browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE, color_scheme="dark")
    page = await context.new_page()
    try:
        await verified_link(site, page)
        await page.screenshot(path=screenshot_path("webchat-phone-dark"), full_page=True)
        background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background != "rgb(255, 255, 255)"
    finally:
        await context.close()


async def test_a_used_link_is_refused(site: Site, phone: Page) -> None:
    link = await verified_link(site, phone)
    await phone.goto(link)
    await phone.fill("#new-password", STRONG)
    await phone.fill("#confirm-password", STRONG)
    await phone.click("#password-form button[type=submit]")
    await expect(phone.locator("h1")).to_contain_text("Password changed")
    await phone.goto(link)
    await expect(phone.locator("h1")).to_contain_text("Link not valid")
    assert await phone.locator("#password-form").count() == 0


async def test_an_expired_link_is_refused(site: Site, phone: Page) -> None:
    link = await verified_link(site, phone)
    site.clock.advance(11 * 60)
    await phone.goto(link)
    await expect(phone.locator("h1")).to_contain_text("Link not valid")


async def test_a_link_of_a_cancelled_session_is_refused(site: Site, phone: Page) -> None:
    link = await verified_link(site, phone)
    await say(phone, "cancel", "Cancelled")
    await phone.goto(link)
    await expect(phone.locator("h1")).to_contain_text("Link not valid")
    assert await embedded_directory(site.runtime).check_password("bob", PASSWORDS["bob"])


async def messages_shown(page: Page, number: int) -> None:
    """Wait until the transcript holds `number` messages (the user's and the bot's)."""
    await expect(page.locator("#transcript .message")).to_have_count(number)


async def test_buttons_lead_the_way_and_codes_get_a_numeric_keyboard(
    site: Site, phone: Page
) -> None:
    await phone.goto(site.url + "/")
    start = phone.locator("#start-button")
    await expect(start).to_be_visible()
    await expect(start).to_have_text("Reset my password")
    message = phone.locator("#message")
    await expect(message).to_have_attribute("inputmode", "text")
    await phone.screenshot(path=screenshot_path("webchat-start-phone"), full_page=True)

    await start.click()
    await expect(phone.locator("#transcript .message.bot").last).to_contain_text("Which account")
    await expect(start).to_be_hidden()
    quick = phone.locator("#quick")
    await expect(quick).to_be_hidden()

    await say(phone, "bob", "authenticator app")
    await expect(message).to_have_attribute("inputmode", "numeric")
    await expect(message).to_have_attribute("autocomplete", "one-time-code")
    await expect(quick.locator("button")).to_have_text(["Try another way"])  # nothing to resend

    await quick.get_by_role("button", name="Try another way").click()
    await expect(phone.locator("#transcript .message.bot").last).to_contain_text("text message")
    await expect(quick.locator("button")).to_have_text(["Send another code", "Try another way"])
    await expect(message).to_have_attribute("autocomplete", "one-time-code")
    await phone.screenshot(path=screenshot_path("webchat-code-phone"), full_page=True)

    before = await phone.locator("#transcript .message").count()
    await quick.get_by_role("button", name="Send another code").click()
    await messages_shown(phone, before + 2)
    await site.runtime.background.drain()
    assert len(site.outbox.messages()) == 2  # a second code went out

    await say(phone, site.outbox.last_code(), "password")
    await expect(quick).to_be_hidden()
    await expect(message).to_have_attribute("inputmode", "text")
    await expect(message).to_have_attribute("autocomplete", "off")


async def test_the_link_is_a_button_not_a_secret_to_copy(site: Site, phone: Page) -> None:
    link = await verified_link(site, phone)
    reply = phone.locator("#transcript .message.bot").last
    button = reply.locator("a.link-button")
    await expect(button).to_have_text("Choose my new password")
    await expect(button).to_have_attribute("href", link)
    await expect(button).to_have_attribute("target", "_blank")
    await expect(button).to_have_attribute("rel", "noopener noreferrer")
    await expect(reply).not_to_have_class(re.compile("sensitive"))
    await expect(phone.locator("#transcript")).not_to_contain_text("Copy this now")
    assert link in (await reply.locator(".text").inner_text())  # the plain link, as fallback
    await phone.screenshot(path=screenshot_path("webchat-link-button-phone"), full_page=True)


async def test_the_chat_shows_what_the_password_page_did(site: Site, phone: Page) -> None:
    await verified_link(site, phone)
    async with phone.context.expect_page() as opened:
        await phone.locator("a.link-button").click()
    tab = await opened.value
    await expect(tab.locator("h1")).to_contain_text("Choose a new password")

    toggle = tab.locator("#show-password")
    await expect(toggle).to_be_visible()
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    await tab.fill("#new-password", STRONG)
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await expect(tab.locator("#new-password")).to_have_attribute("type", "text")
    await expect(tab.locator("#confirm-password")).to_have_attribute("type", "text")
    await tab.screenshot(path=screenshot_path("password-page-shown-phone"), full_page=True)
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    await expect(tab.locator("#new-password")).to_have_attribute("type", "password")

    await tab.fill("#new-password", "Password1Password1")
    await tab.fill("#confirm-password", "Password1Password1")
    await tab.click("#password-form button[type=submit]")
    await expect(tab.locator("#form-error")).to_contain_text("too common")
    await tab.locator("#new-password").press_sequentially("x")  # typing again
    await expect(tab.locator("#form-error")).to_have_count(0)  # the stale refusal is gone
    described = await tab.locator("#new-password").get_attribute("aria-describedby")
    assert described == "rules"

    await tab.fill("#new-password", STRONG)
    await tab.fill("#confirm-password", STRONG)
    await tab.click("#password-form button[type=submit]")
    await expect(tab.locator("h1")).to_contain_text("Password changed")
    await expect(tab.locator(".next")).to_contain_text("Sign in again with your new password")
    await expect(tab.locator(".next")).to_contain_text("You can close this tab")
    back = tab.get_by_role("link", name="Back to the chat")
    await expect(back).to_have_attribute("href", "/")
    await tab.screenshot(path=screenshot_path("password-page-next-steps-phone"), full_page=True)

    await phone.bring_to_front()
    result = phone.locator("#transcript .message.bot").last
    await expect(result).to_contain_text("Done: your new password is set", timeout=15_000)
    await phone.screenshot(path=screenshot_path("webchat-result-phone"), full_page=True)
    assert await embedded_directory(site.runtime).check_password("bob", STRONG)


async def test_a_refused_link_leads_back_to_the_chat(site: Site, phone: Page) -> None:
    await phone.goto(site.url + "/password/" + "x" * 43)
    await expect(phone.locator("h1")).to_contain_text("Link not valid")
    await phone.screenshot(path=screenshot_path("password-page-not-valid-phone"), full_page=True)
    await phone.get_by_role("link", name="Back to the chat").click()
    await expect(phone.locator("#start-button")).to_be_visible()


async def test_a_reply_with_a_picture_shows_it_with_its_words(site: Site, phone: Page) -> None:
    """An authenticator app's QR code as the API answers it (`reply_json`) for the start
    button's message, taken the page's own way from answer to transcript. The enrolment
    that sends such replies runs on channels that know the user, so the answer is given
    here, in place of the served one; the page, its policy and its script are the real ones.
    A picture from anywhere but the answer itself is not shown."""
    buffer = io.BytesIO()
    segno.make("otpauth://totp/Contoso:bob?secret=JBSWY3DPEHPK3PXP").save(
        buffer, kind="png", scale=4
    )
    qr_code = Reply("Scan the QR code.", image=Image(buffer.getvalue(), QR_ALT))
    elsewhere = {**reply_json(Reply("Elsewhere.")), "image": {"src": REMOTE, "alt": "remote"}}
    body = json.dumps({"replies": [reply_json(qr_code), elsewhere], "awaiting": ""})

    async def answer(route: Route) -> None:
        await route.fulfill(status=200, content_type="application/json", body=body)

    await phone.route(f"{site.url}/webchat/api/messages", answer)
    await phone.goto(site.url + "/")
    await phone.locator("#start-button").click()
    picture = phone.locator("#transcript .message.bot img")
    await expect(picture).to_have_count(1)
    await expect(picture).to_have_attribute("alt", QR_ALT)
    await expect(picture).to_be_visible()
    assert await picture.evaluate("image => image.decode().then(() => image.naturalWidth)") > 0
    await expect(phone.locator("#transcript")).to_contain_text("Elsewhere.")
    await phone.screenshot(path=screenshot_path("webchat-qr-code-phone"), full_page=True)
