"""The `ldap` directory section of the bot's configuration (Active Directory or OpenLDAP)."""

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.directory.ldap.filters import is_filter

BIND_PASSWORD_VARIABLE = "SSPR_LDAP_BIND_PASSWORD"  # noqa: S105 - the variable's name

Flavour = Literal["active_directory", "openldap"]

_DEFAULT_USER_FILTER: dict[Flavour, str] = {
    "active_directory": "(&(objectCategory=person)(objectClass=user))",
    "openldap": "(objectClass=inetOrgPerson)",
}
_DEFAULT_ADMIN_GROUPS: dict[str, tuple[str, ...]] = {
    "active_directory": ("Domain Admins", "Enterprise Admins", "Schema Admins", "Administrators"),
    "openldap": (),
}
_DEFAULT_NAME_ATTRIBUTES: dict[Flavour, tuple[str, ...]] = {
    "active_directory": ("sAMAccountName", "userPrincipalName", "mail"),
    "openldap": ("uid", "mail"),
}
_ATTRIBUTE_NAME = r"^[A-Za-z][A-Za-z0-9-]*$"


class LdapAttributes(BaseModel):
    """Which entry attributes hold what the conversation shows or sends codes to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    display_name: str = Field(
        "displayName",
        pattern=_ATTRIBUTE_NAME,
        description="The name the bot greets the user with (falls back to `cn`).",
    )
    email: str = Field("mail", pattern=_ATTRIBUTE_NAME, description="Where email codes go.")
    mobile_phone: str = Field(
        "mobile", pattern=_ATTRIBUTE_NAME, description="Where SMS codes go (E.164 numbers)."
    )
    office_phone: str = Field(
        "telephoneNumber", pattern=_ATTRIBUTE_NAME, description="Where voice-call codes go."
    )


class LdapDirectorySettings(BaseModel):
    """Connection and mapping for Active Directory or OpenLDAP, through `ldap3`.

    The bind password is never in the file: it comes from the environment variable
    `SSPR_LDAP_BIND_PASSWORD`. Certificates are always verified on ldaps:// and StartTLS.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    flavour: Flavour = Field(
        description=(
            "`active_directory` (also Samba AD): passwords set through `unicodePwd`, which "
            "needs an encrypted connection; `openldap`: the RFC 3062 password modify "
            "operation and the ppolicy overlay's lockout."
        )
    )
    urls: list[str] = Field(
        min_length=1,
        description=(
            "Server URLs, `ldap://host[:port]` or `ldaps://host[:port]`. With several, the "
            "first one that answers is used and the next ones are the failover."
        ),
    )
    start_tls: bool = Field(
        False,
        description=(
            "Upgrade ldap:// connections with StartTLS before binding (ldaps:// URLs are "
            "encrypted already). Active Directory refuses password resets otherwise."
        ),
    )
    ca_file: str | None = Field(
        None,
        min_length=1,
        description=(
            "PEM file of the CA(s) that signed the servers' certificates; without it the "
            "system's trusted CAs are used. The server name in each URL must match its "
            "certificate. There is no way to turn verification off."
        ),
    )
    bind_dn: str = Field(
        min_length=1,
        description=(
            "The account the bot binds as (AD: a service account delegated 'Reset "
            "password' and write `lockoutTime`/`pwdLastSet` on the users' OU; OpenLDAP: an "
            "entry with write on `userPassword` and manage on the ppolicy attributes, not "
            "the root DN, which ppolicy exempts from the password policy)."
        ),
    )
    base_dn: str = Field(min_length=1, description="Where users and groups are searched.")
    user_filter: str | None = Field(
        None,
        description=(
            "An LDAP filter ANDed to every user search, for instance to leave out service "
            "accounts. Default: `(&(objectCategory=person)(objectClass=user))` on Active "
            "Directory, `(objectClass=inetOrgPerson)` on OpenLDAP."
        ),
    )
    name_attributes: list[str] | None = Field(
        None,
        min_length=1,
        description=(
            "Attributes a typed or chat name is looked up in (any one equal, case as the "
            "schema says). The first is the username. Default: sAMAccountName, "
            "userPrincipalName, mail (AD); uid, mail (OpenLDAP)."
        ),
    )
    attributes: LdapAttributes = Field(
        default_factory=LdapAttributes,
        description="The attributes for display name, email, mobile and office phone.",
    )
    admin_groups: list[str] | None = Field(
        None,
        description=(
            "Groups whose members (nested too) are administrators: they always need two "
            "verifications and never security questions, and the enabled ones with an "
            "address (`attributes.email`) are told whenever an administrator's password is "
            "reset. A DN, or a group's cn (looked up once under base_dn). On Active "
            "Directory accounts with `adminCount=1` are administrators as well (but not "
            "told: AD leaves it set on former ones). Default: Domain Admins, Enterprise "
            "Admins, Schema Admins and Administrators on Active Directory; none on OpenLDAP."
        ),
    )
    pool_size: int = Field(
        4,
        ge=1,
        le=64,
        description="Bound connections kept open and reused (one per worker thread).",
    )
    timeout: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Seconds to wait for a connection or an answer before giving up.",
    )

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("ldap", "ldaps"):
                raise ValueError(f"{url!r}: must start with ldap:// or ldaps://")
            if not parts.hostname:
                raise ValueError(f"{url!r}: names no host")
            if parts.username or parts.password:
                raise ValueError(f"{url!r}: no credentials in the URL (bind_dn and the env)")
            if parts.path not in ("", "/") or parts.query or parts.fragment:
                raise ValueError(f"{url!r}: only scheme, host and port are used")
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        return urls

    @field_validator("user_filter")
    @classmethod
    def _filter(cls, value: str | None) -> str | None:
        if value is not None and not is_filter(value):
            raise ValueError("must be one parenthesised LDAP filter, like (objectClass=person)")
        return value

    @field_validator("name_attributes")
    @classmethod
    def _names(cls, names: list[str] | None) -> list[str] | None:
        for name in names or ():
            if not re.fullmatch(_ATTRIBUTE_NAME, name):
                raise ValueError(f"{name!r} is not an attribute name")
        return names

    @model_validator(mode="after")
    def _admin_groups(self) -> "LdapDirectorySettings":
        if any(not group.strip() for group in self.admin_groups or ()):
            raise ValueError("admin_groups: empty group name")
        return self

    @property
    def effective_user_filter(self) -> str:
        return self.user_filter or _DEFAULT_USER_FILTER[self.flavour]

    @property
    def effective_admin_groups(self) -> tuple[str, ...]:
        if self.admin_groups is not None:
            return tuple(self.admin_groups)
        return _DEFAULT_ADMIN_GROUPS[self.flavour]

    @property
    def effective_name_attributes(self) -> tuple[str, ...]:
        return tuple(self.name_attributes or _DEFAULT_NAME_ATTRIBUTES[self.flavour])

    @property
    def always_encrypted(self) -> bool:
        """Whether every connection will be encrypted (ldaps, or StartTLS on ldap)."""
        return self.start_tls or all(urlsplit(url).scheme == "ldaps" for url in self.urls)
