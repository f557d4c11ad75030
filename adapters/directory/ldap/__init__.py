"""Active Directory and OpenLDAP behind the Directory port, through ldap3."""

# First: loads ldap3 without pyasn1's deprecation notices (see library.py).
from adapters.directory.ldap import library  # noqa: F401
from adapters.directory.ldap.directory import LdapDirectory, open_ldap_directory
from adapters.directory.ldap.settings import (
    BIND_PASSWORD_VARIABLE,
    LdapAttributes,
    LdapDirectorySettings,
)

__all__ = [
    "BIND_PASSWORD_VARIABLE",
    "LdapAttributes",
    "LdapDirectory",
    "LdapDirectorySettings",
    "open_ldap_directory",
]
