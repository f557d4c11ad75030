"""The Directory port: what the reset conversation needs to know and change about an account."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class DirectoryUnavailable(Exception):
    """The directory cannot be reached or answered nonsense; nothing was changed."""


class PasswordRejected(Exception):
    """The directory refused the new password; the user may try another one.

    `kind` says why in a way the dialog can word for the user ("policy": too weak for the
    directory's rules, "history": used before, "same": the current one, "too_soon": changed
    too recently); `reason` is a sentence safe to show as it is.
    """

    def __init__(self, reason: str, kind: str = "policy") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class ResetNotPermitted(Exception):
    """The bot's own identity may not change this account (an admin needs a higher role, a
    protected account); only a person at the helpdesk can. Never a verification failure."""


@dataclass(frozen=True)
class SecurityQuestion:
    """A question the user enrolled, with the argon2 hash of the normalised answer."""

    id: str
    text: str
    answer_hash: str


@dataclass(frozen=True)
class Account:
    """An account as the conversation sees it; never holds a password or a clear secret."""

    id: str
    username: str
    display_name: str
    enabled: bool
    is_admin: bool = False
    email: str | None = None
    mobile_phone: str | None = None
    office_phone: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    aliases: frozenset[str] = field(default_factory=frozenset)
    has_totp: bool = False
    questions: tuple[SecurityQuestion, ...] = ()
    locked: bool = False


# Admins told of an admin's reset, at most: a notice is one email per address.
MAX_ADMIN_EMAILS = 100


class Directory(Protocol):
    """Every method may raise DirectoryUnavailable."""

    @property
    def can_unlock(self) -> bool:
        """Whether `unlock` does something here (a locked-out account can be unlocked)."""
        ...

    async def find(self, name: str) -> Account | None:
        """The account whose username, alias, email or object id is `name` (case-insensitive)."""
        ...

    def accounts(self) -> AsyncIterator[Account]:
        """Every enabled account `find` could return, streamed (a directory may hold more
        accounts than fit in memory at once): what an admin's overview of reset readiness
        walks. Whether each is in the reset scope is the policy's to say, as for `find`."""
        ...

    async def in_any_group(self, account: Account, groups: Sequence[str]) -> bool:
        """Whether the account is a member (directly or nested) of one of `groups`."""
        ...

    async def totp_secret(self, account: Account) -> str | None:
        """The decrypted base32 TOTP secret the account enrolled, if any."""
        ...

    async def set_password(self, account: Account, password: str, *, must_change: bool) -> None:
        """Set the password; PasswordRejected when the directory's policy refuses it,
        ResetNotPermitted when the bot may not change this account."""
        ...

    async def revoke_sessions(self, account: Account) -> None:
        """Sign the account out everywhere, so a thief's open sessions end with the reset."""
        ...

    async def unlock(self, account: Account) -> None:
        """Clear a lockout (too many wrong passwords at sign-in), keeping the password."""
        ...

    async def admin_emails(self) -> list[str]:
        """The email addresses of the directory's administrators, who are told whenever an
        admin's password is reset (as Entra tells all admins). Administrators without an
        address are left out; the list is bounded and never raises for an empty result."""
        ...

    async def close(self) -> None: ...
