"""The LDAP directory's Active Directory flavour against a real Samba AD domain controller
(`tests.support.samba`): lookups, nested groups, account state, password resets over LDAPS and
their refusals, lockout and unlock, as the bot does them."""

import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.directory import (
    Account,
    DirectoryUnavailable,
    PasswordRejected,
    ResetNotPermitted,
)
from adapters.directory.ldap import (
    BIND_PASSWORD_VARIABLE,
    LdapDirectory,
    LdapDirectorySettings,
    open_ldap_directory,
)
from adapters.directory.ldap.passwords import check_ad_result
from tests.support.samba import SambaDC

NEW_PASSWORD = "Fresh-horse-battery-7"


async def open_directory(ad: SambaDC, **overrides: Any) -> LdapDirectory:
    settings = LdapDirectorySettings.model_validate(ad.directory_config(**overrides))
    return await open_ldap_directory(settings, ad.environ)


@pytest.fixture
async def directory(ad: SambaDC) -> AsyncIterator[LdapDirectory]:
    """The adapter as the bot opens it: LDAPS with the domain's CA, admins in Domain Admins."""
    opened = await open_directory(ad)
    yield opened
    await opened.close()


@pytest.fixture
async def plain_directory(ad: SambaDC) -> AsyncIterator[LdapDirectory]:
    """The adapter configured on plain LDAP (port 389, no StartTLS)."""
    opened = await open_directory(ad, urls=[ad.ldap_url], start_tls=False)
    yield opened
    await opened.close()


async def found(directory: LdapDirectory, name: str) -> Account:
    account = await directory.find(name)
    assert account is not None, name
    return account


# Finding accounts


async def test_find_by_sam_account_name_with_contact_details(
    directory: LdapDirectory, ad: SambaDC
) -> None:
    alice = await found(directory, "alice")
    assert alice.username == "alice"
    assert alice.display_name == "Alice Archer"
    assert (alice.email, alice.mobile_phone, alice.office_phone) == (
        "alice@sspr.test",
        "+15550100001",
        "+15550100002",
    )
    assert alice.aliases == {"alice@sspr.test"}  # the UPN, which is also her mail
    assert (alice.enabled, alice.locked, alice.is_admin) == (True, False, False)
    assert await found(directory, "ALICE") == alice  # AD compares names case-insensitively
    assert await found(directory, alice.id) == alice  # the objectGUID, as the id


async def test_find_by_user_principal_name(directory: LdapDirectory) -> None:
    carol = await found(directory, "carol@sspr.test")  # carol has no mail: the UPN it is
    assert carol.username == "carol"
    assert carol.email is None


async def test_unknown_name_matches_nothing(directory: LdapDirectory) -> None:
    assert await directory.find("nobody") is None
    assert await directory.find("nobody@sspr.test") is None


@pytest.mark.parametrize(
    "name",
    [
        "*",
        "a*",
        "*)(sAMAccountName=*",
        "admin)(|(sAMAccountName=*",
        "alice)(|(objectClass=*",
        "*)(userPrincipalName=*)(|(sAMAccountName=alice",
        "alice\x00",
        "alice\x00)(x=*",
    ],
)
async def test_an_injection_attempt_matches_nothing(directory: LdapDirectory, name: str) -> None:
    assert await directory.find(name) is None


# Groups and account state


async def test_nested_group_membership_makes_eligible(directory: LdapDirectory) -> None:
    carol = await found(directory, "carol")  # in sales, which is in sspr-users
    assert await directory.in_any_group(carol, ["sspr-users"])
    assert await directory.in_any_group(carol, ["sales"])
    assert await directory.in_any_group(carol, ["CN=sspr-users,CN=Users,DC=sspr,DC=test"])


async def test_a_non_member_is_not_eligible(directory: LdapDirectory) -> None:
    bob = await found(directory, "bob")
    assert not await directory.in_any_group(bob, ["sspr-users"])
    assert not await directory.in_any_group(bob, ["sales", "no-such-group"])
    assert not await directory.in_any_group(bob, [])


async def test_a_disabled_account_reads_as_disabled(directory: LdapDirectory) -> None:
    dave = await found(directory, "dave")
    assert not dave.enabled
    assert not dave.locked
    assert (await found(directory, "bob")).enabled


