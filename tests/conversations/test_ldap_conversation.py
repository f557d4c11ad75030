"""A whole reset on OpenLDAP: the real bot and the real LDAP adapter against a real slapd
with the password-policy overlay."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from tests.support.harness import Bot
from tests.support.slapd import SEED_PASSWORD, SlapdServer, user_dn

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]


def on_ldap(
    make_bot: MakeBot, slapd: SlapdServer, **config: object
) -> AbstractAsyncContextManager[Bot]:
    return make_bot(
        slapd.environ,
        directory={"kind": "ldap", "ldap": slapd.directory_config()},
        access={"mode": "groups", "groups": ["sspr-users"]},
        **config,
    )


async def test_a_reset_lands_in_openldap(
    make_bot: MakeBot, slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    uid = make_ldap_user(groups=["sspr-users"], mail="tester@example.org", mobile="+1 555 0100")
    async with on_ldap(make_bot, slapd) as bot:
        chat = bot.chat(uid)
        menu = await chat.text("reset")
        assert "t***@example.org" in menu
        await chat.text("email")
        done = await chat.text(bot.outbox.last_code())
        temporary = done.split("\n\n")[1]
    assert slapd.can_bind(user_dn(uid), temporary)
    assert not slapd.can_bind(user_dn(uid), SEED_PASSWORD)
    assert slapd.read(user_dn(uid), "pwdReset") == {"pwdReset": ["TRUE"]}


async def test_a_typed_password_the_policy_refuses_is_explained_then_a_good_one_lands(
    make_bot: MakeBot, slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    uid = make_ldap_user(groups=["sspr-users"], mail="tester@example.org")
    async with on_ldap(make_bot, slapd, password={"entry": "chat"}) as bot:
        chat = bot.chat(uid)
        await chat.text("reset")
        await chat.text("email")
        await chat.text(bot.outbox.last_code())
        refused = await chat.text(SEED_PASSWORD)
        assert "That is your current password" in refused
        assert "Done" in await chat.text("quiet lantern over the harbour")
    assert slapd.can_bind(user_dn(uid), "quiet lantern over the harbour")


async def test_a_locked_out_account_is_unlocked_and_keeps_its_password(
    make_bot: MakeBot, slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    uid = make_ldap_user(groups=["sspr-users"], mail="tester@example.org")
    slapd.lock_out(user_dn(uid))
    async with on_ldap(make_bot, slapd) as bot:
        chat = bot.chat(uid)
        await chat.text("reset")
        await chat.text("email")
        assert "Your account is locked" in await chat.text(bot.outbox.last_code())
        assert "unlocked" in await chat.text("unlock")
    assert slapd.can_bind(user_dn(uid), SEED_PASSWORD)
