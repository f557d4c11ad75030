"""A directory kept in a local YAML file: the out-of-the-box run and the tests.

The file is read once at open and served from memory. A change (password, sessions,
unlock) is written back atomically, so a crash leaves either the old file or the new one;
if an admin edited the file meanwhile, their version is reloaded first, never overwritten.
"""

import asyncio
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from adapters.directory.at_rest import (
    ENCRYPTION_KEY_VARIABLE,
    EncryptionKey,
    SecretUnreadable,
    hash_password,
    is_argon2id_hash,
    password_matches,
)
from adapters.directory.base import (
    MAX_ADMIN_EMAILS,
    Account,
    DirectoryUnavailable,
    PasswordRejected,
    SecurityQuestion,
)

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


def _argon2id(value: str) -> str:
    if not is_argon2id_hash(value):
        raise ValueError("not an argon2id hash")
    return value


_Argon2idHash = Annotated[str, AfterValidator(_argon2id)]


class _Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    answer_hash: _Argon2idHash


class _User(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1)
    display_name: str
    object_id: str | None = None
    aliases: list[str] = []
    email: str | None = None
    mobile_phone: str | None = None
    office_phone: str | None = None
    groups: list[str] = []
    admin: bool = False
    enabled: bool = True
    must_change: bool = False
    locked: bool = False
    sessions_revoked_at: AwareDatetime | None = None
    password_hash: _Argon2idHash | None = None
    totp_secret: str | None = None
    questions: list[_Question] = []

    def names(self) -> set[str]:
        named = [self.username, self.email, self.object_id, *self.aliases]
        return {_key(name) for name in named if name}

    def account(self) -> Account:
        return Account(
            id=self.object_id or self.username,
            username=self.username,
            display_name=self.display_name,
            enabled=self.enabled,
            is_admin=self.admin,
            email=self.email,
            mobile_phone=self.mobile_phone,
            office_phone=self.office_phone,
            groups=frozenset(self.groups),
            aliases=frozenset(self.aliases),
            has_totp=self.totp_secret is not None,
            questions=tuple(
                SecurityQuestion(id=q.id, text=q.text, answer_hash=q.answer_hash)
                for q in self.questions
            ),
            locked=self.locked,
        )


class _DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: dict[str, list[str]] = {}
    """Group name -> the groups that are members of it (nesting)."""
    users: list[_User]


