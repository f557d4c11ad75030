"""The LDAP directory against a real OpenLDAP slapd (ppolicy, memberof, TLS), and the
Active Directory flavour's parts that need no server (a colleague's Samba AD tests cover
the rest)."""

import logging
import re
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.directory import (
    Account,
    DirectoryUnavailable,
    PasswordRejected,
    ResetNotPermitted,
)
from adapters.directory.base import MAX_ADMIN_EMAILS
from adapters.directory.ldap import (
    BIND_PASSWORD_VARIABLE,
    LdapDirectory,
    LdapDirectorySettings,
    filters,
    open_ldap_directory,
)
from adapters.directory.ldap.connections import ConnectionPool, Session, VerifyingTls
from adapters.directory.ldap.library import ldap3
from adapters.directory.ldap.passwords import check_ad_result, unicode_pwd
from tests.support.ports import HOST, free_port
from tests.support.slapd import (
    BOT_DN,
    DISABLED_TIME,
    ROOT_DN,
    SEED_PASSWORD,
    SUFFIX,
    SlapdServer,
    group_dn,
    user_dn,
)
from tests.support.tls import write_unrelated_ca

NEW_PASSWORD = "Fresh-horse-battery-7"
# In slapd's stats log: which operation a line is about, and how many entries a search sent.
OPERATION = re.compile(r"conn=\d+ op=\d+")
ENTRIES_SENT = re.compile(r"SEARCH RESULT .*nentries=(\d+)")


def settings_for(slapd: SlapdServer, **overrides: Any) -> LdapDirectorySettings:
    return LdapDirectorySettings.model_validate(slapd.directory_config(**overrides))


@pytest.fixture
async def directory(slapd: SlapdServer) -> AsyncIterator[LdapDirectory]:
    """The adapter as the bot opens it: StartTLS with the fixture's CA, the bot's bind DN."""
    opened = await open_ldap_directory(settings_for(slapd), slapd.environ)
    yield opened
    await opened.close()


async def found(directory: LdapDirectory, name: str) -> Account:
    account = await directory.find(name)
    assert account is not None, name
    return account


# Finding accounts


async def test_find_by_uid_with_contact_details(
    directory: LdapDirectory, slapd: SlapdServer
) -> None:
    alice = await found(directory, "alice")
    assert alice.username == "alice"
    assert alice.display_name == "Alice Example"
    assert (alice.email, alice.mobile_phone, alice.office_phone) == (
        "alice@example.org",
        "+15550100001",
        "+15550100002",
    )
    assert alice.aliases == {"alice@example.org"}
    assert alice.enabled
    assert not alice.locked
    assert not alice.is_admin
    assert alice.id == slapd.read(user_dn("alice"), "entryUUID")["entryUUID"][0]
    assert await directory.totp_secret(alice) is None
    assert alice.questions == ()


async def test_find_by_mail_by_id_and_ignoring_case(directory: LdapDirectory) -> None:
    bob = await found(directory, "bob@example.org")
    assert bob.username == "bob"
    assert await directory.find("  BOB  ") == bob
    assert await directory.find(bob.id) == bob  # the dialog finds the account again by id
    assert await directory.find(bob.id.upper()) == bob


async def test_unknown_and_unusable_names_find_nothing(directory: LdapDirectory) -> None:
    for name in ("nobody", "", "   ", "x" * 300, str(uuid.uuid4()), f"uid=alice,{SUFFIX}x"):
        assert await directory.find(name) is None


async def test_a_disabled_account_is_found_as_disabled(directory: LdapDirectory) -> None:
    dave = await found(directory, "dave")
    assert not dave.enabled
    assert not dave.locked  # disabled is not the same as locked out


async def test_an_admin_group_member_is_an_admin(directory: LdapDirectory) -> None:
    assert (await found(directory, "erin")).is_admin
    assert not (await found(directory, "carol")).is_admin


