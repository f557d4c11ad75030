"""Listing every account against a real slapd, and the server's size limits: a listing the
server cuts short is an error naming the limit to raise, never a shorter list; a limit the
caller sets itself (`find`'s two entries) is no error."""

import math
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from adapters.directory import Account, DirectoryUnavailable
from adapters.directory.ldap import LdapDirectory, LdapDirectorySettings, open_ldap_directory
from tests.support.slapd import BOT_DN, DISABLED_TIME, SlapdServer, person, user_dn

# The seeded accounts `accounts` lists (dave is disabled).
SEEDED = {"alice", "bob", "carol", "erin", "grace", "heidi", "olivia"}
# slapd's default size limit (olcSizeLimit), which also caps a paged search's total.
STOCK_SIZE_LIMIT = 500
# In slapd's stats log: a search of the user filter, and what it answered.
PAGE_SEARCH = re.compile(r"(conn=\d+ op=\d+) SRCH .*filter=\"\(objectClass=inetOrgPerson\)\"")
RESULT = re.compile(r"(conn=\d+ op=\d+) SEARCH RESULT .*err=(\d+) .*nentries=(\d+)")


@asynccontextmanager
async def opened(slapd: SlapdServer, *, page_size: int) -> AsyncIterator[LdapDirectory]:
    settings = LdapDirectorySettings.model_validate(slapd.directory_config())
    directory = await open_ldap_directory(settings, slapd.environ, page_size=page_size)
    try:
        yield directory
    finally:
        await directory.close()


async def listed(slapd: SlapdServer, *, page_size: int) -> list[Account]:
    async with opened(slapd, page_size=page_size) as directory:
        return [account async for account in directory.accounts()]


async def cut_listing(slapd: SlapdServer, *, page_size: int) -> tuple[str, int]:
    """The error that ended the listing, and how many accounts came before it."""
    received: list[Account] = []
    async with opened(slapd, page_size=page_size) as directory:
        with pytest.raises(DirectoryUnavailable) as raised:
            await collect(directory.accounts(), received)
    return str(raised.value), len(received)


async def collect(accounts: AsyncIterator[Account], into: list[Account]) -> None:
    """`accounts` into `into` as they come, so that those before an error are counted."""
    async for account in accounts:
        into.append(account)


def assert_names_the_bind_dn_only(message: str, slapd: SlapdServer) -> None:
    assert BOT_DN in message
    assert slapd.bot_password not in message
    assert slapd.root_password not in message


def page_results(log: str) -> list[tuple[int, int]]:
    """(result code, entries sent) of each user-filter search in `log`, in order."""
    searches = {match.group(1) for match in PAGE_SEARCH.finditer(log)}
    return [
        (int(match.group(2)), int(match.group(3)))
        for match in RESULT.finditer(log)
        if match.group(1) in searches
    ]


# A listing cut by the server


@pytest.mark.parametrize("limit", ["size.prtotal=5", "size=5"])
async def test_a_listing_cut_at_the_bind_dns_size_limit_is_an_error(
    slapd: SlapdServer, bot_limits: Callable[..., None], limit: str
) -> None:
    bot_limits(limit)
    message, received = await cut_listing(slapd, page_size=2)
    assert received <= 5 < len(SEEDED)
    assert "sizeLimitExceeded" in message
    assert f'olcLimits on the database: dn.exact="{BOT_DN}" size.prtotal=unlimited' in message
    assert "MaxPageSize" in message
    assert_names_the_bind_dn_only(message, slapd)


async def test_pages_larger_than_the_server_allows_are_an_error(
    slapd: SlapdServer, bot_limits: Callable[..., None]
) -> None:
    bot_limits("size.pr=2")  # slapd answers adminLimitExceeded to a larger page size
    message, received = await cut_listing(slapd, page_size=3)
    assert received == 0
    assert "adminLimitExceeded" in message
    assert "size.pr, if set, no lower than the page size (3)" in message
    assert_names_the_bind_dn_only(message, slapd)


async def test_a_stock_slapd_cuts_a_listing_at_500(tmp_path: Path) -> None:
    server = SlapdServer(tmp_path)
    server.start()
    try:
        with server.root() as connection:
            for n in range(STOCK_SIZE_LIMIT):
                attributes = person(f"p{n:03}", f"Person {n}")
                connection.add(
                    user_dn(attributes["uid"]), attributes.pop("objectClass"), attributes
                )
        logged_before = len(server.log_text())
        message, received = await cut_listing(server, page_size=200)
    finally:
        server.stop()

    assert received <= STOCK_SIZE_LIMIT
    assert "sizeLimitExceeded" in message
    assert_names_the_bind_dn_only(message, server)
    results = page_results(server.log_text()[logged_before:])
    assert results[-1][0] == 4  # sizeLimitExceeded, with more accounts than sent
    assert sum(sent for _, sent in results) == STOCK_SIZE_LIMIT


# A listing within the limits


async def test_a_listing_within_the_limit_reads_every_page(
    slapd: SlapdServer, bot_limits: Callable[..., None], make_ldap_user: Callable[..., str]
) -> None:
    made = {make_ldap_user() for _ in range(5)}
    make_ldap_user(pwdAccountLockedTime=DISABLED_TIME)
    entries = len(SEEDED) + len(made) + 2  # dave and the new disabled one are read too
    bot_limits(f"size.prtotal={entries + 10}")
    logged_before = len(slapd.log_text())

    accounts = await listed(slapd, page_size=3)

    assert sorted(account.username for account in accounts) == sorted(SEEDED | made)
    results = page_results(slapd.log_text()[logged_before:])
    assert len(results) == math.ceil(entries / 3)
    assert {code for code, _ in results} == {0}
    assert max(sent for _, sent in results) == 3
    assert sum(sent for _, sent in results) == entries


# A limit the caller sets


async def test_an_ambiguous_name_finds_nothing_within_the_callers_own_limit(
    slapd: SlapdServer, make_ldap_user: Callable[..., str]
) -> None:
    make_ldap_user(mail="shared@example.org")
    make_ldap_user(mail="shared@example.org")
    async with opened(slapd, page_size=3) as directory:
        assert await directory.find("shared@example.org") is None  # two of three asked for
        alice = await directory.find("alice")
    assert alice is not None
    assert alice.username == "alice"


async def test_a_server_limit_below_the_callers_is_an_error_not_an_answer(
    slapd: SlapdServer, bot_limits: Callable[..., None], make_ldap_user: Callable[..., str]
) -> None:
    make_ldap_user(mail="twice@example.org")
    make_ldap_user(mail="twice@example.org")
    bot_limits("size=1")
    async with opened(slapd, page_size=3) as directory:
        alice = await directory.find("alice")  # one match: within the server's limit
        with pytest.raises(DirectoryUnavailable) as raised:
            await directory.find("twice@example.org")  # one of two would pass for the one
    assert alice is not None
    message = str(raised.value)
    assert "sizeLimitExceeded" in message
    assert f'dn.exact="{BOT_DN}" size=unlimited' in message
    assert_names_the_bind_dn_only(message, slapd)
