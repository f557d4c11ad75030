"""The password policy: every weak password the issue named is refused with its reason,
long passphrases pass, organisation words and the account's names are found under
look-alike spellings, lists can be added, and the optional breach check asks Have I Been
Pwned (a local stand-in speaking its wire format) with five hex digits only, failing open.
"""

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from pydantic import ValidationError

from adapters.directory import Account
from adapters.pwned import NotChecked, PwnedPasswords
from dialogs.password_policy import ANALYSED, PasswordPolicy, context_words
from dialogs.settings import PasswordSettings
from tests.stand_ins.pwned import pwned_stand_in, sha1_hex
from tests.support.ports import free_port

ALICE = Account(
    id="f94b2385",
    username="alice",
    display_name="Alice Wilber",
    enabled=True,
    email="alice.wilber@contoso.com",
)
PASSPHRASE = "a quiet river bends past seven old mills under grey autumn skies"
ACCEPTED = ["Correct horse battery staple 42", PASSPHRASE, "copper lantern orchard"]


def policy(**settings: object) -> PasswordPolicy:
    return PasswordPolicy(
        PasswordSettings.model_validate({"banned_words": ["contoso"], **settings}), NotChecked()
    )


async def reason(password: str, **settings: object) -> str | None:
    refusal = await policy(**settings).refusal(password, context_words(ALICE))
    return None if refusal is None else refusal.message


# The issue's list: with the default minimum of 12 the short ones are too short, and with the
# floor of 8 (a directory that checks too) each is still refused as common.

WEAK = {
    "P4ssw0rd!": "password_common",
    "Pa$$word1": "password_common",
    "11111111": "password_common",
    "aaaaaaaa": "password_common",
    "1q2w3e4r": "password_common",
    "Password1Password1": "password_common",
    "C0nt0s0!!2024": "password_banned",
}


@pytest.mark.parametrize(("password", "expected"), WEAK.items())
async def test_the_issues_passwords_are_refused_with_their_reason(
    password: str, expected: str
) -> None:
    by_default = "password_too_short" if len(password) < 12 else expected
    assert await reason(password) == by_default
    assert await reason(password, min_length=8) == expected


@pytest.mark.parametrize("password", ACCEPTED)
async def test_passphrases_are_accepted(password: str) -> None:
    assert await reason(password) is None


def test_the_long_passphrase_is_64_characters() -> None:
    assert len(PASSPHRASE) == 64


def test_the_default_minimum_is_12_and_the_floor_stays_8() -> None:
    assert PasswordSettings().min_length == 12
    assert PasswordSettings(min_length=8).min_length == 8
    with pytest.raises(ValidationError):
        PasswordSettings(min_length=7)


@pytest.mark.parametrize(
    ("password", "expected", "values"),
    [
        ("short one", "password_too_short", {"min": 12}),
        ("x" * 257, "password_too_long", {"max": 256}),
        ("copper\tlantern orchard", "password_characters", {}),
        ("I love Contoso so much", "password_banned", {}),
        ("wilber the great pig", "password_personal", {}),
        ("Summer2024!!", "password_common", {}),
    ],
)
async def test_each_reason_comes_with_its_values(
    password: str, expected: str, values: dict[str, int]
) -> None:
    refusal = await policy().refusal(password, context_words(ALICE))
    assert refusal is not None
    assert (refusal.message, refusal.values) == (expected, values)


@pytest.mark.parametrize(
    "password",
    [
        "C0nt0s0!!2024",
        "my CONTOSO laptop",
        "c00nt0$0 rules 77",
        "osotnoc is backwards",
        "Cöntoso éh 9",
    ],
)
async def test_a_banned_word_is_found_however_it_is_spelt(password: str) -> None:
    assert await reason(password) == "password_banned"


@pytest.mark.parametrize(
    "password",
    ["W1lb3r the great pig", "4lice in the garden", "ALICE.wilber rocks 1", "r3bliw backwards 12"],
)
async def test_the_accounts_names_are_found_however_they_are_spelt(password: str) -> None:
    assert await reason(password) == "password_personal"


def test_context_words_hold_the_names_and_the_emails_pieces() -> None:
    words = context_words(ALICE)
    assert {"alice", "Alice", "Wilber", "alice.wilber", "wilber"} <= set(words)
    assert "contoso" not in {word.casefold() for word in words}


async def test_a_piece_of_the_email_is_a_context_word() -> None:
    only_email = Account(
        id="x", username="aw", display_name="A. W.", enabled=True, email="zelda_marsh@x.com"
    )
    refusal = await policy().refusal("marsh mallows are nice", context_words(only_email))
    assert refusal is not None
    assert refusal.message == "password_personal"


async def test_short_names_are_not_context_words() -> None:
    tiny = Account(id="x", username="al", display_name="Al Bo", enabled=True)
    assert await policy().refusal("albatross over the bay", context_words(tiny)) is None


async def test_a_list_file_adds_passwords_found_also_inside_longer_ones(tmp_path: Path) -> None:
    listed = tmp_path / "ours.txt"
    listed.write_text("# our own\nZebrafinch\nmarmalade-sky\n", encoding="utf-8")
    assert await reason("Zebrafinch2024!") is None
    assert await reason("Zebrafinch2024!", common_lists=[str(listed)]) == "password_common"
    assert await reason("z3br4f1nch 2024", common_lists=[str(listed)]) == "password_common"
    assert await reason("marmalade-sky!!", common_lists=[str(listed)]) == "password_common"


def test_a_list_file_that_cannot_be_read_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a readable file"):
        PasswordSettings(common_lists=[str(tmp_path / "missing.txt")])


