"""The Directory port over LDAP: Active Directory (also Samba AD) or OpenLDAP with ppolicy.

How account state is read:

- Active Directory: `enabled` is the ACCOUNTDISABLE bit (0x2) of userAccountControl being
  clear; `locked` is lockoutTime > 0 (AD leaves it set after the lockout duration ran out,
  until the next sign-in, so an expired lockout still reads as locked and `unlock` clears
  it); administrators are members of `admin_groups` or carry `adminCount=1`.
- OpenLDAP: ppolicy's `pwdAccountLockedTime` holds either a time (locked after too many
  failed binds: `locked`) or the special value `000001010000Z`, which ppolicy treats as
  locked for good and which is how an administrator disables an account there: that
  value reads as not `enabled` (and not `locked`: `unlock` never re-enables it).

Group membership (nesting included) is in groups.py; who is told of an administrator's
reset (`admin_emails`) in admins.py.

Nothing here logs a value: names, DNs of users, passwords and server messages about them
stay out of log records and out of exception text.
"""

import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing

import ldap3

from adapters.directory.base import (
    Account,
    DirectoryUnavailable,
    ResetNotPermitted,
)
from adapters.directory.ldap import filters
from adapters.directory.ldap.admins import AdminAddresses
from adapters.directory.ldap.connections import ConnectionPool, Session
from adapters.directory.ldap.entries import (
    OPENLDAP_DISABLED,
    Attributes,
    first,
    integer,
    texts,
    under_base,
)
from adapters.directory.ldap.groups import GroupMembership
from adapters.directory.ldap.passwords import (
    PPOLICY_REQUEST,
    RELAX_RULES,
    UNENCRYPTED_REFUSAL,
    check_ad_result,
    check_openldap_result,
    unicode_pwd,
)
from adapters.directory.ldap.settings import BIND_PASSWORD_VARIABLE, LdapDirectorySettings

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 256
NO_SUCH_ATTRIBUTE = 16
# Entries one request of `accounts` asks for: under the 1000 an AD domain controller
# answers at most (MaxPageSize) and slapd's default sizelimit of 500. Paging does not lift
# slapd's cap on the whole listing, though: that is the bind DN's size.prtotal (olcLimits),
# by default its hard size limit, 500 too.
PAGE_SIZE = 500


