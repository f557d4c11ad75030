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

Who is told of an administrator's reset (`admin_emails`): the enabled members, nested too,
of `admin_groups`, by the configured email attribute. Active Directory finds them with one
search per group (LDAP_MATCHING_RULE_IN_CHAIN, disabled accounts filtered out by the
server); OpenLDAP by walking member / uniqueMember down from each group. Accounts that
carry only AD's `adminCount=1` are not told: AD leaves it set on former administrators.

Nothing here logs a value: names, DNs of users, passwords and server messages about them
stay out of log records and out of exception text.
"""

import logging
import re
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence

import ldap3

from adapters.directory.base import (
    MAX_ADMIN_EMAILS,
    Account,
    DirectoryUnavailable,
    ResetNotPermitted,
)
from adapters.directory.ldap import filters
from adapters.directory.ldap.connections import ConnectionPool, Session
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
# Nesting deeper than this is a configuration mistake (or a loop the walk would notice).
MAX_GROUP_DEPTH = 32
# DNs per membership search while walking nested groups.
MEMBERS_PER_SEARCH = 50

# Entries read while collecting administrators' addresses, at most: AD answers no more
# than 1000 entries to a search without paging (its MaxPageSize), and the answer is cut
# to MAX_ADMIN_EMAILS anyway.
MAX_ADMIN_ENTRIES = 1000

OPENLDAP_DISABLED = "000001010000Z"
NO_SUCH_ATTRIBUTE = 16

_Attributes = Mapping[str, list[bytes]]
_GROUP_CLASSES = frozenset(kind.casefold() for kind in filters.GROUP_CLASSES)
# uniqueMember's optional unique identifier after the DN (nameAndOptionalUID: `dn#'0101'B`).
_OPTIONAL_UID = re.compile(r"#'[01]*'B$")


class LdapDirectory:
    """The Directory port over LDAP; build it with `await open_ldap_directory(...)`."""

    can_unlock = True

    def __init__(self, settings: LdapDirectorySettings, pool: ConnectionPool) -> None:
        self._settings = settings
        self._pool = pool
        self._active_directory = settings.flavour == "active_directory"
        self._names = settings.effective_name_attributes
        self._group_dns: dict[str, tuple[str, ...]] = {}
        self._group_lock = threading.Lock()
        self._missing_admin_groups: set[str] = set()
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

    async def in_any_group(self, account: Account, groups: Sequence[str]) -> bool:
        if not groups:
            return False

        def check(session: Session) -> bool:
            found = self._locate(session, account)
            return found is not None and self._member_of_any(session, *found, groups)

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
            locked_time = _first(attributes, "pwdAccountLockedTime")
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

        def collect(session: Session) -> list[str]:
            targets = self._resolve_groups(session, groups)
            if self._active_directory:
                return _admin_addresses(self._ad_admin_addresses(session, targets))
            return _admin_addresses(self._openldap_admin_addresses(session, targets))

        return await self._pool.run(collect)

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

    def _id_clause(self, name: str) -> str | None:
        try:
            value = uuid.UUID(name)
        except ValueError:
            return None
        if self._active_directory:
            return filters.guid_equals("objectGUID", value)
        return filters.equals("entryUUID", str(value))

    def _under_base(self, dn: str) -> bool:
        base = filters.normal_dn(self._settings.base_dn)
        candidate = filters.normal_dn(dn)
        return candidate == base or candidate.endswith("," + base)

    def _locate(self, session: Session, account: Account) -> tuple[str, _Attributes] | None:
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

    def _require(self, session: Session, account: Account) -> tuple[str, _Attributes]:
        found = self._locate(session, account)
        if found is None:
            raise DirectoryUnavailable("the account is no longer in the directory")
        return found

    def _account(self, session: Session, dn: str, attributes: _Attributes) -> Account:
        mapping = self._settings.attributes
        names = [value for attribute in self._names for value in _texts(attributes, attribute)]
        username = names[0] if names else dn
        aliases = {value for value in names[1:] if value.casefold() != username.casefold()}
        enabled, locked, flagged_admin = self._state(attributes)
        is_admin = flagged_admin or (
            bool(self._settings.effective_admin_groups)
            and self._member_of_any(session, dn, attributes, self._settings.effective_admin_groups)
        )
        return Account(
            id=self._id(dn, attributes),
            username=username,
            display_name=_first(attributes, mapping.display_name)
            or _first(attributes, "cn")
            or username,
            enabled=enabled,
            is_admin=is_admin,
            email=_first(attributes, mapping.email),
            mobile_phone=_first(attributes, mapping.mobile_phone),
            office_phone=_first(attributes, mapping.office_phone),
            groups=frozenset(_texts(attributes, "memberOf")),
            aliases=frozenset(aliases),
            locked=locked,
        )

    def _id(self, dn: str, attributes: _Attributes) -> str:
        if self._active_directory:
            raw = attributes.get("objectguid")
            if raw and len(raw[0]) == 16:
                return str(uuid.UUID(bytes_le=bytes(raw[0])))
            return dn
        return _first(attributes, "entryUUID") or dn

    def _state(self, attributes: _Attributes) -> tuple[bool, bool, bool]:
        """(enabled, locked, admin by a flag on the entry)."""
        if self._active_directory:
            control = _integer(attributes, "userAccountControl")
            enabled = not (control & filters.ACCOUNTDISABLE)
            locked = _integer(attributes, "lockoutTime") > 0
            return enabled, locked, _integer(attributes, "adminCount") == 1
        locked_time = _first(attributes, "pwdAccountLockedTime")
        disabled = locked_time == OPENLDAP_DISABLED
        return not disabled, locked_time is not None and not disabled, False

    def _member_of_any(
        self, session: Session, dn: str, attributes: _Attributes, groups: Sequence[str]
    ) -> bool:
        targets = self._resolve_groups(session, groups)
        if not targets:
            return False
        if self._active_directory:
            # The domain controller walks the nesting (LDAP_MATCHING_RULE_IN_CHAIN).
            search_filter = filters.member_of_any_in_chain(targets)
            return bool(session.search(dn, search_filter, (), scope=ldap3.BASE))
        wanted = {filters.normal_dn(target) for target in targets}
        return self._nested_member(session, dn, _texts(attributes, "memberOf"), wanted)

    def _nested_member(
        self, session: Session, dn: str, member_of: Sequence[str], wanted: set[str]
    ) -> bool:
        """OpenLDAP: a memberOf value (the memberof overlay, direct groups only) that is
        wanted answers at once; otherwise walk up from the entry through the
        groupOfNames / groupOfUniqueNames that list it, level by level, each group once
        (so a cycle of groups ends the walk)."""
        if any(filters.normal_dn(group) in wanted for group in member_of):
            return True
        seen = {filters.normal_dn(dn)}
        level = [dn]
        for _ in range(MAX_GROUP_DEPTH):
            parents: list[str] = []
            for start in range(0, len(level), MEMBERS_PER_SEARCH):
                chunk = level[start : start + MEMBERS_PER_SEARCH]
                found = session.search(self._settings.base_dn, filters.groups_containing(chunk), ())
                parents.extend(group for group, _ in found)
            level = []
            for group in parents:
                key = filters.normal_dn(group)
                if key in wanted:
                    return True
                if key not in seen:
                    seen.add(key)
                    level.append(group)
            if not level:
                return False
        log.warning("LDAP group walk stopped at %d levels of nesting", MAX_GROUP_DEPTH)
        return False

    def _ad_admin_addresses(self, session: Session, group_dns: Sequence[str]) -> list[str | None]:
        """One search per group: the domain controller walks the nesting and leaves out
        disabled accounts and accounts without an address."""
        settings = self._settings
        email = settings.attributes.email
        found: list[str | None] = []
        for group in group_dns:
            search_filter = filters.all_of(
                [
                    settings.effective_user_filter,
                    filters.member_of_any_in_chain([group]),
                    filters.ad_enabled(),
                    filters.present(email),
                ]
            )
            entries = session.search(
                settings.base_dn, search_filter, (email,), size_limit=MAX_ADMIN_ENTRIES
            )
            if len(entries) >= MAX_ADMIN_ENTRIES:
                log.warning(
                    "LDAP admin group %r: the search stopped at %d members with an "
                    "address; any further ones are not told",
                    group,
                    MAX_ADMIN_ENTRIES,
                )
            if not entries and not session.search(group, filters.any_group(), (), scope=ldap3.BASE):
                self._missing_admin_group(group)
            found.extend(_first(attributes, email) for _, attributes in entries)
        return found

    def _openldap_admin_addresses(
        self, session: Session, group_dns: Sequence[str]
    ) -> list[str | None]:
        """Breadth-first down from the groups through member / uniqueMember, reading each
        entry once (so a cycle of groups ends the walk), MAX_GROUP_DEPTH levels of nesting
        and MAX_ADMIN_ENTRIES entries at most. Members outside base_dn and users disabled
        by an administrator are left out."""
        settings = self._settings
        email = settings.attributes.email
        read = ("objectClass", "member", "uniqueMember", email, "pwdAccountLockedTime")
        member_filter = filters.any_of([settings.effective_user_filter, filters.any_group()])
        seen: set[str] = set()
        found: list[str | None] = []
        level = list(group_dns)
        for depth in range(MAX_GROUP_DEPTH + 1):
            members: list[str] = []
            for dn in level:
                key = filters.normal_dn(dn)
                if key in seen:
                    continue
                if len(seen) == MAX_ADMIN_ENTRIES:
                    log.warning(
                        "LDAP admin groups: more than %d entries; the rest are not told",
                        MAX_ADMIN_ENTRIES,
                    )
                    return found
                seen.add(key)
                search_filter = filters.any_group() if depth == 0 else member_filter
                entries = session.search(dn, search_filter, read, scope=ldap3.BASE)
                if not entries:
                    if depth == 0:
                        self._missing_admin_group(dn)
                    continue
                _, attributes = entries[0]
                classes = {kind.casefold() for kind in _texts(attributes, "objectClass")}
                if classes & _GROUP_CLASSES:
                    members.extend(_texts(attributes, "member"))
                    members.extend(
                        _OPTIONAL_UID.sub("", value) for value in _texts(attributes, "uniqueMember")
                    )
                elif _first(attributes, "pwdAccountLockedTime") != OPENLDAP_DISABLED:
                    found.append(_first(attributes, email))
            level = [member for member in members if self._under_base(member)]
            if not level:
                return found
        log.warning(
            "LDAP admin groups nested deeper than %d levels; the deeper members are not told",
            MAX_GROUP_DEPTH,
        )
        return found

    def _missing_admin_group(self, dn: str) -> None:
        """Warn once per group: the list is asked for at every administrator's reset."""
        key = filters.normal_dn(dn)
        with self._group_lock:
            if key in self._missing_admin_groups:
                return
            self._missing_admin_groups.add(key)
        log.warning("LDAP admin group %r not found; its members are not told", dn)

    def _resolve_groups(self, session: Session, groups: Sequence[str]) -> list[str]:
        """Configured groups as DNs: a DN as it is, a cn looked up once under base_dn."""
        dns: list[str] = []
        for group in groups:
            name = group.strip()
            if filters.looks_like_dn(name):
                dns.append(name)
                continue
            with self._group_lock:
                known = self._group_dns.get(name.casefold())
            if known is None:
                found = session.search(self._settings.base_dn, filters.group_named(name), ())
                known = tuple(dn for dn, _ in found)
                if len(known) > 1:
                    raise DirectoryUnavailable(
                        f"the group name {name!r} matches {len(known)} groups; configure it by DN"
                    )
                if not known:
                    log.warning("LDAP group %r not found under base_dn", name)
                with self._group_lock:
                    self._group_dns[name.casefold()] = known
            dns.extend(known)
        return dns


