"""Small things on the password page, each repeated against the real bot over HTTP:

- a link preview (Teams and Slack fetch every link they show) fetched the page and so
  replaced the form token, and the owner's open form then failed until reloaded;
- a posted password that was not valid UTF-8 was stored with U+FFFD in place of the bad
  bytes (or, sent raw, crashed the request);
- a password of nothing but spaces, or with NUL or other control characters, went to the
  directory.

What must hold: every form shown stays usable until the link is used or expires (the last
MAX_FORMS of them); a form that is not UTF-8 gets the form back with a polite reason and
changes nothing; such passwords are refused with a reason, on the page and in the chat.
"""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from adapters.pwned import NotChecked
from bot.conversations import MAX_FORMS, read_conversation
from dialogs.password_policy import PasswordPolicy
from dialogs.settings import PasswordSettings
from tests.support.directory import embedded_directory
from tests.support.harness import PASSWORDS, Bot
from tests.support.http_fixtures import HttpBot
from tests.support.password_page import NEW, form_token, page, post, reset_events, verified

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]

REFUSED_CHARACTERS = "it is only spaces, or it has control characters"


async def still_waiting(bot: HttpBot) -> None:
    """Nothing changed: the old password works, nothing was reset, the link still waits."""
    assert await embedded_directory(bot.runtime).check_password("alice", PASSWORDS["alice"])
    assert reset_events(bot) == []
    record = await read_conversation(bot.runtime.store, "emulator:conv-1:alice")
    assert record.session is not None
    assert record.session["state"] == "awaiting_password"


async def post_raw(bot: HttpBot, token: str, body: bytes, content_type: str) -> tuple[int, str]:
    headers = {"Content-Type": content_type}
    async with bot.session.post(f"{bot.url}/password/{token}", data=body, headers=headers) as r:
        return r.status, await r.text()


# A link preview must not void the open form.


async def test_a_link_preview_does_not_void_the_form_the_owner_has_open(
    page_bot: HttpBot,
) -> None:
    token = await verified(page_bot)
    _, _, owners = await page(page_bot, token)
    status, _, previews = await page(page_bot, token)  # the chat's link preview
    assert status == 200
    assert previews != owners

    status, html = await post(page_bot, token, owners, NEW)

    assert status == 200, html
    assert await embedded_directory(page_bot.runtime).check_password("alice", NEW)
    assert (await post(page_bot, token, previews, "another good phrase 7"))[0] == 410


async def test_the_last_forms_shown_stay_valid_and_older_ones_do_not(page_bot: HttpBot) -> None:
    token = await verified(page_bot)
    _, _, first = await page(page_bot, token)
    for _ in range(MAX_FORMS - 1):
        assert (await page(page_bot, token))[0] == 200
    assert first is not None

    # The first form is still one of the last MAX_FORMS: it is accepted (and this refusal
    # shows one more form, which pushes the first one out).
    status, html = await post(page_bot, token, first, NEW, "not the same phrase")
    assert status == 400
    assert "not the same" in html
    status, html = await post(page_bot, token, first, NEW)
    assert status == 403
    assert "reload the page" in html
    await still_waiting(page_bot)

    _, _, latest = await page(page_bot, token)  # reloaded, as the 403 page asks
    status, html = await post(page_bot, token, latest, NEW)
    assert status == 200, html


# A form that is not UTF-8 is refused, not repaired.


