"""A new user's first hour in the reset conversation: checks counted by what they prove,
menus that take what people type, and a short answer after a finished reset."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.directory import Account
from dialogs.methods import CodeMethod
from state import FrozenClock
from tests.support.directory import demo_with
from tests.support.harness import PASSWORDS, Bot, running_bot

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
PHONES = {"methods": ["sms", "voice", "email", "authenticator", "questions"]}


def proofs(bot: Bot) -> list[str]:
    return [e["proof"] for e in bot.audit() if e["event"] == "challenge.passed"]


# --- item 8: a text and a call to the same phone are one check ---------------------------


async def test_a_call_to_the_phone_that_got_the_text_is_not_a_second_check(
    make_bot: MakeBot,
) -> None:
    async with make_bot(verification={"required": 2, **PHONES}) as bot:
        chat = bot.chat("bob")
        await chat.text("reset")
        await chat.text("sms")
        second = await chat.text(bot.outbox.last_code())
        assert "One more check" in second
        assert "Email a code to b***@contoso.com" in second
        assert "Call" not in second
        assert "Text a code" not in second
        sent = len(bot.outbox.messages())
        assert "pick one" in (await chat.text("voice")).lower()
        assert len(bot.outbox.messages()) == sent
        await chat.text("email")
        assert "temporary password" in await chat.text(bot.outbox.last_code())
        assert proofs(bot) == ["mobile_phone", "email"]


async def test_an_account_with_one_phone_and_nothing_else_cannot_pass_two(
    make_bot: MakeBot,
) -> None:
    async with make_bot(verification={"required": 2, "methods": ["sms", "voice"]}) as bot:
        answer = await bot.chat("bob").text("reset")
        assert "doesn't have enough verification methods" in answer
        assert bot.outbox.messages() == []


async def test_a_call_to_the_office_phone_is_a_second_check(make_bot: MakeBot) -> None:
    async with make_bot(verification={"required": 2, "methods": ["sms", "voice"]}) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        await chat.text("text me")
        second = await chat.text(bot.outbox.last_code())
        assert "Call +1 *** *** 0111 with a code" in second
        assert "0101" not in second
        await chat.text("call me")
        assert bot.outbox.messages()[-1]["to"] == "+1 425 555 0111"
        assert "temporary password" in await chat.text(bot.outbox.last_code())
        assert proofs(bot) == ["mobile_phone", "office_phone"]


async def test_an_admin_needs_two_different_proofs(make_bot: MakeBot) -> None:
    async with make_bot(verification={"methods": ["sms", "voice", "email"]}) as bot:
        chat = bot.chat("adele")
        await chat.text("reset")
        await chat.text("sms")
        second = await chat.text(bot.outbox.last_code())
        assert "Text a code" not in second
        assert "Call +1 *** *** 0112 with a code" in second
        assert "0102" not in second
        await chat.text("call")
        assert bot.outbox.messages()[-1]["to"] == "+1 425 555 0112"
        assert "temporary password" in await chat.text(bot.outbox.last_code())


async def test_an_admin_with_only_a_mobile_phone_goes_to_the_helpdesk(
    tmp_path: Path, clock: FrozenClock
) -> None:
    demo_with(tmp_path / "data", "adele", email=None, office_phone=None, totp_secret=None)
    async with running_bot(tmp_path / "data", clock) as bot:
        answer = await bot.chat("adele").text("reset")
        assert "doesn't have enough verification methods" in answer
        assert bot.outbox.messages() == []


async def test_a_typed_name_is_not_offered_the_same_phone_after_its_first_check(
    make_bot: MakeBot,
) -> None:
    async with make_bot(verification={"required": 2, **PHONES}) as bot:
        chat = bot.chat()
        await chat.text("reset")
        await chat.text("bob")
        await bot.runtime.background.drain()
        second = await chat.text(bot.outbox.last_code())
        assert "One more check" in second
        assert "Call" not in second
        assert "Email a code to b***@contoso.com" in second


def test_one_number_written_twice_is_one_phone() -> None:
    account = Account(
        id="x",
        username="x",
        display_name="X",
        enabled=True,
        mobile_phone="+1 425 555 0105",
        office_phone="+14255550105",
    )
    assert CodeMethod("voice").proofs(account) == ("mobile_phone",)
    assert CodeMethod("voice").destination(account, ["mobile_phone"]) is None


# --- item 12: menus take what people type -------------------------------------------------


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        ("text me", "I've texted"),
        ("Send a text!", "I've texted"),
        ("SMS", "I've texted"),
        ("1.", "I've texted"),
        ("call me", "I'm calling"),
        ("phone call", "I'm calling"),
        ("Option 2", "I'm calling"),
        ("email me", "I've emailed"),
        ("E-Mail", "I've emailed"),
        ("mail", "I've emailed"),
        ("Email a code to b***@contoso.com", "I've emailed"),
    ],
)
async def test_the_menu_takes_numbers_names_labels_and_phrases(
    bot: Bot, said: str, answer: str
) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    assert answer in await chat.text(said)


@pytest.mark.parametrize("said", ["app", "authenticator", "code from my app"])
async def test_the_menu_knows_the_app_by_its_names(bot: Bot, said: str) -> None:
    chat = bot.chat("alice")
    await chat.text("reset")
    assert "Open your authenticator app" in await chat.text(said)


async def test_the_menu_knows_the_security_questions_by_their_names(make_bot: MakeBot) -> None:
    async with make_bot(verification={"required": 2}) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        await chat.text("app")
        await chat.text(bot.totp("alice"))
        assert "Question 1 of 3" in await chat.text("Security questions, please")


async def test_please_pick_one_names_the_choices(bot: Bot) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    [reply] = await chat.say("banana")
    text = reply.text or ""
    assert "Please pick one" in text
    assert "1. Text a code to +1 *** *** 0105" in text
    assert "2. Call +1 *** *** 0105 with a code" in text
    assert "3. Email a code to b***@contoso.com" in text
    assert len(reply.suggested_actions.actions) == 3


@pytest.mark.parametrize("said", ["reset", "Reset my password", "start over"])
async def test_asking_to_reset_at_the_menu_shows_the_menu_again(bot: Bot, said: str) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    [reply] = await chat.say(said)
    text = reply.text or ""
    assert text.startswith("How should I check that it's you?")
    assert "pick one" not in text.lower()
    assert "1. Text a code to +1 *** *** 0105" in text
    assert "I've emailed" in await chat.text("email")


# --- item 2: after a finished reset -------------------------------------------------------


async def finished_reset(bot: Bot, user: str = "bob") -> Any:
    chat = bot.chat(user)
    await chat.text("reset")
    await chat.text("email")
    assert "temporary password" in await chat.text(bot.outbox.last_code())
    return chat


async def test_thanks_after_a_reset_gets_a_short_closing_answer(bot: Bot) -> None:
    chat = await finished_reset(bot)
    at = datetime.fromtimestamp(bot.clock.now(), UTC).strftime("%H:%M UTC")
    await bot.runtime.background.drain()
    sent, logged = len(bot.outbox.messages()), len(bot.audit())
    bot.clock.advance(120)
    for said in ("thanks", "did it work?", "cancel", "ok 👍"):
        [reply] = await chat.say(said)
        assert reply.text == (
            f"Your password was changed at {at}; sign in with the new one. "
            "Say 'reset' if you need to start again."
        )
    assert "I reset forgotten passwords" in await chat.text("help")
    assert "Say 'reset'" in await chat.text("thanks again")
    assert len(bot.outbox.messages()) == sent
    assert len(bot.audit()) == logged
    assert "Hi Bob Basic" in await chat.text("reset my password")


@pytest.mark.parametrize("said", ["reset", "forgot password", "start", "I forgot my password"])
async def test_a_request_after_a_reset_starts_another(bot: Bot, said: str) -> None:
    chat = await finished_reset(bot)
    assert "Hi Bob Basic" in await chat.text(said)


async def test_a_while_after_the_reset_any_message_starts_again(bot: Bot) -> None:
    chat = await finished_reset(bot)
    bot.clock.advance(15 * 60)
    assert "Hi Bob Basic" in await chat.text("hello")


async def test_the_first_message_of_a_conversation_still_starts_a_reset(bot: Bot) -> None:
    assert "Hi Bob Basic" in await bot.chat("bob").text("thanks")


async def test_after_an_unlock_the_closing_answer_says_so(
    tmp_path: Path, clock: FrozenClock
) -> None:
    demo_with(tmp_path / "data", "bob", locked=True)
    async with running_bot(tmp_path / "data", clock) as bot:
        chat = bot.chat("bob")
        await chat.text("reset")
        await chat.text("email")
        await chat.text(bot.outbox.last_code())
        assert "unlocked" in await chat.text("unlock it")
        assert "Your account was unlocked at" in await chat.text("thank you!")
        assert await bot.password_is("bob", PASSWORDS["bob"])