async def open_ldap_directory(
    settings: LdapDirectorySettings, environ: Mapping[str, str]
) -> LdapDirectory:
    """Connect and bind once, so that a wrong URL, certificate or password stops the start
    with DirectoryUnavailable naming the URL (never the password)."""
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
    return LdapDirectory(settings, pool)


def _admin_addresses(values: Iterable[str | None]) -> list[str]:
    """One spelling per address, compared without case (the first one met), sorted, at
    most MAX_ADMIN_EMAILS; values that cannot be an address are left out."""
    unique: dict[str, str] = {}
    for value in values:
        address = (value or "").strip()
        if "@" in address and " " not in address and address.isprintable():
            unique.setdefault(address.casefold(), address)
    addresses = sorted(unique.values(), key=str.casefold)
    if len(addresses) > MAX_ADMIN_EMAILS:
        log.warning(
            "LDAP: %d administrators' addresses found; only the first %d (sorted) are told",
            len(addresses),
            MAX_ADMIN_EMAILS,
        )
    return addresses[:MAX_ADMIN_EMAILS]


def _texts(attributes: _Attributes, name: str) -> list[str]:
    values = []
    for raw in attributes.get(name.casefold(), ()):
        try:
            values.append(bytes(raw).decode("utf-8"))
        except UnicodeDecodeError:
            continue  # not text: never a name, mail or number
    return values


def _first(attributes: _Attributes, name: str) -> str | None:
    values = _texts(attributes, name)
    return values[0] if values else None


def _integer(attributes: _Attributes, name: str) -> int:
    value = _first(attributes, name)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


__all__ = ["LdapDirectory", "open_ldap_directory"]