@pytest.mark.parametrize(
    "password",
    [
        b"%FF%FEcopper+lantern+orchard",  # percent-encoded bytes that are not UTF-8
        b"copper+lantern+orchard+%C3",  # a sequence cut short
        b"copper+lantern+%ED%A0%80orchard",  # an encoded surrogate
        b"copper+lantern+orchard+\xe9t\xe9",  # raw Latin-1 bytes
    ],
)
async def test_a_password_that_is_not_utf8_is_refused_and_changes_nothing(
    page_bot: HttpBot, password: bytes
) -> None:
    token = await verified(page_bot)
    _, _, csrf = await page(page_bot, token)
    assert csrf is not None
    body = b"csrf=" + csrf.encode() + b"&password=" + password + b"&confirm=" + password

    status, html = await post_raw(page_bot, token, body, "application/x-www-form-urlencoded")

    assert status == 400
    assert REFUSED_CHARACTERS in html
    assert "\ufffd" not in html
    await still_waiting(page_bot)
    status, html = await post(page_bot, token, form_token(html), NEW)
    assert status == 200, html
    assert await embedded_directory(page_bot.runtime).check_password("alice", NEW)


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded; charset=latin-1", "multipart/form-data; boundary=x"],
)
async def test_a_form_in_another_encoding_is_refused(page_bot: HttpBot, content_type: str) -> None:
    token = await verified(page_bot)
    _, _, csrf = await page(page_bot, token)
    assert csrf is not None
    if content_type.startswith("multipart"):
        parts = [
            f'--x\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in (("csrf", csrf), ("password", NEW), ("confirm", NEW))
        ]
        body = ("".join(parts) + "--x--\r\n").encode()
    else:
        body = f"csrf={csrf}&password=caf\xe9+{NEW}&confirm=caf\xe9+{NEW}".encode("latin-1")

    status, html = await post_raw(page_bot, token, body, content_type)

    assert status == 400
    assert REFUSED_CHARACTERS in html
    await still_waiting(page_bot)


# Blank passwords and control characters are refused.


@pytest.mark.parametrize(
    "password",
    [
        " " * 12,
        "\u3000" * 12,  # ideographic spaces
        "\u200b" * 12,  # zero-width spaces
        "\x00" * 12,
        "copper lantern\x00orchard",
        "copper\tlantern orchard",
        "copper lantern orchard\x1b[0m",
        "copper lantern\x85orchard",  # a C1 control (next line)
        "copper lantern\x7forchard",
    ],
)
async def test_blank_and_control_character_passwords_are_refused_on_the_page(
    page_bot: HttpBot, password: str
) -> None:
    token = await verified(page_bot)
    _, _, csrf = await page(page_bot, token)

    status, html = await post(page_bot, token, csrf, password)

    assert status == 400
    assert REFUSED_CHARACTERS in html
    await still_waiting(page_bot)


async def test_control_characters_are_refused_in_the_chat_too(make_bot: MakeBot) -> None:
    async with make_bot(password={"entry": "chat"}) as bot:
        chat = bot.chat("bob")
        await chat.text("reset")
        await chat.text("email")
        assert "chat keeps a copy" in await chat.text(bot.outbox.last_code())
        assert REFUSED_CHARACTERS in await chat.text("copper lantern\norchard")
        assert REFUSED_CHARACTERS in await chat.text("copper\tlantern orchard")
        assert REFUSED_CHARACTERS in await chat.text("copper\x00lantern orchard")
        assert await bot.password_is("bob", PASSWORDS["bob"])
        assert "Done" in await chat.text("copper lantern orchard")
        assert await bot.password_is("bob", "copper lantern orchard")


async def test_the_policy_refuses_control_characters_anywhere_and_blank_passwords() -> None:
    policy = PasswordPolicy(PasswordSettings(), NotChecked())
    refused = [
        "\t" * 12,
        "\u00a0" * 12,  # no-break spaces
        "\u2028" * 12,  # line separators
        "\ufeff" * 12,  # byte-order marks
        "copper lantern \ud800orchard",  # a lone surrogate, as a JSON escape can carry
        "copper lantern\r\norchard",
        "copper lantern\x9borchard",
    ]
    for password in refused:
        refusal = await policy.refusal(password, ["alice"])
        assert refusal is not None, repr(password)
        assert refusal.message == "password_characters"
    accepted = [
        "copper  lantern orchard",
        "kupfer laterne \u00f6bstgarten",
        "family \U0001f468\u200d\U0001f469\u200d\U0001f467 trip",
    ]
    for password in accepted:
        assert await policy.refusal(password, ["alice"]) is None, repr(password)