async def test_a_domain_admins_member_is_an_admin(directory: LdapDirectory) -> None:
    assert (await found(directory, "sspr-admin")).is_admin
    assert not (await found(directory, "bob")).is_admin


async def test_admin_group_membership_is_what_makes_the_admin(ad: SambaDC) -> None:
    """Samba sets no adminCount on Domain Admins members (Windows' SDProp would, within an
    hour): the well-known admin groups make them admins by default, and an explicitly empty
    list turns that off."""
    assert ad.attribute("sspr-admin", "adminCount") is None
    for admin_groups, expected in ((None, True), ([], False)):
        directory = await open_directory(ad, admin_groups=admin_groups)
        try:
            assert (await found(directory, "sspr-admin")).is_admin is expected
            assert not (await found(directory, "bob")).is_admin
        finally:
            await directory.close()


# Administrators' addresses


async def test_admin_emails_are_the_enabled_admins_with_mail(directory: LdapDirectory) -> None:
    """frank directly and hana through tier0-admins (nested) are told; gina is disabled,
    Administrator and sspr-admin have no mail."""
    assert await directory.admin_emails() == ["frank@sspr.test", "Hana.Hill@sspr.test"]


async def test_admin_emails_of_the_default_admin_groups_are_told_once(ad: SambaDC) -> None:
    """Domain Admins is itself a member of Administrators: its members come back from two
    of the four searches, and are told once."""
    directory = await open_directory(ad, admin_groups=None)
    try:
        assert await directory.admin_emails() == ["frank@sspr.test", "Hana.Hill@sspr.test"]
    finally:
        await directory.close()


async def test_a_disabled_admin_is_not_told(directory: LdapDirectory, ad: SambaDC) -> None:
    gina = await found(directory, "gina")
    assert (gina.enabled, gina.is_admin, gina.email) == (False, True, "gina@sspr.test")
    assert "gina@sspr.test" not in await directory.admin_emails()


async def test_no_admin_with_mail_is_an_empty_list(ad: SambaDC) -> None:
    directory = await open_directory(ad, admin_groups=["Enterprise Admins"])  # Administrator
    try:
        assert await directory.admin_emails() == []
    finally:
        await directory.close()


async def test_a_missing_admin_group_is_skipped_with_one_warning(
    ad: SambaDC, caplog: pytest.LogCaptureFixture
) -> None:
    gone = f"CN=Gone Admins,{ad.users_dn}"
    directory = await open_directory(ad, admin_groups=[gone, "Domain Admins"])
    try:
        with caplog.at_level(logging.WARNING, logger="adapters.directory.ldap"):
            for _ in range(2):
                assert await directory.admin_emails() == ["frank@sspr.test", "Hana.Hill@sspr.test"]
    finally:
        await directory.close()
    assert sum(repr(gone) in record.getMessage() for record in caplog.records) == 1


async def test_admin_emails_come_from_the_configured_email_attribute(ad: SambaDC) -> None:
    """With the UPN as the email attribute, the admins without mail are told too."""
    directory = await open_directory(ad, attributes={"email": "userPrincipalName"})
    try:
        assert await directory.admin_emails() == [
            "frank@sspr.test",
            "hana@sspr.test",
            "sspr-admin@sspr.test",
        ]
    finally:
        await directory.close()


# Password resets


async def test_set_password_over_ldaps(directory: LdapDirectory, ad: SambaDC) -> None:
    bob = await found(directory, "bob")
    await directory.set_password(bob, NEW_PASSWORD, must_change=False)
    assert ad.can_bind("bob", NEW_PASSWORD)
    assert ad.bind_error("bob", ad.passwords["bob"]) == "52e"  # the old one: wrong password
    assert ad.integer("bob", "pwdLastSet") != 0


async def test_set_password_with_start_tls(ad: SambaDC) -> None:
    directory = await open_directory(ad, urls=[ad.ldap_url], start_tls=True)
    try:
        await directory.set_password(await found(directory, "bob"), NEW_PASSWORD, must_change=False)
    finally:
        await directory.close()
    assert ad.can_bind("bob", NEW_PASSWORD)


async def test_must_change_leaves_pwd_last_set_zero(directory: LdapDirectory, ad: SambaDC) -> None:
    bob = await found(directory, "bob")
    await directory.set_password(bob, NEW_PASSWORD, must_change=True)
    assert ad.integer("bob", "pwdLastSet") == 0
    # The right password, but AD wants it changed before anything else.
    assert ad.bind_error("bob", NEW_PASSWORD) == "773"


