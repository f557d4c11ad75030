"""Enumeration through counters an account's aliases share.

The attack: wrong codes after typing `bob`, then one more after typing `bob@contoso.com` in
a new conversation, answered "too many attempts" for a real account and "that code isn't
right" for a made-up one. What holds: every reply is byte identical, up to the first
passed check, for any two sequences of typed names that differ only in whether the names
exist (aliases, emails, object ids and case variants of one account included); and a real
account still gets at most the configured failures per window across all its names.
"""

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from tests.support.harness import Bot
from tests.support.slapd import SlapdServer, user_dn

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
EMAIL_FIRST = {"verification": {"methods": ["email", "sms", "authenticator"]}}
WRONG = ("111111", "222222", "333333", "resend", "444444", "555555", "666666")


async def transcript(bot: Bot, names: list[str], answers: tuple[str, ...]) -> list[str]:
    """Each name typed in a conversation of its own, then the answers; every reply."""
    said: list[str] = []
    for name in names:
        chat = bot.chat()
        said.append(await chat.text("reset"))
        said.append(await chat.text(name))
        for answer in answers:
            said.append(await chat.text(answer))
    return said


def split(answers: tuple[str, ...], at: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return answers[:at], answers[at:]


async def alias_attack(bot: Bot, names: list[str]) -> list[str]:
    """Four wrong codes under the first name, then one more under each other name, then a
    new conversation under the first name again."""
    first, _ = split(WRONG, 5)  # 111111 222222 333333 resend 444444: four failures
    said = await transcript(bot, names[:1], first)
    for name in names[1:]:
        said += await transcript(bot, [name], ("777777",))
    said += await transcript(bot, names[:1], ("888888",))
    return said


async def test_aliases_of_a_real_account_read_exactly_like_made_up_names(
    make_bot: MakeBot,
) -> None:
    async with make_bot(**EMAIL_FIRST) as bot:
        bob = await bot.runtime.directory.find("bob")
        assert bob is not None
        real = ["bob", "bob@contoso.com", "BOB@Contoso.com", bob.id]
        made_up = ["ghost", "ghost@contoso.com", "GHOST@Contoso.com", str(uuid.uuid4())]
        assert await alias_attack(bot, real) == await alias_attack(bot, made_up)


async def test_a_real_account_gets_its_failures_once_across_all_its_names(
    make_bot: MakeBot,
) -> None:
    async with make_bot(**EMAIL_FIRST) as bot:
        waiting = bot.chat()  # a conversation under way before the others fail
        await waiting.text("reset")
        await waiting.text("bob@contoso.com")
        await bot.runtime.background.drain()
        code = bot.outbox.last_code()
        for name in ("bob", "Bob", "bob@contoso.com", "BOB@CONTOSO.COM", "bob"):
            await transcript(bot, [name], ("999999",))
        await bot.runtime.background.drain()
        sent = len(bot.outbox.messages())
        assert "isn't right" in await waiting.text(code)  # its right code no longer passes
        later = bot.chat()
        await later.text("reset")
        await later.text("bob")
        await bot.runtime.background.drain()
        assert len(bot.outbox.messages()) == sent  # nothing more is sent to bob
        signed_in = bot.chat("bob")
        assert "too many attempts" in await signed_in.text("reset")
        assert not any(e["event"] == "password.reset" for e in bot.audit())


def on_slapd(make_bot: MakeBot, slapd: SlapdServer, **config: Any) -> Any:
    return make_bot(
        slapd.environ,
        directory={"kind": "ldap", "ldap": slapd.directory_config()},
        access={"mode": "groups", "groups": ["sspr-users"]},
        **EMAIL_FIRST,
        **config,
    )


async def test_uid_mail_and_entry_uuid_of_one_slapd_entry_read_like_made_up_names(
    make_bot: MakeBot, slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    uid = make_ldap_user(groups=["sspr-users"], mail=f"{uuid.uuid4().hex[:8]}@example.org")
    entry = slapd.read(user_dn(uid), "mail", "entryUUID")
    mail, entry_uuid = entry["mail"][0], entry["entryUUID"][0]
    async with on_slapd(make_bot, slapd) as bot:
        real = [uid, mail, mail.upper(), entry_uuid]
        made_up = ["tnobody1", "nobody1@example.org", "NOBODY1@EXAMPLE.ORG", str(uuid.uuid4())]
        assert await alias_attack(bot, real) == await alias_attack(bot, made_up)
        signed_in = bot.chat(uid)
        assert "too many attempts" in await signed_in.text("reset")
