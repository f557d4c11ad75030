"""Registering methods in chat, through the whole bot: bob (an email address and a phone,
nothing else) proves himself by email, sets up an authenticator app from the key he is
shown, and resets with it; on the embedded directory and on a real slapd. Questions with
each of their rules; who may not register; and nothing secret left anywhere."""

import logging
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pyotp
import pytest

from bot.conversations import new_webchat_conversation, record_key
from dialogs import Inbound
from dialogs.registry import Registered
from tests.support.enrolment import Person, proven_by_email, registered, shown_secret
from tests.support.harness import Bot
from tests.support.slapd import SlapdServer

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
ANSWERS = ("Marmalade", "Lisbon", "Saint Brigid's")
# Picking "1" three times takes the first three of the default list, in order.
ANSWERED = dict(
    zip(
        (
            "What was the name of your first pet?",
            "In which city did your parents meet?",
            "What was the name of your primary school?",
        ),
        ANSWERS,
        strict=True,
    )
)


async def add_authenticator(bot: Bot, person: Person, username: str) -> tuple[str, str]:
    """The app set up from the key shown; returns the key and the code that confirmed it."""
    [setup] = await person.say("authenticator")
    assert setup.image is not None
    assert setup.image.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert username in setup.image.alt
    assert f"otpauth://totp/sspr-bot:{username}" in setup.text
    secret = shown_secret(setup)
    code = pyotp.TOTP(secret).at(bot.clock.now())
    done = await person.text(code)
    assert "Done: your authenticator app is set up" in done
    return secret, code


async def whole_enrolment(bot: Bot, username: str, mail: str) -> None:
    """Register an app, then reset with it; the confirming code and a used one fail."""
    bob = Person(bot, username)
    menu = await proven_by_email(bot, bob)
    assert "Set up an authenticator app" in menu
    secret, first_code = await add_authenticator(bot, bob, username)
    assert "All set" in await bob.text("done")
    await bot.runtime.background.drain()
    assert bot.outbox.messages()[-1]["to"] == mail
    assert bot.outbox.messages()[-1]["subject"] == "An authenticator app was registered"

    reset = Person(bot, username, channel="slack")
    assert "Code from my authenticator app" in await reset.text("reset")
    await reset.text("authenticator")
    assert "That code isn't right" in await reset.text(first_code)
    bot.clock.advance(30)
    code = pyotp.TOTP(secret).at(bot.clock.now())
    assert "temporary password" in await reset.text(code)

    again = Person(bot, username, channel="console")
    await again.text("reset")
    await again.text("authenticator")
    assert "That code isn't right" in await again.text(code)
    events = [event["event"] for event in bot.audit()]
    assert "enrolment.authenticator_added" in events