async def test_accounts_are_the_enabled_entries_a_page_at_a_time(
    slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    made = {make_ldap_user(mail=f"listed{n}@example.org") for n in range(3)}
    make_ldap_user(pwdAccountLockedTime=DISABLED_TIME)
    logged_before = len(slapd.log_text())
    opened = await open_ldap_directory(settings_for(slapd), slapd.environ, page_size=2)
    try:
        listed = [account async for account in opened.accounts()]
        alice = await found(opened, "alice")
    finally:
        await opened.close()

    names = [account.username for account in listed]
    enabled = {"alice", "bob", "carol", "erin", "grace", "heidi", "olivia"}
    assert sorted(names) == sorted(enabled | made)  # each once; dave and the new one disabled
    assert [account for account in listed if account.username == "alice"] == [alice]
    assert {account.username for account in listed if account.is_admin} == {
        "erin",
        "grace",
        "heidi",
    }
    log = slapd.log_text()[logged_before:]
    user_filter = 'filter="(objectClass=inetOrgPerson)"'
    pages = [OPERATION.search(line) for line in log.splitlines() if user_filter in line]
    page_ops = {match.group(0) for match in pages if match}
    counts = [
        int(found_count.group(1))
        for line in log.splitlines()
        if (operation := OPERATION.search(line))
        and operation.group(0) in page_ops
        and (found_count := ENTRIES_SENT.search(line))
    ]
    assert len(page_ops) >= 6  # twelve entries, two a request
    assert len({operation.split()[0] for operation in page_ops}) == 1  # on one connection
    assert max(counts) == 2
    assert sum(counts) == len(names) + 2


# Eligibility by group


async def test_direct_and_nested_group_membership(directory: LdapDirectory) -> None:
    alice, bob, carol = [await found(directory, n) for n in ("alice", "bob", "carol")]
    assert await directory.in_any_group(alice, ["sspr-users"])
    assert await directory.in_any_group(carol, ["sspr-users"])  # through `sales`
    assert await directory.in_any_group(carol, [group_dn("sspr-users")])  # by DN
    assert not await directory.in_any_group(bob, ["sspr-users"])
    assert await directory.in_any_group(bob, ["it-admins", "contractors"])  # groupOfUniqueNames
    assert not await directory.in_any_group(bob, [])
    assert not await directory.in_any_group(bob, ["no-such-group"])


async def test_a_cycle_of_groups_ends_the_walk(
    directory: LdapDirectory, make_ldap_user: Callable[..., str]
) -> None:
    member = await found(directory, make_ldap_user(groups=["cycle-a"]))
    assert await directory.in_any_group(member, ["cycle-b"])
    assert not await directory.in_any_group(member, ["sspr-users"])


# Administrators' addresses


async def test_admin_emails_are_the_admin_groups_members_with_mail(
    directory: LdapDirectory,
) -> None:
    """erin directly and through security-team (once), grace through security-team (a
    groupOfUniqueNames nested in it-admins); heidi has no mail and is left out."""
    assert await directory.admin_emails() == ["erin@example.org", "grace@example.org"]


async def test_admin_emails_through_two_groups_are_told_once(slapd: SlapdServer) -> None:
    settings = settings_for(slapd, admin_groups=["security-team", group_dn("it-admins")])
    opened = await open_ldap_directory(settings, slapd.environ)
    try:
        assert await opened.admin_emails() == ["erin@example.org", "grace@example.org"]
    finally:
        await opened.close()


async def test_admin_emails_keep_the_first_spelling_and_leave_out_the_disabled(
    directory: LdapDirectory, make_ldap_user: Callable[..., str]
) -> None:
    make_ldap_user(groups=["it-admins"], mail="ERIN@Example.org")  # after erin's own entry
    make_ldap_user(groups=["it-admins"], mail="  Zoe@example.org ")
    make_ldap_user(
        groups=["it-admins"], mail="gone@example.org", pwdAccountLockedTime=DISABLED_TIME
    )
    make_ldap_user(groups=["it-admins"], mail="not an address")
    assert await directory.admin_emails() == [
        "erin@example.org",
        "grace@example.org",
        "Zoe@example.org",
    ]


async def test_admin_emails_read_unique_members_with_an_optional_uid(
    slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    member = user_dn(make_ldap_user(mail="uid-form@example.org"))
    value = f"{member}#'0101'B"
    with slapd.root() as connection:
        connection.modify(group_dn("contractors"), {"uniqueMember": [(ldap3.MODIFY_ADD, [value])]})
    try:
        opened = await open_ldap_directory(
            settings_for(slapd, admin_groups=["contractors"]), slapd.environ
        )
        try:
            assert await opened.admin_emails() == ["bob@example.org", "uid-form@example.org"]
        finally:
            await opened.close()
    finally:
        with slapd.root() as connection:
            connection.modify(
                group_dn("contractors"), {"uniqueMember": [(ldap3.MODIFY_DELETE, [value])]}
            )


async def test_no_admin_with_an_address_is_an_empty_list(
    slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    make_ldap_user(groups=["cycle-b"])  # no mail, behind a cycle of groups
    for admin_groups in (["cycle-a"], []):
        opened = await open_ldap_directory(
            settings_for(slapd, admin_groups=admin_groups), slapd.environ
        )
        try:
            assert await opened.admin_emails() == []
        finally:
            await opened.close()


async def test_missing_admin_groups_are_skipped_with_one_warning(
    slapd: SlapdServer, caplog: pytest.LogCaptureFixture
) -> None:
    gone = group_dn("gone")
    settings = settings_for(slapd, admin_groups=["no-such-group", gone, "it-admins"])
    opened = await open_ldap_directory(settings, slapd.environ)
    try:
        with caplog.at_level(logging.WARNING, logger="adapters.directory.ldap"):
            for _ in range(2):
                assert await opened.admin_emails() == ["erin@example.org", "grace@example.org"]
    finally:
        await opened.close()
    warnings = [record.getMessage() for record in caplog.records]
    assert sum("'no-such-group'" in message for message in warnings) == 1
    assert sum(repr(gone) in message for message in warnings) == 1


async def test_admin_emails_are_bounded(
    slapd: SlapdServer, make_ldap_user: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    for number in range(MAX_ADMIN_EMAILS + 1):
        make_ldap_user(groups=["cycle-b"], mail=f"admin{number:03}@example.org")
    opened = await open_ldap_directory(settings_for(slapd, admin_groups=["cycle-a"]), slapd.environ)
    try:
        with caplog.at_level(logging.WARNING, logger="adapters.directory.ldap"):
            found = await opened.admin_emails()
    finally:
        await opened.close()
    assert found == [f"admin{number:03}@example.org" for number in range(MAX_ADMIN_EMAILS)]
    assert any(f"only the first {MAX_ADMIN_EMAILS}" in r.getMessage() for r in caplog.records)


# Setting passwords


async def test_reset_with_the_password_modify_operation(
    directory: LdapDirectory, slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    uid = make_ldap_user()
    account = await found(directory, uid)
    await directory.set_password(account, NEW_PASSWORD, must_change=False)
    assert slapd.can_bind(user_dn(uid), NEW_PASSWORD)
    assert not slapd.can_bind(user_dn(uid), SEED_PASSWORD)
    assert "pwdReset" not in slapd.read(user_dn(uid), "pwdReset")
    stored = slapd.read(user_dn(uid), "userPassword")["userPassword"][0]
    assert stored.startswith("{SSHA}")  # hashed by slapd, never stored in clear
    await directory.revoke_sessions(account)  # nothing to revoke in LDAP: a no-op


async def test_must_change_sets_pwd_reset(
    directory: LdapDirectory, slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    uid = make_ldap_user()
    account = await found(directory, uid)
    await directory.set_password(account, NEW_PASSWORD, must_change=True)
    assert slapd.read(user_dn(uid), "pwdReset") == {"pwdReset": ["TRUE"]}
    await directory.set_password(account, NEW_PASSWORD + "x", must_change=False)
    assert "pwdReset" not in slapd.read(user_dn(uid), "pwdReset")


async def test_policy_refusals_say_why(
    directory: LdapDirectory, slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    uid = make_ldap_user()
    account = await found(directory, uid)
    with pytest.raises(PasswordRejected) as short:
        await directory.set_password(account, "Short1", must_change=False)
    assert (short.value.kind, short.value.reason) == (
        "policy",
        "It is too short for the directory's password rules.",
    )
    with pytest.raises(PasswordRejected) as same:
        await directory.set_password(account, SEED_PASSWORD, must_change=False)
    assert same.value.kind == "same"
    await directory.set_password(account, NEW_PASSWORD, must_change=False)
    await directory.set_password(account, NEW_PASSWORD + "2", must_change=False)
    with pytest.raises(PasswordRejected) as used:
        await directory.set_password(account, SEED_PASSWORD, must_change=False)
    assert (used.value.kind, used.value.reason) == ("history", "It was used before.")
    assert slapd.can_bind(user_dn(uid), NEW_PASSWORD + "2")


async def test_a_protected_account_is_not_reset(
    directory: LdapDirectory, slapd: SlapdServer
) -> None:
    olivia = await found(directory, "olivia")
    with pytest.raises(ResetNotPermitted):
        await directory.set_password(olivia, NEW_PASSWORD, must_change=False)
    assert slapd.can_bind(user_dn("olivia", f"ou=protected,{SUFFIX}"), SEED_PASSWORD)


# Unlocking


async def test_unlock_a_ppolicy_locked_account(
    directory: LdapDirectory, slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    uid = make_ldap_user()
    slapd.lock_out(user_dn(uid))
    account = await found(directory, uid)
    assert account.locked
    assert account.enabled
    assert directory.can_unlock
    await directory.unlock(account)
    assert not (await found(directory, uid)).locked
    assert slapd.read(user_dn(uid), "pwdAccountLockedTime", "pwdFailureTime") == {}
    assert slapd.can_bind(user_dn(uid), SEED_PASSWORD)


async def test_unlock_never_enables_a_disabled_account(
    directory: LdapDirectory, slapd: SlapdServer
) -> None:
    dave = await found(directory, "dave")
    with pytest.raises(ResetNotPermitted):
        await directory.unlock(dave)
    assert not (await found(directory, "dave")).enabled


# Injection


@pytest.mark.parametrize("name", ["*)(uid=*", "admin)(|(uid=*", "*", "alice)(uid=bob", "\\2a"])
async def test_filter_injection_matches_nothing(
    directory: LdapDirectory, slapd: SlapdServer, name: str
) -> None:
    assert await directory.find(name) is None
    escaped = ldap3.utils.conv.escape_filter_chars(name)
    searches = [line for line in slapd.log_text().splitlines() if "filter=" in line]
    expected = f"(uid={escaped})".casefold()
    assert any(expected in line.casefold() for line in searches[-3:])
    assert not any("(uid=*)" in line for line in searches)


# Transport


async def test_ldaps_with_the_ca(slapd: SlapdServer) -> None:
    settings = settings_for(slapd, urls=[slapd.ldaps_url], start_tls=False)
    opened = await open_ldap_directory(settings, slapd.environ)
    try:
        assert (await found(opened, "alice")).username == "alice"
    finally:
        await opened.close()


@pytest.mark.parametrize("transport", ["start_tls", "ldaps"])
async def test_a_wrong_ca_is_refused(slapd: SlapdServer, tmp_path: Path, transport: str) -> None:
    unrelated = write_unrelated_ca(tmp_path / "unrelated.pem")
    url = slapd.url if transport == "start_tls" else slapd.ldaps_url
    settings = settings_for(slapd, urls=[url], ca_file=str(unrelated))
    with pytest.raises(DirectoryUnavailable, match="certificate") as refused:
        await open_ldap_directory(settings, slapd.environ)
    assert url in str(refused.value)


async def test_start_tls_is_used_on_the_plain_port(slapd: SlapdServer) -> None:
    before = slapd.log_text().count("STARTTLS")
    opened = await open_ldap_directory(settings_for(slapd), slapd.environ)
    await opened.close()
    assert slapd.log_text().count("STARTTLS") > before


async def test_a_wrong_host_name_is_refused(slapd: SlapdServer) -> None:
    # "127.1" reaches 127.0.0.1, but the certificate names only 127.0.0.1 and localhost.
    settings = settings_for(slapd, urls=[f"ldaps://127.1:{slapd.tls_port}"])
    with pytest.raises(DirectoryUnavailable, match=r"certificate|hostname|match"):
        await open_ldap_directory(settings, slapd.environ)


# Failures


async def test_nothing_listening_fails_at_open_naming_the_url(slapd: SlapdServer) -> None:
    url = f"ldap://{HOST}:{free_port()}"
    with pytest.raises(DirectoryUnavailable) as refused:
        await open_ldap_directory(settings_for(slapd, urls=[url]), slapd.environ)
    assert url in str(refused.value)


async def test_failover_to_the_next_url(slapd: SlapdServer) -> None:
    dead = f"ldap://{HOST}:{free_port()}"
    opened = await open_ldap_directory(settings_for(slapd, urls=[dead, slapd.url]), slapd.environ)
    try:
        assert await opened.find("alice") is not None
    finally:
        await opened.close()


async def test_missing_bind_password(slapd: SlapdServer) -> None:
    with pytest.raises(DirectoryUnavailable, match=BIND_PASSWORD_VARIABLE):
        await open_ldap_directory(settings_for(slapd), {})


async def test_the_bind_password_never_shows(
    slapd: SlapdServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wrong-bind-password-" + uuid.uuid4().hex
    texts = []
    for settings in (
        settings_for(slapd),
        settings_for(slapd, urls=[f"ldap://{HOST}:{free_port()}"]),
        settings_for(slapd, urls=[slapd.ldaps_url], ca_file=str(slapd.tls.certificate)),
    ):
        with pytest.raises(DirectoryUnavailable) as refused:
            await open_ldap_directory(settings, {BIND_PASSWORD_VARIABLE: wrong})
        texts.append(str(refused.value))
    assert "invalidCredentials" in texts[0]
    assert BIND_PASSWORD_VARIABLE in texts[0]
    assert all(wrong not in text for text in texts)
    assert wrong not in caplog.text
    assert wrong not in slapd.log_text()


async def test_connections_are_reused(slapd: SlapdServer) -> None:
    opened = await open_ldap_directory(settings_for(slapd, pool_size=1), slapd.environ)
    try:
        binds = slapd.log_text().count(f'BIND dn="{BOT_DN}" method')
        for _ in range(5):
            await opened.find("alice")
        assert slapd.log_text().count(f'BIND dn="{BOT_DN}" method') == binds
    finally:
        await opened.close()


async def test_server_stopped_then_back(tmp_path: Path) -> None:
    """A stopped server: DirectoryUnavailable (no false answer); started again: the dead
    pooled connection is replaced and binds again."""
    server = SlapdServer(tmp_path / "slapd", seed=False)
    server.start()
    try:
        settings = LdapDirectorySettings(
            flavour="openldap",
            urls=[server.url],
            start_tls=True,
            ca_file=str(server.tls.ca),
            bind_dn=ROOT_DN,
            base_dn=SUFFIX,
            admin_groups=[group_dn("it-admins")],
            pool_size=1,
            timeout=2.0,
        )
        opened = await open_ldap_directory(settings, {BIND_PASSWORD_VARIABLE: server.root_password})
        try:
            assert await opened.find("alice") is None  # an empty database
            server.stop()
            with pytest.raises(DirectoryUnavailable) as down:
                await opened.find("alice")
            assert server.root_password not in str(down.value)
            with pytest.raises(DirectoryUnavailable):
                await opened.admin_emails()
            server.start()
            assert await opened.find("alice") is None  # answered again
            assert await opened.admin_emails() == []  # the group is not there
        finally:
            await opened.close()
    finally:
        server.stop()


# Settings


def test_settings_refuse_bad_values(slapd: SlapdServer) -> None:
    bad_values: list[dict[str, Any]] = [
        {"urls": ["http://127.0.0.1"]},
        {"urls": []},
        {"urls": ["ldap://user:secret@127.0.0.1"]},
        {"urls": ["ldap://127.0.0.1/dc=example"]},
        {"user_filter": "(objectClass=person"},
        {"user_filter": "objectClass=person"},
        {"user_filter": "(a=b)(c=d)"},
        {"name_attributes": ["uid)(x"]},
        {"verify": False},
        {"bind_password": "no"},
        {"pool_size": 0},
        {"timeout": 0},
    ]
    for bad in bad_values:
        with pytest.raises(ValueError, match="validation error"):
            settings_for(slapd, **bad)


def test_settings_defaults_per_flavour() -> None:
    common = {"urls": ["ldaps://dc.example"], "bind_dn": "cn=bot", "base_dn": "dc=example"}
    ad = LdapDirectorySettings(flavour="active_directory", **common)
    assert ad.effective_name_attributes == ("sAMAccountName", "userPrincipalName", "mail")
    assert ad.effective_user_filter == "(&(objectCategory=person)(objectClass=user))"
    assert ad.always_encrypted
    openldap = LdapDirectorySettings(flavour="openldap", **common)
    assert openldap.effective_name_attributes == ("uid", "mail")
    assert openldap.effective_user_filter == "(objectClass=inetOrgPerson)"


# Active Directory, without a server


def ad_settings(**overrides: Any) -> LdapDirectorySettings:
    values: dict[str, Any] = {
        "flavour": "active_directory",
        "urls": ["ldaps://dc1.corp.example"],
        "bind_dn": "CN=sspr-bot,OU=Service,DC=corp,DC=example",
        "base_dn": "DC=corp,DC=example",
    }
    values.update(overrides)
    return LdapDirectorySettings.model_validate(values)


def test_ad_find_filter_escapes_every_value() -> None:
    settings = ad_settings()
    built = filters.find_user(
        settings.effective_user_filter, settings.effective_name_attributes, "adm*n)(|(a=*"
    )
    assert built == (
        "(&(&(objectCategory=person)(objectClass=user))"
        "(|(sAMAccountName=adm\\2an\\29\\28|\\28a=\\2a)"
        "(userPrincipalName=adm\\2an\\29\\28|\\28a=\\2a)"
        "(mail=adm\\2an\\29\\28|\\28a=\\2a)))"
    )


def test_ad_object_guid_filter_is_binary_little_endian() -> None:
    guid = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")
    assert filters.guid_equals("objectGUID", guid) == (
        "(objectGUID=\\67\\45\\23\\01\\ab\\89\\ef\\cd\\01\\23\\45\\67\\89\\ab\\cd\\ef)"
    )


def test_ad_nested_group_filter_uses_the_in_chain_rule() -> None:
    group = "CN=Sales (EU)\\, North,OU=Groups,DC=corp,DC=example"
    assert filters.member_of_any_in_chain([group]) == (
        "(memberOf:1.2.840.113556.1.4.1941:=CN=Sales \\28EU\\29\\5c, North,OU=Groups,"
        "DC=corp,DC=example)"
    )
    assert filters.member_of_any_in_chain(["CN=a", "CN=b"]).startswith("(|(memberOf:")


def test_ad_enabled_filter_tests_the_disable_bit_on_the_server() -> None:
    assert filters.ad_enabled() == "(!(userAccountControl:1.2.840.113556.1.4.803:=2))"


def test_ad_unicode_pwd_is_quoted_utf16le() -> None:
    assert unicode_pwd("Pässwörd-1") == '"Pässwörd-1"'.encode("utf-16-le")
    assert unicode_pwd("ab") == b'"\x00a\x00b\x00"\x00'


async def test_ad_refuses_unicode_pwd_without_encryption() -> None:
    """Nothing is sent, not even a connection attempt, when connections are not encrypted."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        settings = ad_settings(urls=[f"ldap://{HOST}:{port}"], start_tls=False)
        assert not settings.always_encrypted
        directory = LdapDirectory(settings, ConnectionPool(settings, "bind-secret"))
        account = Account(id=str(uuid.uuid4()), username="jdoe", display_name="J", enabled=True)
        try:
            with pytest.raises(DirectoryUnavailable, match="encrypted connection") as refused:
                await directory.set_password(account, "Secret-new-1", must_change=True)
        finally:
            await directory.close()
        assert "Secret-new-1" not in str(refused.value)
        with pytest.raises(BlockingIOError):
            listener.accept()  # no connection was attempted


def test_a_session_knows_whether_it_is_encrypted() -> None:
    tls = VerifyingTls(None)
    plain = ldap3.Connection(ldap3.Server(HOST, port=389, tls=tls))
    secure = ldap3.Connection(ldap3.Server(HOST, port=636, use_ssl=True, tls=tls))
    assert not Session(plain, "ldap://x").encrypted
    assert Session(secure, "ldaps://x").encrypted


def test_ad_refusals_are_mapped() -> None:
    weak = "0000052D: Constraint violation - check_password_restrictions: too short"
    with pytest.raises(PasswordRejected) as policy:
        check_ad_result({"result": 19, "description": "constraintViolation", "message": weak}, "u")
    assert policy.value.kind == "policy"
    assert "0000052D" not in policy.value.reason
    with pytest.raises(PasswordRejected) as history:
        check_ad_result(
            {
                "result": 19,
                "description": "constraintViolation",
                "message": "0000052D: Constraint violation - the password was already used "
                "(in history)",
            },
            "u",
        )
    assert history.value.kind == "history"
    with pytest.raises(ResetNotPermitted):
        check_ad_result(
            {"result": 50, "description": "insufficientAccessRights", "message": "00000005"}, "u"
        )
    with pytest.raises(DirectoryUnavailable, match="encrypted"):
        check_ad_result(
            {"result": 53, "description": "unwillingToPerform", "message": "0000001F: SvcErr"},
            "u",
        )
    check_ad_result({"result": 0, "description": "success", "message": ""}, "u")


def test_ad_account_state() -> None:
    settings = ad_settings()
    directory = LdapDirectory(settings, ConnectionPool(settings, "unused"))
    disabled_admin = {"useraccountcontrol": [b"514"], "admincount": [b"1"]}
    assert directory._state(disabled_admin) == (False, False, True)
    locked = {"useraccountcontrol": [b"512"], "lockouttime": [b"133497712000000000"]}
    assert directory._state(locked) == (True, True, False)
    unlocked = {"useraccountcontrol": [b"512"], "lockouttime": [b"0"]}
    assert directory._state(unlocked) == (True, False, False)
    guid = uuid.uuid4()
    assert directory._id("CN=x", {"objectguid": [guid.bytes_le]}) == str(guid)
