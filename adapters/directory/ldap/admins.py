"""Who is told of an administrator's reset: the enabled members, nested too, of the admin
groups, by the configured email attribute.

Active Directory finds them with one search per group (LDAP_MATCHING_RULE_IN_CHAIN,
disabled accounts filtered out by the server); OpenLDAP by walking member / uniqueMember
down from each group. Accounts that carry only AD's `adminCount=1` are not told: AD
leaves it set on former administrators. Runs in the connection pool's worker threads.
"""

import logging
import re
import threading
from collections.abc import Iterable, Sequence

import ldap3

from adapters.directory.base import MAX_ADMIN_EMAILS
from adapters.directory.ldap import filters
from adapters.directory.ldap.connections import Session
from adapters.directory.ldap.entries import OPENLDAP_DISABLED, first, texts, under_base
from adapters.directory.ldap.groups import MAX_GROUP_DEPTH, GroupMembership
from adapters.directory.ldap.settings import LdapDirectorySettings

log = logging.getLogger(__name__)

# Entries read while collecting administrators' addresses, at most: AD answers no more
# than 1000 entries to a search without paging (its MaxPageSize), and the answer is cut
# to MAX_ADMIN_EMAILS anyway.
MAX_ADMIN_ENTRIES = 1000

_GROUP_CLASSES = frozenset(kind.casefold() for kind in filters.GROUP_CLASSES)
# uniqueMember's optional unique identifier after the DN (nameAndOptionalUID: `dn#'0101'B`).
_OPTIONAL_UID = re.compile(r"#'[01]*'B$")


class AdminAddresses:
    """Collects the admin groups' addresses; warns once per admin group that is missing."""

    def __init__(self, settings: LdapDirectorySettings, membership: GroupMembership) -> None:
        self._settings = settings
        self._membership = membership
        self._active_directory = settings.flavour == "active_directory"
        self._missing_lock = threading.Lock()
        self._missing_admin_groups: set[str] = set()

    def collect(self, session: Session, groups: Sequence[str]) -> list[str]:
        """The first address of every enabled member of `groups`, one spelling per address
        whatever its case (the first one met), sorted, at most MAX_ADMIN_EMAILS."""
        targets = self._membership.resolve(session, groups)
        if self._active_directory:
            return _admin_addresses(self._ad_admin_addresses(session, targets))
        return _admin_addresses(self._openldap_admin_addresses(session, targets))

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
            found.extend(first(attributes, email) for _, attributes in entries)
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
                classes = {kind.casefold() for kind in texts(attributes, "objectClass")}
                if classes & _GROUP_CLASSES:
                    members.extend(texts(attributes, "member"))
                    members.extend(
                        _OPTIONAL_UID.sub("", value) for value in texts(attributes, "uniqueMember")
                    )
                elif first(attributes, "pwdAccountLockedTime") != OPENLDAP_DISABLED:
                    found.append(first(attributes, email))
            level = [member for member in members if under_base(settings.base_dn, member)]
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
        with self._missing_lock:
            if key in self._missing_admin_groups:
                return
            self._missing_admin_groups.add(key)
        log.warning("LDAP admin group %r not found; its members are not told", dn)


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
