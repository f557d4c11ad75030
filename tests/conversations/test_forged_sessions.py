"""A stored session that claims a state it never earned (a bug elsewhere, or a record
written by hand) changes no password: the machine's guard decides each step toward the
directory, and `settle` checks the proofs again before it writes."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

from dialogs import Inbound, Outcome
from dialogs.session import AccountChange, ResetSession
from tests.support.harness import PASSWORDS, Bot

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
NEW = "A long and quite new passphrase 42"


async def forged(bot: Bot, state: str) -> ResetSession:
    bob = await bot.runtime.directory.find("bob")
    assert bob is not None
    now = bot.clock.now()
    return ResetSession(
        state=state,
        nonce="f" * 32,
        expires_at=now + 900,
        subject=bob.id,
        account_id=bob.id,
        required=1,
    )


async def test_an_unearned_password_step_sets_nothing(make_bot: MakeBot) -> None:
    async with make_bot(password={"entry": "chat"}) as bot:
        session = await forged(bot, "choosing_password")
        dialog = bot.runtime.dialog
        outcome = await dialog.turn(session.to_dict(), Inbound(NEW, "test", user="bob"))
        assert outcome.account_change is None
        await dialog.settle(outcome)
        assert await bot.password_is("bob", PASSWORDS["bob"])


async def test_settle_refuses_a_change_for_an_unverified_session(make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        session = await forged(bot, "resetting")
        change = Outcome(session=session.to_dict(), account_change=AccountChange(password=NEW))
        settled = await bot.runtime.dialog.settle(change)
        assert settled.changed is False
        assert await bot.password_is("bob", PASSWORDS["bob"])
        verified = replace(session, proven=["email"], passed=["email"])
        done = await bot.runtime.dialog.settle(
            Outcome(session=verified.to_dict(), account_change=AccountChange(password=NEW))
        )
        assert done.changed is True
        assert await bot.password_is("bob", NEW)
