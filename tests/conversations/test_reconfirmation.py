"""Re-confirmation with a frozen clock: after `enrolment.reconfirm_days` the next
conversation first checks that a person's methods still work, a passed check stamps the
registry, a reset is never held up by it, and the signed-out web chat never asks."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from state import FrozenClock
from tests.support.activities import visible
from tests.support.directory import demo_with
from tests.support.enrolment import Person, proven_by_email, registered
from tests.support.harness import Bot, running_bot

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
DAY = 86400
EVERY_30_DAYS = {"reconfirm_days": 30}
ASKED = "since you last confirmed your sign-in methods"
RESET_GREETING = "I can reset your password"


async def test_stale_methods_are_confirmed_at_the_next_contact(make_bot: MakeBot) -> None:
    async with make_bot(enrolment=EVERY_30_DAYS) as bot:
        bob = Person(bot, "bob")
        await proven_by_email(bot, bob)
        await bob.text("done")
        confirmed_at = bot.clock.now()
        assert (await registered(bot, "bob")).contacts_confirmed == {"email": confirmed_at}

        bot.clock.advance(29 * DAY)
        early = await bob.text("hi")
        assert RESET_GREETING in early
        assert ASKED not in early
        await bob.text("cancel")

        bot.clock.advance(2 * DAY)
        asked = await bob.text("hi")
        assert f"It's been 31 days {ASKED}" in asked
        assert "Say 'skip' to do it later" in asked
        assert "Email a code to b***@contoso.com" in asked
        await bob.text("email")
        menu = await bob.text(bot.outbox.last_code())
        assert "Thanks, your sign-in methods are confirmed" in menu
        assert "Set up an authenticator app" in menu
        assert (await registered(bot, "bob")).contacts_confirmed == {"email": bot.clock.now()}
        assert "All set" in await bob.text("done")

        again = await bob.text("hi")
        assert RESET_GREETING in again
        assert ASKED not in again
        events = [event["event"] for event in bot.audit()]
        assert events.count("reconfirmation.asked") == 1
        assert "reconfirmation.confirmed" in events


async def test_a_reset_request_from_someone_stale_goes_first(make_bot: MakeBot) -> None:
    async with make_bot(enrolment=EVERY_30_DAYS) as bot:
        bob = Person(bot, "bob")
        await proven_by_email(bot, bob)
        await bob.text("done")
        bot.clock.advance(45 * DAY)
        started = await bob.text("I forgot my password")
        assert RESET_GREETING in started
        assert ASKED not in started
        await bob.text("email")
        done = await bob.text(bot.outbox.last_code())
        assert "temporary password" in done
        assert "That check also confirmed your sign-in methods" in done
        assert (await registered(bot, "bob")).contacts_confirmed == {"email": bot.clock.now()}
        assert "Your password was changed" in await bob.text("thanks")


async def test_a_locked_out_account_is_not_asked_whatever_it_says(
    tmp_path: Path, clock: FrozenClock
) -> None:
    demo_with(tmp_path / "data", "bob", locked=True)
    async with running_bot(tmp_path / "data", clock, enrolment=EVERY_30_DAYS) as bot:
        bob = Person(bot, "bob")
        started = await bob.text("my account is locked")
        assert RESET_GREETING in started
        assert "with me yet" not in started


async def test_skip_puts_it_off_for_this_conversation_and_the_reset_goes_on(
    make_bot: MakeBot,
) -> None:
    async with make_bot(enrolment=EVERY_30_DAYS) as bot:
        bob = Person(bot, "bob")
        asked = await bob.text("hello")
        assert "You haven't confirmed your sign-in methods with me yet" in asked
        skipped = await bob.text("skip")
        assert "won't ask about your sign-in methods again in this conversation" in skipped
        assert "How should I check that it's you?" in skipped
        await bob.text("email")
        done = await bob.text(bot.outbox.last_code())
        assert "temporary password" in done
        assert "That check also confirmed your sign-in methods" in done
        assert "email" in (await registered(bot, "bob")).contacts_confirmed


@pytest.mark.parametrize("later", ["später", "plus tard", "Más tarde.", "maybe later"])
async def test_later_in_any_language_puts_it_off(make_bot: MakeBot, later: str) -> None:
    async with make_bot(enrolment=EVERY_30_DAYS) as bot:
        bob = Person(bot, "bob")
        assert "with me yet" in await bob.text("hello")
        skipped = await bob.text(later)
        assert "won't ask about your sign-in methods again in this conversation" in skipped


async def test_a_reset_request_or_cancel_at_the_question(make_bot: MakeBot) -> None:
    async with make_bot(enrolment=EVERY_30_DAYS) as bot:
        bob = Person(bot, "bob")
        assert "with me yet" in await bob.text("good morning")
        reset = await bob.text("reset my password please")
        assert RESET_GREETING in reset
        assert "won't ask" not in reset
        await bob.text("cancel")
        assert "with me yet" in await bob.text("hi")
        assert "Cancelled. Nothing was changed." in await bob.text("cancel")
        assert (await registered(bot, "bob")).contacts_confirmed == {}


async def test_reconfirm_days_0_never_asks(make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        bob = Person(bot, "bob")
        await proven_by_email(bot, bob)
        await bob.text("done")
        bot.clock.advance(800 * DAY)
        greeted = await bob.text("hi")
        assert RESET_GREETING in greeted
        assert ASKED not in greeted
        await bob.text("email")
        done = await bob.text(bot.outbox.last_code())
        assert "temporary password" in done
        assert "confirmed your sign-in methods" not in done
        assert (await registered(bot, "bob")).contacts_confirmed == {"email": bot.clock.now()}


SCRIPT = ["hi", "{name}", "123456", "other", "resend", "skip", "other", "000000"]


async def web_transcript(bot: Bot, name: str) -> list[list[dict[str, Any]]]:
    chat = bot.chat()
    return [[visible(a) for a in await chat.say(line.format(name=name))] for line in SCRIPT]


async def test_the_signed_out_web_chat_never_asks_and_reads_alike_for_every_name(
    make_bot: MakeBot,
) -> None:
    transcripts = []
    for name in ("bob", "no-such-user"):
        async with make_bot(enrolment=EVERY_30_DAYS) as bot:
            transcripts.append(await web_transcript(bot, name))
    real, made_up = transcripts
    assert real == made_up
    assert ASKED not in str(real)
    assert "with me yet" not in str(real)


async def test_a_passed_web_chat_check_is_recorded_and_nothing_is_said(make_bot: MakeBot) -> None:
    async with make_bot(enrolment=EVERY_30_DAYS) as bot:
        chat = bot.chat()
        assert "Which account is it?" in await chat.text("hello")
        await chat.text("bob")
        await chat.text("other")  # the first is an app, which bob has not
        await bot.runtime.background.drain()
        done = await chat.text(bot.outbox.last_code())
        assert "temporary password" in done
        assert "confirmed your sign-in methods" not in done
        assert (await registered(bot, "bob")).contacts_confirmed == {
            "mobile_phone": bot.clock.now()
        }
