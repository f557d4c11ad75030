"""Reading an LDAP entry's attributes as the directory adapter needs them.

ldap3 hands attribute values over as raw bytes keyed by the lower-cased attribute name;
these helpers decode them as UTF-8 text and skip what is not text, so a binary value is
never taken for a name, an address or a number.
"""

from collections.abc import Mapping

from adapters.directory.ldap import filters

Attributes = Mapping[str, list[bytes]]

# ppolicy's pwdAccountLockedTime value for "locked for good": how OpenLDAP disables an account.
OPENLDAP_DISABLED = "000001010000Z"


def texts(attributes: Attributes, name: str) -> list[str]:
    """Every value of `name` that is UTF-8 text, in the server's order."""
    values = []
    for raw in attributes.get(name.casefold(), ()):
        try:
            values.append(bytes(raw).decode("utf-8"))
        except UnicodeDecodeError:
            continue  # not text: never a name, mail or number
    return values


def first(attributes: Attributes, name: str) -> str | None:
    """The first text value of `name`; None when it has none."""
    values = texts(attributes, name)
    return values[0] if values else None


def integer(attributes: Attributes, name: str) -> int:
    """The first value of `name` as an integer; 0 when it is absent or not a number."""
    value = first(attributes, name)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def under_base(base_dn: str, dn: str) -> bool:
    """Whether `dn` is `base_dn` or below it, so that nothing outside base_dn is read."""
    base = filters.normal_dn(base_dn)
    candidate = filters.normal_dn(dn)
    return candidate == base or candidate.endswith("," + base)
