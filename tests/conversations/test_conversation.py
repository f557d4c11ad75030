"""Whole reset conversations through the Agents SDK test adapter, on the embedded parts."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from tests.support.harness import ANSWERS, PASSWORDS, Bot

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]


def choices(activity_text: str) -> list[str]:
    return [
        line.split(". ", 1)[1]
        for line in activity_text.splitlines()
        if line[:2].rstrip(".").isdigit()
    ]


async def test_one_method_resets_with_a_temporary_password(bot: Bot) -> None:
    chat = bot.chat("alice")
    menu = await chat.text("reset")
    assert "Hi Alice Wilber" in menu
    assert "Email a code to a***@contoso.com" in menu
    sent = await chat.text("email")
    assert "a***@contoso.com" in sent
    assert bot.outbox.messages()[-1]["to"] == "alice@contoso.com"
    replies = await chat.say(bot.outbox.last_code())
    assert len(replies) == 1
    temporary = (replies[0].text or "").split("\n\n")[1]
    assert len(temporary) == 16
    assert await bot.password_is("alice", temporary)
    assert not await bot.password_is("alice", PASSWORDS["alice"])
    await bot.runtime.background.drain()
    events = [entry["event"] for entry in bot.audit()]
    assert events[-3:] == ["challenge.passed", "password.reset", "notice.sent"]
    assert bot.outbox.messages()[-1]["body"].startswith("The password of alice was reset")


async def test_two_required_methods_must_be_two_different_ones(make_bot: MakeBot) -> None:
    async with make_bot(verification={"required": 2}) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        await chat.text("email")
        second = await chat.text(bot.outbox.last_code())
        assert "One more check" in second
        assert "Email a code" not in second
        assert "Answer my security questions" in second
        assert "pick one" in (await chat.text("email")).lower()
        await chat.text("app")
        done = await chat.text(bot.totp("alice"))
        assert "temporary password" in done
        assert [e["method"] for e in bot.audit() if e["event"] == "challenge.passed"] == [
            "email",
            "authenticator",
        ]


async def test_passing_the_same_method_twice_does_not_count_twice(make_bot: MakeBot) -> None:
    async with make_bot(verification={"required": 2, "methods": ["email", "sms"]}) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        await chat.text("email")
        code = bot.outbox.last_code()
        await chat.text(code)
        assert "email" not in (await chat.text("other")).lower().split("code to")[0]
        assert "pick one" in (await chat.text("email")).lower()
        assert await bot.password_is("alice", PASSWORDS["alice"])


async def test_second_method_by_security_questions(make_bot: MakeBot) -> None:
    async with make_bot(verification={"required": 2}) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        await chat.text("app")
        await chat.text(bot.totp("alice"))
        question = await chat.text("questions")
        for _ in range(3):
            asked = question.split(": ", 1)[1]
            question = await chat.text(ANSWERS["alice"][asked].upper() + "  ")
        assert "temporary password" in question


async def test_a_wrong_answer_fails_the_whole_set_without_saying_which(make_bot: MakeBot) -> None:
    async with make_bot(verification={"required": 2}) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        await chat.text("app")
        await chat.text(bot.totp("alice"))
        question = await chat.text("questions")
        first = question.split(": ", 1)[1]
        second = await chat.text("wrong answer")
        assert second.startswith("Question 2 of 3")
        third = await chat.text(ANSWERS["alice"][second.split(": ", 1)[1]])
        result = await chat.text(ANSWERS["alice"][third.split(": ", 1)[1]])
        assert result.startswith("Not all answers matched")
        assert "Question 1 of 3" in result
        assert first
        assert await bot.password_is("alice", PASSWORDS["alice"])


async def test_wrong_codes_count_and_lock_the_reset_flow(bot: Bot) -> None:
    chat = bot.chat("alice")
    await chat.text("reset")
    await chat.text("email")
    assert "isn't right" in await chat.text("000000")
    assert "isn't right" in await chat.text("000001")
    assert "can't be used any more" in await chat.text("000002")
    await chat.text("resend")
    assert "isn't right" in await chat.text("000003")
    locked = await chat.text("000004")
    assert "too many attempts" in locked.lower()
    again = bot.chat("alice")
    assert "too many attempts" in (await again.text("reset")).lower()
    other_channel = bot.chat("alice@contoso.com")
    assert "too many attempts" in (await other_channel.text("reset")).lower()
    assert await bot.password_is("alice", PASSWORDS["alice"])
    assert "reset.locked" in [e["event"] for e in bot.audit()]


async def test_the_lock_lifts_after_its_duration(bot: Bot) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    await chat.text("email")
    for wrong in ("1", "2", "3"):
        await chat.text(wrong * 6)
    await chat.text("resend")
    await chat.text("444444")
    assert "too many attempts" in (await chat.text("555555")).lower()
    bot.clock.advance(24 * 3600 + 1)
    assert "Hi Bob Basic" in await bot.chat("bob").text("reset")


async def test_a_resend_does_not_reset_the_failure_count(bot: Bot) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    await chat.text("email")
    for _ in range(2):
        await chat.text("999999")
        await chat.text("resend")
    await chat.text("999999")
    await chat.text("resend")
    await chat.text("999999")
    assert "too many attempts" in (await chat.text("999999")).lower()


async def test_an_expired_code_is_refused_and_a_new_one_works(bot: Bot) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    await chat.text("email")
    old = bot.outbox.last_code()
    bot.clock.advance(301)
    assert "expired" in await chat.text(old)
    await chat.text("resend")
    assert "temporary password" in await chat.text(bot.outbox.last_code())


async def test_the_session_expires(bot: Bot) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    await chat.text("email")
    code = bot.outbox.last_code()
    bot.clock.advance(15 * 60)
    assert "took too long" in await chat.text(code)
    assert await bot.password_is("bob", PASSWORDS["bob"])
    assert "Hi Bob Basic" in await chat.text("reset")


async def test_cancel_changes_nothing(bot: Bot) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    await chat.text("email")
    code = bot.outbox.last_code()
    assert "Cancelled" in await chat.text("cancel")
    assert "Hi Bob Basic" in await chat.text(code)
    assert await bot.password_is("bob", PASSWORDS["bob"])


async def test_help_and_agent_work_in_every_state(bot: Bot) -> None:
    chat = bot.chat("bob")
    assert "I reset forgotten passwords" in await chat.text("help")
    await chat.text("reset")
    assert "I reset forgotten passwords" in await chat.text("help")
    await chat.text("email")
    assert "I reset forgotten passwords" in await chat.text("HELP")
    assert "contact the IT helpdesk" in await chat.text("agent")
    assert "Hi Bob Basic" in await chat.text(bot.outbox.last_code())


async def test_an_admin_needs_two_methods_and_never_gets_questions(bot: Bot) -> None:
    chat = bot.chat("adele")
    menu = await chat.text("reset")
    assert "security questions" not in menu
    await chat.text("email")
    second = await chat.text(bot.outbox.last_code())
    assert "One more check" in second
    assert "security questions" not in second
    assert "pick one" in (await chat.text("questions")).lower()
    await chat.text("app")
    assert "temporary password" in await chat.text(bot.totp("adele"))
    reset = [e for e in bot.audit() if e["event"] == "password.reset"]
    assert reset[0]["admin"] is True


async def test_asking_for_another_account_is_refused(bot: Bot) -> None:
    chat = bot.chat("alice")
    for request in ("reset bob", "reset password for bob", "reset bob's password"):
        assert "only reset the password of the account you're signed in with" in (
            await chat.text(request)
        )
    assert bot.outbox.messages() == []
    assert "Hi Alice Wilber" in await chat.text("reset alice@contoso.com")


async def test_accounts_that_may_not_reset_are_told_so(bot: Bot) -> None:
    for user in ("dave", "olivia", "nobody-here"):
        assert "isn't available for your account" in await bot.chat(user).text("reset")
    assert bot.outbox.messages() == []


async def test_authenticator_codes_cannot_be_replayed(bot: Bot) -> None:
    code = bot.totp("alice")
    first = bot.chat("alice")
    await first.text("reset")
    await first.text("app")
    assert "temporary password" in await first.text(code)
    second = bot.chat("alice")
    await second.text("reset")
    await second.text("app")
    assert "isn't right" in await second.text(code)
    assert "temporary password" in await second.text(bot.totp("alice", step_offset=1))


async def test_chat_entry_checks_the_password_then_sets_it(make_bot: MakeBot) -> None:
    async with make_bot(password={"entry": "chat", "banned_words": ["contoso"]}) as bot:
        chat = bot.chat("bob")
        await chat.text("reset")
        await chat.text("email")
        assert "chat keeps a copy" in await chat.text(bot.outbox.last_code())
        assert "too short" in await chat.text("short")
        assert "too common" in await chat.text("Password123!")
        assert "easy to guess" in await chat.text("welcome-to-Contoso-2026")
        assert "your name or username" in await chat.text("bob-is-my-name-123")
        assert "Done" in await chat.text("correct horse battery staple")
        assert await bot.password_is("bob", "correct horse battery staple")


async def test_a_message_too_long_changes_nothing(bot: Bot) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    assert "too long" in await chat.text("x" * 5000)
    assert "I've emailed" in await chat.text("email")


async def test_a_word_typed_instead_of_a_code_costs_no_attempt(bot: Bot) -> None:
    chat = bot.chat("bob")
    await chat.text("reset")
    await chat.text("email")
    for _ in range(6):
        assert "type the code in digits" in await chat.text("reset")
    assert "temporary password" in await chat.text(bot.outbox.last_code())


async def test_admins_resets_are_reported_to_the_configured_people(make_bot: MakeBot) -> None:
    async with make_bot(notifications={"admin_recipients": ["secops@contoso.com"]}) as bot:
        chat = bot.chat("adele")
        await chat.text("reset")
        await chat.text("app")
        await chat.text(bot.totp("adele"))
        await chat.text("email")
        assert "temporary password" in await chat.text(bot.outbox.last_code())
        await bot.runtime.background.drain()
        told = {m["to"]: m["subject"] for m in bot.outbox.messages()[-2:]}
        assert told == {
            "adele@contoso.com": "Your password was reset",
            "secops@contoso.com": "An administrator's password was reset",
        }