async def test_set_password_over_plain_ldap_is_refused_unsent(
    plain_directory: LdapDirectory, ad: SambaDC
) -> None:
    """Samba, told to allow simple binds on port 389, would take a `unicodePwd` there (a
    Windows DC would not): the adapter alone keeps the password off the wire."""
    bob = await found(plain_directory, "bob")  # reading over plain LDAP works
    before = ad.integer("bob", "uSNChanged")
    with pytest.raises(DirectoryUnavailable, match="only over an encrypted connection"):
        await plain_directory.set_password(bob, NEW_PASSWORD, must_change=False)
    assert ad.integer("bob", "uSNChanged") == before  # no write reached the entry
    assert ad.can_bind("bob", ad.passwords["bob"])
    assert not ad.can_bind("bob", NEW_PASSWORD)


@pytest.mark.parametrize(
    "weak",
    [
        pytest.param("Ab1-x", id="too-short"),
        pytest.param("alllowercaseletters", id="not-complex"),
    ],
)
async def test_a_weak_password_is_rejected_by_policy(
    directory: LdapDirectory, ad: SambaDC, weak: str
) -> None:
    bob = await found(directory, "bob")
    with pytest.raises(PasswordRejected) as rejected:
        await directory.set_password(bob, weak, must_change=False)
    assert rejected.value.kind == "policy"
    assert "password rules" in rejected.value.reason
    assert "0000052D" not in rejected.value.reason  # our sentence, not the server's
    assert ad.can_bind("bob", ad.passwords["bob"])


async def test_an_admin_reset_is_not_checked_against_the_history(
    directory: LdapDirectory, ad: SambaDC
) -> None:
    """AD checks the history only when users change their own password (or when a reset
    carries the LDAP_SERVER_POLICY_HINTS control, which Samba 4.17 does not support): the
    bot's reset to the current password, or to a recent one, goes through."""
    bob = await found(directory, "bob")
    await directory.set_password(bob, ad.passwords["bob"], must_change=False)
    await directory.set_password(bob, NEW_PASSWORD, must_change=False)
    await directory.set_password(bob, ad.passwords["bob"], must_change=False)
    assert ad.can_bind("bob", ad.passwords["bob"])


async def test_samba_history_refusal_maps_to_history(ad: SambaDC) -> None:
    """What Samba answers a user who reuses a password, through the adapter's mapping."""
    first, second = ad.passwords["bob"], f"Never-used-{secrets.token_hex(4)}-7"
    assert ad.change_own_password("bob", first, second)["result"] == 0
    result = ad.change_own_password("bob", second, first)
    assert result["message"].startswith("0000052D")
    assert "history" in result["message"]
    with pytest.raises(PasswordRejected) as rejected:
        check_ad_result(result, ad.ldaps_url)
    assert rejected.value.kind == "history"


async def test_a_bind_account_without_reset_rights_is_not_permitted(ad: SambaDC) -> None:
    """Bound as an ordinary user (no "Reset password" right on others), the reset is
    refused with insufficientAccessRights: the helpdesk's case, not the user's."""
    settings = LdapDirectorySettings.model_validate(ad.directory_config(bind_dn=ad.dn("bob")))
    directory = await open_ldap_directory(settings, {BIND_PASSWORD_VARIABLE: ad.passwords["bob"]})
    try:
        alice = await found(directory, "alice")
        with pytest.raises(ResetNotPermitted):
            await directory.set_password(alice, NEW_PASSWORD, must_change=False)
    finally:
        await directory.close()
    assert ad.can_bind("alice", ad.passwords["alice"])


# Lockout


async def test_unlock_a_locked_out_account(directory: LdapDirectory, ad: SambaDC) -> None:
    ad.lock_out("erin")
    assert ad.bind_error("erin", ad.passwords["erin"]) == "775"
    erin = await found(directory, "erin")
    assert erin.locked
    assert directory.can_unlock
    await directory.unlock(erin)
    assert ad.integer("erin", "lockoutTime") == 0
    assert ad.can_bind("erin", ad.passwords["erin"])  # the password kept
    assert not (await found(directory, "erin")).locked
