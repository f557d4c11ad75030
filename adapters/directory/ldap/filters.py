"""LDAP search filters, built only here, with every value escaped (RFC 4515).

A value that came from a user (a typed account name, a chat identity) or from the
directory itself (a DN) never enters a filter except through `escape_filter_chars`, or,
for binary values such as AD's objectGUID, `escape_bytes`.
"""

import uuid
from collections.abc import Iterable, Sequence

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.conv import escape_bytes, escape_filter_chars
from ldap3.utils.dn import parse_dn

# LDAP_MATCHING_RULE_IN_CHAIN: AD walks nested group membership on the server.
IN_CHAIN = "1.2.840.113556.1.4.1941"
# LDAP_MATCHING_RULE_BIT_AND: AD tests bits of an integer attribute on the server.
BIT_AND = "1.2.840.113556.1.4.803"
# userAccountControl's ACCOUNTDISABLE bit.
ACCOUNTDISABLE = 0x2
GROUP_CLASSES = ("group", "groupOfNames", "groupOfUniqueNames")


def equals(attribute: str, value: str) -> str:
    return f"({attribute}={escape_filter_chars(value)})"


def any_of(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"(|{''.join(parts)})"


def all_of(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"(&{''.join(parts)})"


def present(attribute: str) -> str:
    """The entry has a value of `attribute` (a configured attribute name, never user input)."""
    return f"({attribute}=*)"


def guid_equals(attribute: str, value: uuid.UUID) -> str:
    """AD's objectGUID is binary, little-endian in its first three fields."""
    return f"({attribute}={escape_bytes(value.bytes_le)})"


def find_user(
    user_filter: str, name_attributes: Iterable[str], name: str, *, id_clause: str | None = None
) -> str:
    """`user_filter` AND (any name attribute equal to `name`, or the id clause)."""
    alternatives = [equals(attribute, name) for attribute in name_attributes]
    if id_clause is not None:
        alternatives.append(id_clause)
    return all_of([user_filter, any_of(alternatives)])


def member_of_any_in_chain(group_dns: Iterable[str]) -> str:
    """Active Directory: the entry is a member, directly or through nested groups, of one
    of the groups (evaluated by the domain controller)."""
    return any_of([f"(memberOf:{IN_CHAIN}:={escape_filter_chars(dn)})" for dn in group_dns])


def ad_enabled() -> str:
    """Active Directory: the account is not disabled (ACCOUNTDISABLE clear)."""
    return f"(!(userAccountControl:{BIT_AND}:={ACCOUNTDISABLE}))"


def groups_containing(member_dns: Iterable[str]) -> str:
    """groupOfNames / groupOfUniqueNames that list one of `member_dns` as a member."""
    members = [
        clause for dn in member_dns for clause in (equals("member", dn), equals("uniqueMember", dn))
    ]
    return all_of([any_of([equals("objectClass", c) for c in GROUP_CLASSES[1:]]), any_of(members)])


def any_group() -> str:
    """A group entry of any of the kinds AD and OpenLDAP use."""
    return any_of([equals("objectClass", c) for c in GROUP_CLASSES])


def group_named(cn: str) -> str:
    return all_of([any_group(), equals("cn", cn)])


def is_filter(text: str) -> bool:
    """Whether `text` is one parenthesised filter with balanced parentheses (a sanity check
    for configured filters; the server does the full parsing)."""
    if not (text.startswith("(") and text.endswith(")")) or "\x00" in text:
        return False
    depth = 0
    for position, character in enumerate(text):
        if character == "(":
            depth += 1
        elif character == ")":
            depth -= 1
            if depth < 0 or (depth == 0 and position != len(text) - 1):
                return False
    return depth == 0


def normal_dn(dn: str) -> str:
    """A DN in one spelling for comparisons: attribute types and values lowercased, no
    spaces around separators. Not for sending to a server."""
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except LDAPInvalidDnError:
        return dn.strip().casefold()
    return ",".join(f"{kind.casefold()}={value.casefold()}" for kind, value, _ in parts)


def looks_like_dn(text: str) -> bool:
    try:
        return "=" in text and bool(parse_dn(text))
    except LDAPInvalidDnError:
        return False