@dataclass(frozen=True)
class _Stamp:
    """Identifies one version of the file, to notice an edit made behind our back."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> "_Stamp":
        return cls(stat.st_ino, stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class _Snapshot:
    document: _DirectoryFile
    header: str
    stamp: _Stamp
    users: Mapping[str, _User]
    names: Mapping[str, str]
    parents: Mapping[str, frozenset[str]]


def _key(name: str) -> str:
    return name.strip().casefold()


class EmbeddedDirectory:
    """The Directory port over a YAML file; build it with `await EmbeddedDirectory.open(...)`."""

    def __init__(self, path: Path, key: EncryptionKey, snapshot: _Snapshot) -> None:
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
        snapshot = await asyncio.to_thread(_load, path, key)
        return cls(path, key, snapshot)

    async def find(self, name: str) -> Account | None:
        user = self._user(name)
        return user.account() if user else None

    async def in_any_group(self, account: Account, groups: Sequence[str]) -> bool:
        user = self._user(account.username)
        if user is None:
            return False
        wanted = {_key(group) for group in groups}
        return not wanted.isdisjoint(_effective_groups(user.groups, self._snapshot.parents))

    async def totp_secret(self, account: Account) -> str | None:
        user = self._user(account.username)
        if user is None or user.totp_secret is None:
            return None
        return self._key.decrypt(user.totp_secret)

    async def set_password(self, account: Account, password: str, *, must_change: bool) -> None:
        """Hash and store the password; PasswordRejected only when it is the current one."""

        def change(user: _User) -> _User:
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

    def _user(self, name: str) -> _User | None:
        snapshot = self._snapshot
        username = snapshot.names.get(_key(name))
        return snapshot.users[username] if username is not None else None

    async def _change(self, account: Account, change: Callable[[_User], _User]) -> None:
        async with self._lock:
            await asyncio.to_thread(self._change_in_file, account.username, change)

    def _change_in_file(self, username: str, change: Callable[[_User], _User]) -> None:
        """Runs in a worker thread, one at a time (the caller holds the lock)."""
        snapshot = self._snapshot
        try:
            edited = _Stamp.of(self._path.stat()) != snapshot.stamp
        except OSError as exc:
            raise DirectoryUnavailable(f"{self._path}: cannot be read ({exc.strerror})") from None
        if edited:
            snapshot = _load(self._path, self._key)
            self._snapshot = snapshot
        user = snapshot.users.get(_key(username))
        if user is None:
            raise DirectoryUnavailable(f"{self._path}: user {username!r} is no longer listed")
        updated = change(user)
        if updated == user:
            return
        users = [updated if existing is user else existing for existing in snapshot.document.users]
        document = snapshot.document.model_copy(update={"users": users})
        stamp = _write(self._path, snapshot.header, document)
        self._snapshot = _index(document, snapshot.header, stamp, self._path)


def _effective_groups(direct: Iterable[str], parents: Mapping[str, frozenset[str]]) -> set[str]:
    """The direct groups and every group they are nested in; a cycle ends the walk."""
    seen: set[str] = set()
    pending = [_key(group) for group in direct]
    while pending:
        group = pending.pop()
        if group not in seen:
            seen.add(group)
            pending.extend(parents.get(group, ()))
    return seen


def _load(path: Path, key: EncryptionKey) -> _Snapshot:
    try:
        with path.open("rb") as file:
            stamp = _Stamp.of(os.fstat(file.fileno()))
            text = file.read().decode("utf-8")
    except OSError as exc:
        raise DirectoryUnavailable(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DirectoryUnavailable(f"{path}: is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DirectoryUnavailable(f"{path}: is not valid YAML ({_yaml_problem(exc)})") from None
    if not isinstance(data, dict):
        raise DirectoryUnavailable(f"{path}: must be a mapping with a 'users' list")
    try:
        document = _DirectoryFile.model_validate(data)
    except ValidationError as exc:
        raise DirectoryUnavailable(f"{path}: {_validation_problems(exc, data)}") from None
    for user in document.users:
        if user.totp_secret is not None:
            try:
                key.decrypt(user.totp_secret)
            except SecretUnreadable:
                raise DirectoryUnavailable(
                    f"{path}: the TOTP secret of {user.username!r} cannot be decrypted; "
                    f"{ENCRYPTION_KEY_VARIABLE} is not the key it was encrypted with"
                ) from None
    return _index(document, _leading_comments(text), stamp, path)


def _index(document: _DirectoryFile, header: str, stamp: _Stamp, path: Path) -> _Snapshot:
    users: dict[str, _User] = {}
    names: dict[str, str] = {}
    for user in document.users:
        username = _key(user.username)
        for name in user.names():
            owner = names.setdefault(name, username)
            if owner != username:
                raise DirectoryUnavailable(
                    f"{path}: {name!r} names two users ({owner!r} and {username!r})"
                )
        users[username] = user
    parents: dict[str, set[str]] = {}
    for parent, members in document.groups.items():
        for member in members:
            parents.setdefault(_key(member), set()).add(_key(parent))
    return _Snapshot(
        document=document,
        header=header,
        stamp=stamp,
        users=users,
        names=names,
        parents={member: frozenset(groups) for member, groups in parents.items()},
    )


def _write(path: Path, header: str, document: _DirectoryFile) -> _Stamp:
    """Replace the file atomically with a private (0600) copy; returns the new stamp."""
    body = yaml.safe_dump(
        document.model_dump(mode="json", exclude_none=True),
        sort_keys=False,
        allow_unicode=True,
    )
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(header + body)
                file.flush()
                os.fsync(file.fileno())
                stamp = _Stamp.of(os.fstat(file.fileno()))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise DirectoryUnavailable(f"{path}: cannot be written ({exc.strerror})") from None
    return stamp


def _leading_comments(text: str) -> str:
    """The comment block at the top of the file, kept when the file is rewritten."""
    header: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        header.append(line)
    return "".join(header)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong and where, without the offending text (it may hold a hash or token)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return f"{exc.problem or 'syntax error'} at line {exc.problem_mark.line + 1}"
    return "syntax error"


def _validation_problems(exc: ValidationError, data: Mapping[str, Any]) -> str:
    """One line per problem, naming the user by username; input values are left out."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        location = error["loc"]
        where = ".".join(str(part) for part in location) or "file"
        if len(location) >= 2 and location[0] == "users" and isinstance(location[1], int):
            field = ".".join(str(part) for part in location[2:])
            where = f"user {_username_at(data, location[1])} {field}".rstrip()
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def _username_at(data: Mapping[str, Any], index: int) -> str:
    users = data.get("users")
    if isinstance(users, list) and index < len(users) and isinstance(users[index], dict):
        username = users[index].get("username")
        if isinstance(username, str):
            return repr(username)
    return f"#{index + 1}"
