"""A directory kept in a local YAML file: the out-of-the-box run and the tests.

The file is read once at open and served from memory. A change (password, sessions,
unlock) is written back atomically, so a crash leaves either the old file or the new one;
if an admin edited the file meanwhile, their version is reloaded first, never overwritten.
The file's layout, loading and rewriting are in embedded_file.py.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from adapters.directory.at_rest import EncryptionKey, hash_password, password_matches
from adapters.directory.base import (
    MAX_ADMIN_EMAILS,
    Account,
    DirectoryUnavailable,
    PasswordRejected,
)
from adapters.directory.embedded_file import Snapshot, Stamp, User, index, load, name_key, write

UNCHANGED_REASON = "The new password must be different from the current one."


class EmbeddedDirectorySettings(BaseModel):
    """The `embedded` directory section of the bot's configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        default="directory.yaml",
        min_length=1,
        description=(
            "The YAML file of users. A relative path is taken from the data directory. "
            "The bot rewrites this file when a password changes, so it needs write access "
            "to the folder; keep the file readable by the bot's account only."
        ),
    )
    seed_demo: bool = Field(
        default=True,
        description=(
            "When the file does not exist, create it from the published demo accounts "
            "(for trying the bot out). Set to false in production, so that a wrong path "
            "fails at start-up instead of serving demo accounts."
        ),
    )


class EmbeddedDirectory:
    """The Directory port over a YAML file; build it with `await EmbeddedDirectory.open(...)`."""

    def __init__(self, path: Path, key: EncryptionKey, snapshot: Snapshot) -> None:
        self._path = path
        self._key = key
        self._snapshot = snapshot
        self._lock = asyncio.Lock()

    can_unlock = True

    @classmethod
    async def open(cls, path: Path, *, key: EncryptionKey) -> "EmbeddedDirectory":
        """Load and check the whole file; raises DirectoryUnavailable naming what is wrong.

        `key` must be the one the TOTP secrets were encrypted with: every secret is
        decrypted once here, so a wrong key fails at start-up, not at a user's first try.
        """
        snapshot = await asyncio.to_thread(load, path, key)
        return cls(path, key, snapshot)

    async def find(self, name: str) -> Account | None:
        user = self._user(name)
        return user.account() if user else None

    async def accounts(self) -> AsyncIterator[Account]:
        """The enabled accounts in file order, from the file as loaded (as `find` reads it)."""
        for user in self._snapshot.document.users:
            if user.enabled:
                yield user.account()

    async def in_any_group(self, account: Account, groups: Sequence[str]) -> bool:
        user = self._user(account.username)
        if user is None:
            return False
        wanted = {name_key(group) for group in groups}
        return not wanted.isdisjoint(_effective_groups(user.groups, self._snapshot.parents))

    async def totp_secret(self, account: Account) -> str | None:
        user = self._user(account.username)
        if user is None or user.totp_secret is None:
            return None
        return self._key.decrypt(user.totp_secret)

    async def set_password(self, account: Account, password: str, *, must_change: bool) -> None:
        """Hash and store the password; PasswordRejected only when it is the current one."""

        def change(user: User) -> User:
            if user.password_hash and password_matches(user.password_hash, password):
                raise PasswordRejected(UNCHANGED_REASON, kind="same")
            return user.model_copy(
                update={"password_hash": hash_password(password), "must_change": must_change}
            )

        await self._change(account, change)

    async def revoke_sessions(self, account: Account) -> None:
        revoked_at = datetime.now(UTC)
        await self._change(
            account, lambda user: user.model_copy(update={"sessions_revoked_at": revoked_at})
        )

    async def unlock(self, account: Account) -> None:
        await self._change(account, lambda user: user.model_copy(update={"locked": False}))

    async def check_password(self, name: str, password: str) -> bool:
        """Whether `password` signs in `name` (any name `find` accepts).

        For the command that lets a person confirm a reset took effect; the conversation
        never calls it.
        """
        user = self._user(name)
        if user is None or user.password_hash is None:
            return False
        return await asyncio.to_thread(password_matches, user.password_hash, password)

    async def admin_emails(self) -> list[str]:
        """The addresses of the enabled accounts marked `admin: true`."""
        users = self._snapshot.users.values()
        found = sorted({u.email for u in users if u.admin and u.enabled and u.email})
        return found[:MAX_ADMIN_EMAILS]

    async def close(self) -> None:
        """Nothing to release: the file is open only while it is read or rewritten."""

    def _user(self, name: str) -> User | None:
        snapshot = self._snapshot
        username = snapshot.names.get(name_key(name))
        return snapshot.users[username] if username is not None else None

    async def _change(self, account: Account, change: Callable[[User], User]) -> None:
        async with self._lock:
            await asyncio.to_thread(self._change_in_file, account.username, change)

    def _change_in_file(self, username: str, change: Callable[[User], User]) -> None:
        """Runs in a worker thread, one at a time (the caller holds the lock)."""
        snapshot = self._snapshot
        try:
            edited = Stamp.of(self._path.stat()) != snapshot.stamp
        except OSError as exc:
            raise DirectoryUnavailable(f"{self._path}: cannot be read ({exc.strerror})") from None
        if edited:
            snapshot = load(self._path, self._key)
            self._snapshot = snapshot
        user = snapshot.users.get(name_key(username))
        if user is None:
            raise DirectoryUnavailable(f"{self._path}: user {username!r} is no longer listed")
        updated = change(user)
        if updated == user:
            return
        users = [updated if existing is user else existing for existing in snapshot.document.users]
        document = snapshot.document.model_copy(update={"users": users})
        stamp = write(self._path, snapshot.header, document)
        self._snapshot = index(document, snapshot.header, stamp, self._path)


def _effective_groups(direct: Iterable[str], parents: Mapping[str, frozenset[str]]) -> set[str]:
    """The direct groups and every group they are nested in; a cycle ends the walk."""
    seen: set[str] = set()
    pending = [name_key(group) for group in direct]
    while pending:
        group = pending.pop()
        if group not in seen:
            seen.add(group)
            pending.extend(parents.get(group, ()))
    return seen