class LdapDirectory:
    """The Directory port over LDAP; build it with `await open_ldap_directory(...)`."""

    can_unlock = True

    def __init__(
        self, settings: LdapDirectorySettings, pool: ConnectionPool, *, page_size: int = PAGE_SIZE
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._page_size = page_size
        self._active_directory = settings.flavour == "active_directory"
        self._names = settings.effective_name_attributes
        self._membership = GroupMembership(settings)
        self._admins = AdminAddresses(settings, self._membership)
        mapping = settings.attributes
        self._read = tuple(
            dict.fromkeys(
                [
                    *self._names,
                    mapping.display_name,
                    "cn",
                    mapping.email,
                    mapping.mobile_phone,
                    mapping.office_phone,
                    "memberOf",
                    *(
                        ("objectGUID", "userAccountControl", "lockoutTime", "adminCount")
                        if self._active_directory
                        else ("entryUUID", "pwdAccountLockedTime")
                    ),
                ]
            )
        )

    async def find(self, name: str) -> Account | None:
        """The one account whose name attributes (or id) equal `name`; None when none or
        several do."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH or any(ord(ch) < 32 for ch in name):
            return None  # some servers cut a value at a NUL: "alice\x00junk" would be alice
        return await self._pool.run(lambda session: self._find(session, name))

    async def accounts(self) -> AsyncIterator[Account]:
        """The enabled entries the user filter matches under base_dn, one page of
        `page_size` at a time: a plain search would stop at the server's size limit. A
        server that still ends the listing at its limits for the bind DN raises
        DirectoryUnavailable naming the limit to raise: the accounts so far are not all."""
        pages = self._pool.pages(self._accounts_page)
        async with aclosing(pages):
            async for page in pages:
                for account in page:
                    yield account

    async def in_any_group(self, account: Account, groups: Sequence[str]) -> bool:
        if not groups:
            return False

        def check(session: Session) -> bool:
            found = self._locate(session, account)
            return found is not None and self._membership.member_of_any(session, *found, groups)

        return await self._pool.run(check)

    async def totp_secret(self, account: Account) -> str | None:
        """Authenticator enrolment is not kept in the directory."""
        return None

    async def set_password(self, account: Account, password: str, *, must_change: bool) -> None:
        """AD: `unicodePwd` replaced (only over an encrypted connection) with `pwdLastSet`
        0 (must change) or -1 (no change needed) in the same modify. OpenLDAP: the RFC 3062
        password modify operation, then ppolicy's `pwdReset: TRUE` when the user must
        change it (the operation itself clears pwdReset)."""
        if self._active_directory and not self._settings.always_encrypted:
            raise DirectoryUnavailable(UNENCRYPTED_REFUSAL)

        def change(session: Session) -> None:
            dn, _ = self._require(session, account)
            if self._active_directory:
                if not session.encrypted:
                    raise DirectoryUnavailable(UNENCRYPTED_REFUSAL)
                result = session.modify(
                    dn,
                    {
                        "unicodePwd": [(ldap3.MODIFY_REPLACE, [unicode_pwd(password)])],
                        "pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0" if must_change else "-1"])],
                    },
                )
                check_ad_result(result, session.url)
                return
            result = session.modify_password(dn, password, controls=[PPOLICY_REQUEST])
            check_openldap_result(result, session.url)
            if must_change:
                flagged = session.modify(dn, {"pwdReset": [(ldap3.MODIFY_REPLACE, ["TRUE"])]})
                if flagged["result"] != 0:
                    raise DirectoryUnavailable(
                        f"{session.url}: the password was set but pwdReset could not be "
                        f"({flagged['description']}); grant the bind DN write on pwdReset"
                    )

        await self._pool.run(change)

    async def revoke_sessions(self, account: Account) -> None:
        """Nothing to do: LDAP has no sign-in sessions. Kerberos tickets and application
        sessions that trusted the old password live elsewhere (on AD, tickets expire within
        their lifetime; Entra-synced sessions are revoked by the Graph adapter)."""

    async def unlock(self, account: Account) -> None:
        """AD: lockoutTime=0. OpenLDAP: ppolicy's pwdAccountLockedTime removed, then the
        failed-bind times (pwdFailureTime, which needs `manage` access and the Relax Rules
        control; without them the lock is still cleared). An account disabled by an
        administrator is not re-enabled: ResetNotPermitted."""

        def clear(session: Session) -> None:
            dn, attributes = self._require(session, account)
            if self._active_directory:
                result = session.modify(dn, {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]})
                check_ad_result(result, session.url)
                return
            locked_time = first(attributes, "pwdAccountLockedTime")
            if locked_time == OPENLDAP_DISABLED:
                raise ResetNotPermitted("the account is disabled by an administrator")
            if locked_time is not None:
                result = session.modify(
                    dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [locked_time])]}
                )
                if result["result"] not in (0, NO_SUCH_ATTRIBUTE):
                    check_openldap_result(result, session.url)
            failures = session.modify(
                dn, {"pwdFailureTime": [(ldap3.MODIFY_DELETE, [])]}, controls=[RELAX_RULES]
            )
            if failures["result"] not in (0, NO_SUCH_ATTRIBUTE):
                log.warning(
                    "LDAP unlock: failed-bind times not cleared (%s); grant the bind DN "
                    "manage on pwdFailureTime",
                    failures["description"],
                )

        await self._pool.run(clear)

    async def admin_emails(self) -> list[str]:
        """The first address (`attributes.email`) of every enabled member of the admin
        groups, one spelling per address whatever its case (the first one met), sorted,
        at most MAX_ADMIN_EMAILS. A group that is not there is left out."""
        groups = self._settings.effective_admin_groups
        if not groups:
            return []
        return await self._pool.run(lambda session: self._admins.collect(session, groups))

    async def close(self) -> None:
        await self._pool.close()

    # Worker-thread side: everything below runs in the pool's threads.

    def _find(self, session: Session, name: str) -> Account | None:
        settings = self._settings
        search_filter = filters.find_user(
            settings.effective_user_filter, self._names, name, id_clause=self._id_clause(name)
        )
        base, scope = settings.base_dn, ldap3.SUBTREE
        if filters.looks_like_dn(name) and self._under_base(name):
            base, scope = name, ldap3.BASE
        entries = session.search(base, search_filter, self._read, scope=scope, size_limit=2)
        if len(entries) != 1:
            if len(entries) > 1:
                log.warning("LDAP find: a name matched several accounts; treated as unknown")
            return None
        dn, attributes = entries[0]
        return self._account(session, dn, attributes)

    def _accounts_page(self, session: Session, cookie: bytes) -> tuple[list[Account], bytes]:
        settings = self._settings
        entries, cookie = session.search_page(
            settings.base_dn,
            settings.effective_user_filter,
            self._read,
            size=self._page_size,
            cookie=cookie,
        )
        enabled = [(dn, attributes) for dn, attributes in entries if self._state(attributes)[0]]
        return [self._account(session, dn, attributes) for dn, attributes in enabled], cookie

    def _id_clause(self, name: str) -> str | None:
        try:
            value = uuid.UUID(name)
        except ValueError:
            return None
        if self._active_directory:
            return filters.guid_equals("objectGUID", value)
        return filters.equals("entryUUID", str(value))

    def _under_base(self, dn: str) -> bool:
        return under_base(self._settings.base_dn, dn)

    def _locate(self, session: Session, account: Account) -> tuple[str, Attributes] | None:
        """The account's entry found again by its id (so a rename or move in between does
        not matter); None when it is gone."""
        settings = self._settings
        clause = self._id_clause(account.id)
        if clause is not None:
            search_filter = filters.all_of([settings.effective_user_filter, clause])
            entries = session.search(settings.base_dn, search_filter, self._read, size_limit=2)
        elif filters.looks_like_dn(account.id) and self._under_base(account.id):
            entries = session.search(
                account.id, settings.effective_user_filter, self._read, scope=ldap3.BASE
            )
        else:
            return None
        return entries[0] if len(entries) == 1 else None

    def _require(self, session: Session, account: Account) -> tuple[str, Attributes]:
        found = self._locate(session, account)
        if found is None:
            raise DirectoryUnavailable("the account is no longer in the directory")
        return found

    def _account(self, session: Session, dn: str, attributes: Attributes) -> Account:
        mapping = self._settings.attributes
        names = [value for attribute in self._names for value in texts(attributes, attribute)]
        username = names[0] if names else dn
        aliases = {value for value in names[1:] if value.casefold() != username.casefold()}
        enabled, locked, flagged_admin = self._state(attributes)
        is_admin = flagged_admin or (
            bool(self._settings.effective_admin_groups)
            and self._membership.member_of_any(
                session, dn, attributes, self._settings.effective_admin_groups
            )
        )
        return Account(
            id=self._id(dn, attributes),
            username=username,
            display_name=first(attributes, mapping.display_name)
            or first(attributes, "cn")
            or username,
            enabled=enabled,
            is_admin=is_admin,
            email=first(attributes, mapping.email),
            mobile_phone=first(attributes, mapping.mobile_phone),
            office_phone=first(attributes, mapping.office_phone),
            groups=frozenset(texts(attributes, "memberOf")),
            aliases=frozenset(aliases),
            locked=locked,
        )

    def _id(self, dn: str, attributes: Attributes) -> str:
        if self._active_directory:
            raw = attributes.get("objectguid")
            if raw and len(raw[0]) == 16:
                return str(uuid.UUID(bytes_le=bytes(raw[0])))
            return dn
        return first(attributes, "entryUUID") or dn

    def _state(self, attributes: Attributes) -> tuple[bool, bool, bool]:
        """(enabled, locked, admin by a flag on the entry)."""
        if self._active_directory:
            control = integer(attributes, "userAccountControl")
            enabled = not (control & filters.ACCOUNTDISABLE)
            locked = integer(attributes, "lockoutTime") > 0
            return enabled, locked, integer(attributes, "adminCount") == 1
        locked_time = first(attributes, "pwdAccountLockedTime")
        disabled = locked_time == OPENLDAP_DISABLED
        return not disabled, locked_time is not None and not disabled, False


async def open_ldap_directory(
    settings: LdapDirectorySettings, environ: Mapping[str, str], *, page_size: int = PAGE_SIZE
) -> LdapDirectory:
    """Connect and bind once, so that a wrong URL, certificate or password stops the start
    with DirectoryUnavailable naming the URL (never the password). `page_size`: entries
    per request when listing `accounts`."""
    password = environ.get(BIND_PASSWORD_VARIABLE, "")
    if not password:
        raise DirectoryUnavailable(
            f"{BIND_PASSWORD_VARIABLE} is not set: it holds the password of {settings.bind_dn!r}"
        )
    try:
        pool = ConnectionPool(settings, password)
    except (OSError, ValueError) as exc:
        # ssl.SSLError is an OSError: the CA file is missing or not PEM.
        raise DirectoryUnavailable(
            f"ca_file {settings.ca_file!r}: cannot be used ({type(exc).__name__})"
        ) from None
    try:
        await pool.run(lambda session: None)
    except DirectoryUnavailable:
        await pool.close()
        raise
    if settings.flavour == "active_directory" and not settings.always_encrypted:
        log.warning(
            "LDAP: not every connection is encrypted (ldaps:// or start_tls); Active "
            "Directory password resets will be refused"
        )
    return LdapDirectory(settings, pool, page_size=page_size)


__all__ = ["LdapDirectory", "open_ldap_directory"]
