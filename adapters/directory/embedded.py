"""A directory kept in a local YAML file: the out-of-the-box run and the tests.

The file is read once at open and served from memory. A change (password, sessions,
unlock) is written back atomically, so a crash leaves either the old file or the new one;
if an admin edited the file meanwhile, their version is reloaded first, never overwritten.
The file's layout, loading and rewriting are in embedded_file.py.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
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
from adapters.directory.embedded_file import (
    RenderedUsers,
    Snapshot,
    Stamp,
    User,
    load,
    name_key,
    reindexed,
    write,
)
from adapters.hashing import hashing

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

    def __init__(
        self,
        path: Path,
        key: EncryptionKey,
        snapshot: Snapshot,
        rendered: RenderedUsers,
    ) -> None:
        """`rendered`: the users' YAML blocks as the file has them (`open` renders them)."""
        self._path = path
        self._key = key
        self._snapshot = snapshot
        self._changes: list[_Change] = []
        self._rendered = rendered
        self._writer: asyncio.Task[None] | None = None

    can_unlock = True

    @classmethod
    async def open(cls, path: Path, *, key: EncryptionKey) -> "EmbeddedDirectory":
        """Load and check the whole file; raises DirectoryUnavailable naming what is wrong.

        `key` must be the one the TOTP secrets were encrypted with: every secret is
        decrypted once here, so a wrong key fails at start-up, not at a user's first try.
        """
        snapshot = await asyncio.to_thread(load, path, key)
        rendered = RenderedUsers()
        await asyncio.to_thread(rendered.of, snapshot.document.users)
        return cls(path, key, snapshot, rendered)

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
        """Hash and store the password; PasswordRejected only when it is the current one.
        The hashing runs before the file's lock is taken, so changes queue only for the
        file itself."""

        current = self._user(account.username)
        known = current.password_hash if current is not None else None
        same: bool = bool(known) and await hashing(password_matches, known, password)
        if same:
            raise PasswordRejected(UNCHANGED_REASON, kind="same")
        password_hash = await hashing(hash_password, password)
        update = {"password_hash": password_hash, "must_change": must_change}
        await self._change(account, lambda user: user.model_copy(update=update))

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
        return await hashing(password_matches, user.password_hash, password)

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
        """Change one user in the file; returns once the file holds the change.

        Changes asked for while the file is being written go into the next write
        together (a group commit): one rewrite of the file serves every reset that
        finished meanwhile, instead of each waiting for a rewrite of its own."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._changes.append(_Change(account.username, change, done))
        if self._writer is None:
            self._writer = loop.create_task(self._write_changes())
        await asyncio.shield(done)

    async def _write_changes(self) -> None:
        try:
            while self._changes:
                batch, self._changes = self._changes, []
                try:
                    failures = await asyncio.to_thread(self._change_in_file, batch)
                except Exception as error:  # the file unreadable or unwritable: all failed
                    failures = [error] * len(batch)
                for change, failure in zip(batch, failures, strict=True):
                    if failure is None:
                        change.done.set_result(None)
                    else:
                        change.done.set_exception(failure)
        finally:
            self._writer = None

    def _change_in_file(self, batch: list["_Change"]) -> list[Exception | None]:
        """Runs in a worker thread, one batch at a time; each change's failure, if any."""
        snapshot = self._snapshot
        try:
            edited = Stamp.of(self._path.stat()) != snapshot.stamp
        except OSError as exc:
            raise DirectoryUnavailable(f"{self._path}: cannot be read ({exc.strerror})") from None
        if edited:
            snapshot = load(self._path, self._key)
            self._snapshot = snapshot
        users = dict(snapshot.users)  # name key -> user, in file order
        changed: dict[str, User] = {}
        failures: list[Exception | None] = []
        for change in batch:
            key = name_key(change.username)
            user = users.get(key)
            if user is None:
                message = f"{self._path}: user {change.username!r} is no longer listed"
                failures.append(DirectoryUnavailable(message))
                continue
            users[key] = changed[key] = change.change(user)
            failures.append(None)
        listed = list(users.values())
        if listed != snapshot.document.users:
            document = snapshot.document.model_copy(update={"users": listed})
            stamp = write(self._path, snapshot.header, document, self._rendered)
            self._snapshot = reindexed(snapshot, document, stamp, changed, self._path)
        return failures


@dataclass(frozen=True)
class _Change:
    username: str
    change: Callable[[User], User]
    done: asyncio.Future[None]


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
