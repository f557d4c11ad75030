"""Where the account name is typed, nothing may tell whether it exists, is enabled, is in
scope or has a method, until a first verification has passed (OWASP Forgot Password)."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from tests.support.activities import visible
from tests.support.harness import Bot

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]

SCRIPT = ["reset", "{name}", "123456", "other", "654321", "resend", "other", "other", "000000"]


async def transcript(bot: Bot, name: str) -> list[list[dict[str, Any]]]:
    chat = bot.chat()
    return [[visible(a) for a in await chat.say(line.format(name=name))] for line in SCRIPT]


async def test_every_account_gets_the_same_answers_before_a_verification(
    make_bot: MakeBot,
) -> None:
    """Each name on a fresh store: counters shared by one account's aliases stay apart."""
    names = ["alice", "no-such-user", "dave", "olivia", "adele", "bob", "ALICE@contoso.com "]
    names += ["*)(uid=*", "x" * 300, "\u0000admin"]
    transcripts = []
    for name in names:
        async with make_bot() as bot:
            transcripts.append(await transcript(bot, name))
    real = transcripts[0]
    for name, other in zip(names[1:], transcripts[1:], strict=True):
        assert other == real, name
    assert "If that account uses an authenticator app" in real[1][0]["text"]
    assert all("alice" not in str(turn).casefold() for turn in real[1:])


async def test_codes_go_only_to_real_accounts_that_may_reset(bot: Bot) -> None:
    for name in ("no-such-user", "dave", "olivia"):
        await transcript(bot, name)
    await bot.runtime.background.drain()
    assert bot.outbox.messages() == []
    await transcript(bot, "bob")
    await bot.runtime.background.drain()
    sent = bot.outbox.messages()
    assert [(m["medium"], m["to"]) for m in sent] == [
        ("sms", "+1 425 555 0105"),
        ("sms", "+1 425 555 0105"),
        ("voice", "+1 425 555 0105"),
        ("email", "bob@contoso.com"),
    ]


async def test_alternatives_appear_masked_only_after_a_first_verification(
    make_bot: MakeBot,
) -> None:
    async with make_bot(verification={"required": 2}) as bot:
        chat = bot.chat()
        await chat.text("reset")
        await chat.text("alice")
        menu = await chat.say(bot.totp("alice"))
        text = menu[0].text or ""
        assert "One more check" in text
        assert "+1 *** *** 0101" in text
        assert "a***@contoso.com" in text
        assert "Authenticator" not in text
        await chat.text("email")
        assert "temporary password" in await chat.text(bot.outbox.last_code())


async def test_a_typed_name_resets_after_one_verification(bot: Bot) -> None:
    chat = bot.chat()
    await chat.text("hello")
    await chat.text("bob@contoso.com")
    await chat.text("other")
    await bot.runtime.background.drain()
    assert "temporary password" in await chat.text(bot.outbox.last_code())


async def test_failures_on_an_unknown_name_lock_like_a_real_one(bot: Bot) -> None:
    answers = []
    for name in ("ghost", "bob"):
        chat = bot.chat()
        await chat.text("reset")
        await chat.text(name)
        answers.append([await chat.text(str(n) * 6) for n in range(5)])
    assert answers[0] == answers[1]
    assert "too many attempts" in answers[0][-1].lower()