async def test_a_long_password_is_read_on_its_first_characters_only() -> None:
    strong_start = PASSPHRASE + " " + "password" * 20
    assert len(strong_start) > ANALYSED
    assert await reason(strong_start) is None
    assert await reason("Password1" * 28) == "password_common"


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://api.pwnedpasswords.com/range/", True),
        ("http://127.0.0.1:8080/range/", True),
        ("http://localhost/range/", True),
        ("http://pwned.example.com/range/", False),
        ("ftp://api.pwnedpasswords.com/range/", False),
    ],
)
def test_the_range_api_is_https_or_loopback(url: str, valid: bool) -> None:
    if valid:
        assert PasswordSettings.model_validate({"pwned": {"url": url}}).pwned.url == url
    else:
        with pytest.raises(ValidationError, match="https"):
            PasswordSettings.model_validate({"pwned": {"url": url}})


def test_the_breach_check_is_off_by_default() -> None:
    assert PasswordSettings().pwned.enabled is False


# Have I Been Pwned, against the local stand-in.


@asynccontextmanager
async def pwned_policy(url: str, *, wait: float = 2.0) -> AsyncIterator[PasswordPolicy]:
    """The policy with the breach check on, asking `url`."""
    settings = PasswordSettings.model_validate({"pwned": {"enabled": True, "url": url}})
    breaches = PwnedPasswords(url, timeout=wait)
    try:
        yield PasswordPolicy(settings, breaches)
    finally:
        await breaches.close()


BREACHED = "Tangerine submarine 1987"


async def test_a_password_known_from_breaches_is_refused() -> None:
    async with pwned_stand_in() as pwned:
        pwned.breach(BREACHED, 3412)
        async with pwned_policy(pwned.url) as checking:
            refusal = await checking.refusal(BREACHED, context_words(ALICE))
            assert refusal is not None
            assert refusal.message == "password_breached"
            assert await checking.refusal(ACCEPTED[0], context_words(ALICE)) is None
        assert len(pwned.received) == 2


async def test_only_five_hex_digits_leave_the_bot_with_padding_asked() -> None:
    async with pwned_stand_in() as pwned:
        breaches = PwnedPasswords(pwned.url, timeout=2.0)
        try:
            assert await breaches.times_seen(BREACHED) == 0
        finally:
            await breaches.close()
        [request] = pwned.received
        digest = sha1_hex(BREACHED)
        assert request.path == f"/range/{digest[:5]}"
        assert request.headers["Add-Padding"] == "true"
        sent = request.path + repr(request.headers)
        assert digest[5:] not in sent.upper()
        assert BREACHED not in sent


async def test_padding_lines_count_as_never_seen() -> None:
    async with pwned_stand_in() as pwned:
        pwned.breach(BREACHED, 0)
        breaches = PwnedPasswords(pwned.url, timeout=2.0)
        try:
            assert await breaches.times_seen(BREACHED) == 0
            pwned.breach(BREACHED, 9)
            assert await breaches.times_seen(BREACHED) == 9
        finally:
            await breaches.close()


async def test_the_offline_rules_come_first_and_ask_nobody() -> None:
    async with pwned_stand_in() as pwned:
        async with pwned_policy(pwned.url) as checking:
            refusal = await checking.refusal("Password1Password1", context_words(ALICE))
        assert refusal is not None
        assert refusal.message == "password_common"
        assert pwned.received == []


def fails_open(caplog: pytest.LogCaptureFixture, password: str) -> None:
    """One warning, naming neither the password nor its hash nor the hash's prefix."""
    [record] = [r for r in caplog.records if r.name == "adapters.pwned"]
    assert record.levelno == logging.WARNING
    said = record.getMessage() + repr(record.__dict__)
    digest = sha1_hex(password)
    assert password not in said
    assert not re.search(digest[:5], said, re.IGNORECASE)


async def test_an_unreachable_service_fails_open_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with pwned_policy(f"http://127.0.0.1:{free_port()}/range/") as checking:
        with caplog.at_level(logging.WARNING):
            assert await checking.refusal(BREACHED, context_words(ALICE)) is None
    fails_open(caplog, BREACHED)


async def test_a_slow_service_fails_open_after_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with pwned_stand_in() as pwned:
        pwned.breach(BREACHED)
        pwned.hanging = True
        async with pwned_policy(pwned.url, wait=0.2) as checking:
            with caplog.at_level(logging.WARNING):
                assert await checking.refusal(BREACHED, context_words(ALICE)) is None
    fails_open(caplog, BREACHED)
    assert "0.2s" in caplog.records[-1].__dict__["reason"]


async def test_a_failing_service_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    async with pwned_stand_in() as pwned:
        pwned.breach(BREACHED)
        pwned.status = 503
        async with pwned_policy(pwned.url) as checking:
            with caplog.at_level(logging.WARNING):
                assert await checking.refusal(BREACHED, context_words(ALICE)) is None
    fails_open(caplog, BREACHED)


async def test_a_padded_answer_holds_hundreds_of_lines_and_the_one_that_counts() -> None:
    async with pwned_stand_in() as pwned, aiohttp.ClientSession() as session:
        pwned.breach(BREACHED, 5)
        digest = sha1_hex(BREACHED)
        async with session.get(pwned.url + digest[:5], headers={"Add-Padding": "true"}) as r:
            lines = (await r.text()).split("\r\n")
        assert 800 <= len(lines) <= 1000
        assert f"{digest[5:]}:5" in lines
        async with session.get(pwned.url + "XYZ") as r:
            assert r.status == 400
