"""Group membership over LDAP: configured group names resolved to DNs, and whether an
entry is a member of any of them, nesting included.

Active Directory walks the nesting itself (LDAP_MATCHING_RULE_IN_CHAIN); on OpenLDAP the
walk goes up from the entry through the groups that list it. Runs in the connection
pool's worker threads, so the cache of resolved names is guarded by a lock.
"""

import logging
import threading
from collections.abc import Sequence

import ldap3

from adapters.directory.base import DirectoryUnavailable
from adapters.directory.ldap import filters
from adapters.directory.ldap.connections import Session
from adapters.directory.ldap.entries import Attributes, texts
from adapters.directory.ldap.settings import LdapDirectorySettings

log = logging.getLogger(__name__)

# Nesting deeper than this is a configuration mistake (or a loop the walk would notice).
MAX_GROUP_DEPTH = 32
# DNs per membership search while walking nested groups.
MEMBERS_PER_SEARCH = 50


class GroupMembership:
    """Resolves configured groups (each cn looked up once) and checks membership."""

    def __init__(self, settings: LdapDirectorySettings) -> None:
        self._settings = settings
        self._active_directory = settings.flavour == "active_directory"
        self._group_dns: dict[str, tuple[str, ...]] = {}
        self._group_lock = threading.Lock()

    def member_of_any(
        self, session: Session, dn: str, attributes: Attributes, groups: Sequence[str]
    ) -> bool:
        """Whether the entry `dn` (read with its memberOf) is in any of `groups`."""
        targets = self.resolve(session, groups)
        if not targets:
            return False
        if self._active_directory:
            # The domain controller walks the nesting (LDAP_MATCHING_RULE_IN_CHAIN).
            search_filter = filters.member_of_any_in_chain(targets)
            return bool(session.search(dn, search_filter, (), scope=ldap3.BASE))
        wanted = {filters.normal_dn(target) for target in targets}
        return self._nested_member(session, dn, texts(attributes, "memberOf"), wanted)

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

    def resolve(self, session: Session, groups: Sequence[str]) -> list[str]:
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