async def test_bob_registers_an_app_and_resets_with_it(make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        await whole_enrolment(bot, "bob", "bob@contoso.com")


async def test_bob_registers_an_app_on_openldap_and_resets_with_it(
    make_bot: MakeBot, slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    uid = make_ldap_user(groups=["sspr-users"], mail="bob@example.org", mobile="+1 555 0105")
    async with make_bot(
        slapd.environ,
        directory={"kind": "ldap", "ldap": slapd.directory_config()},
        access={"mode": "groups", "groups": ["sspr-users"]},
    ) as bot:
        await whole_enrolment(bot, uid, "bob@example.org")


async def test_an_account_with_no_method_registers_without_a_check(
    make_bot: MakeBot, slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    uid = make_ldap_user(groups=["sspr-users"])
    async with make_bot(
        slapd.environ,
        directory={"kind": "ldap", "ldap": slapd.directory_config()},
        access={"mode": "groups", "groups": ["sspr-users"]},
    ) as bot:
        person = Person(bot, uid)
        assert "What would you like to set up?" in await person.text("set up")
        await add_authenticator(bot, person, uid)


async def test_a_wrong_first_code_saves_nothing_and_counts_as_a_failure(make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        bob = Person(bot, "bob")
        await proven_by_email(bot, bob)
        await bob.say("app")
        assert "Please type the 6-digit code" in await bob.text("my code")
        assert "doesn't match the new key" in await bob.text("000000")
        assert (await registered(bot, "bob")).authenticator is None
        events = [event["event"] for event in bot.audit()]
        assert "enrolment.code_failed" in events
        assert "enrolment.authenticator_added" not in events


async def register_questions(person: Person) -> str:
    said = ""
    for answer in ANSWERS:
        assert "Type your answer" in await person.text("1")
        said = await person.text(answer)
    return said


async def test_questions_are_registered_with_every_rule_held(make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        bob = Person(bot, "bob")
        assert "Register security questions" in await proven_by_email(bot, bob)
        listed = await bob.text("security questions")
        assert "Security question 1 of 3" in listed
        assert "1. What was the name of your first pet?" in listed
        assert "Please pick a number from 1 to 8" in await bob.text("9")
        refused = await bob.text("What is my favourite colour?")
        assert "doesn't allow questions of your own" in refused
        assert "What was the name of your first pet?" in await bob.text("1")
        assert "too short" in await bob.text("ab")
        assert "too long" in await bob.text("x" * 41)
        assert "Security question 2 of 3" in await bob.text("  Marmalade ")
        listed = await bob.text("1")  # now the second of the list as it stands
        assert "In which city did your parents meet?" in listed
        assert "another question" in await bob.text("MARMALADE")
        await bob.text("Lisbon")
        await bob.text("1")
        done = await bob.text("Saint Brigid's")
        assert "Done: your 3 security questions are registered" in done
        assert "Register new security questions" in done
        for answer in ANSWERS:
            assert answer.casefold() not in done.casefold()
        await bob.text("done")
        assert len((await registered(bot, "bob")).questions) == 3


async def test_registered_questions_serve_a_reset_as_the_second_check(make_bot: MakeBot) -> None:
    async with make_bot(verification={"required": 2}) as bot:
        bob = Person(bot, "bob")
        await proven_by_email(bot, bob)
        await bob.text("questions")
        await register_questions(bob)
        await bob.text("done")
        reset = Person(bot, "bob", channel="slack")
        await reset.text("reset")
        await reset.text("email")
        second = await reset.text(bot.outbox.last_code())
        assert "Answer my security questions" in second
        asked = await reset.text("questions")
        for _ in range(3):
            question = re.search(r"Question \d of 3: (.+)", asked)
            assert question, asked
            asked = await reset.text(ANSWERED[question.group(1).strip()])
        assert "temporary password" in asked


async def test_own_questions_when_allowed(make_bot: MakeBot) -> None:
    async with make_bot(enrolment={"own_questions": True}) as bot:
        bob = Person(bot, "bob")
        await proven_by_email(bot, bob)
        assert "or type a question of your own" in await bob.text("questions")
        assert "in 10 to 200 characters" in await bob.text("Colour?")
        asked = await bob.text("What is the name of my first bicycle?")
        assert "What is the name of my first bicycle?\n\nType your answer" in asked


async def test_the_signed_out_web_chat_may_not_register(make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        runner, store = bot.runtime.runner, bot.runtime.store
        conversation = new_webchat_conversation("visitor-1")
        replies = await runner.run(conversation, Inbound("register", "webchat"))
        assert "needs a chat where you're signed in" in replies[0].text
        assert await store.get(record_key(conversation)) is None
        await runner.run(conversation, Inbound("reset", "webchat"))
        assert await store.get(record_key(conversation)) is not None
        anonymous = bot.chat()
        assert "needs a chat where you're signed in" in await anonymous.text("enrol")
        # The conversation is untouched: a reset still starts by asking for the account.
        assert "Which account is it?" in await anonymous.text("reset")


async def test_registering_needs_a_check_first_when_methods_exist(make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        bob = Person(bot, "bob")
        menu = await bob.text("register")
        assert "let's confirm it's you" in menu
        assert "Set up an authenticator app" not in menu
        assert "pick one" in (await bob.text("authenticator")).lower()
        assert "pick one" in (await bob.text("done")).lower()
        await bob.text("email")
        assert "isn't right" in await bob.text("000000")
        assert "Set up" not in await bob.text("setup")
        assert await registered(bot, "bob") == Registered()


async def test_a_reset_offers_registering_afterwards(make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        bob = Person(bot, "bob")
        await bob.text("reset")
        await bob.text("email")
        done = await bob.text(bot.outbox.last_code())
        assert "say 'register' to set up an authenticator app" in done
        alice = Person(bot, "alice")
        await alice.text("reset")
        await alice.text("email")
        assert "register" not in await alice.text(bot.outbox.last_code())


async def test_nothing_secret_is_kept_logged_or_audited(
    make_bot: MakeBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_bot(state={"backend": "sqlite"}) as bot:
        bob = Person(bot, "bob")
        await proven_by_email(bot, bob)
        [setup] = await bob.say("authenticator")
        secret = shown_secret(setup)
        assert secret not in files_in(tmp_path / "data")
        assert "is set up" in await bob.text(pyotp.TOTP(secret).at(bot.clock.now()))
        await bob.text("questions")
        await register_questions(bob)
        await bob.text("done")
        await bot.runtime.background.drain()
        kept = files_in(tmp_path / "data")
    logged = caplog.text
    for secret_text in (secret, *ANSWERS):
        assert secret_text not in kept
        assert secret_text not in logged
    audit = (tmp_path / "data" / "audit.jsonl").read_text()
    assert "enrolment.questions_set" in audit
    assert secret not in audit


def files_in(folder: Path) -> str:
    """Every file the bot keeps (the state database and its journal, the audit trail, the
    outbox), as text."""
    return "\n".join(
        path.read_bytes().decode("utf-8", "replace") for path in folder.rglob("*") if path.is_file()
    )


async def test_the_directorys_contacts_are_confirmed_by_a_code_each(make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        bob = Person(bot, "bob")
        menu = await proven_by_email(bot, bob)
        assert "Confirm my email address or phone" in menu
        which = await bob.text("confirm my email address or phone")
        assert "Text a code to +1 *** *** 0105" in which
        assert "Email a code" not in which
        await bob.text("text me")
        assert bot.outbox.messages()[-1]["to"] == "+1 425 555 0105"
        confirmed = await bob.text(bot.outbox.last_code())
        assert "that's confirmed" in confirmed
        assert "Confirm my email address or phone" not in confirmed
        assert set((await registered(bot, "bob")).contacts_confirmed) == {"email", "mobile_phone"}
        assert "enrolment.confirmed" in [event["event"] for event in bot.audit()]


async def test_too_few_methods_is_answered_with_an_offer_that_then_works(
    make_bot: MakeBot,
) -> None:
    methods = {"required": 2, "methods": ["sms", "voice", "authenticator"]}
    async with make_bot(verification=methods) as bot:
        bob = Person(bot, "bob")
        refused = await bob.text("reset")
        assert "doesn't have enough verification methods" in refused
        assert "say 'register'" in refused
        await bob.text("register")
        await bob.text("sms")
        assert "Set up an authenticator app" in await bob.text(bot.outbox.last_code())
        secret, _ = await add_authenticator(bot, bob, "bob")
        await bob.text("done")
        bot.clock.advance(30)
        await bob.text("reset")
        await bob.text("authenticator")
        assert "One more check" in await bob.text(pyotp.TOTP(secret).at(bot.clock.now()))
        await bob.text("sms")
        assert "temporary password" in await bob.text(bot.outbox.last_code())
