"""The embedded directory's YAML file: its layout, checked on load, and its atomic rewrite.

Every problem is reported as DirectoryUnavailable naming the file and where in it, never
the offending value (it may hold a hash or an encrypted secret).
"""

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
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
    is_argon2id_hash,
)
from adapters.directory.base import Account, DirectoryUnavailable, SecurityQuestion

# libyaml's safe loader and dumper where PyYAML was built with it (its wheels are), the pure
# Python ones otherwise: the same documents, read and written several times faster, which
# a directory of thousands of people rewritten at every reset notices.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _argon2id(value: str) -> str:
    if not is_argon2id_hash(value):
        raise ValueError("not an argon2id hash")
    return value


_Argon2idHash = Annotated[str, AfterValidator(_argon2id)]


class Question(BaseModel):
    """A security question as the file stores it: the answer only as an argon2id hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    answer_hash: _Argon2idHash


class User(BaseModel):
    """One user as the file lists them."""

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
    questions: list[Question] = []

    def names(self) -> set[str]:
        named = [self.username, self.email, self.object_id, *self.aliases]
        return {name_key(name) for name in named if name}

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


class DirectoryFile(BaseModel):
    """The whole file: the users and how groups nest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: dict[str, list[str]] = {}
    """Group name -> the groups that are members of it (nesting)."""
    users: list[User]


@dataclass(frozen=True)
class Stamp:
    """Identifies one version of the file, to notice an edit made behind our back."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> "Stamp":
        return cls(stat.st_ino, stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class Snapshot:
    """The file as loaded, indexed by every name a user can be found by."""

    document: DirectoryFile
    header: str
    stamp: Stamp
    users: Mapping[str, User]
    names: Mapping[str, str]
    parents: Mapping[str, frozenset[str]]


def name_key(name: str) -> str:
    """Names and groups are compared without case or surrounding spaces."""
    return name.strip().casefold()


def load(path: Path, key: EncryptionKey) -> Snapshot:
    """Read and check the whole file; every TOTP secret is decrypted once so that a wrong
    key fails here."""
    try:
        with path.open("rb") as file:
            stamp = Stamp.of(os.fstat(file.fileno()))
            text = file.read().decode("utf-8")
    except OSError as exc:
        raise DirectoryUnavailable(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DirectoryUnavailable(f"{path}: is not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise DirectoryUnavailable(f"{path}: is not valid YAML ({_yaml_problem(exc)})") from None
    if not isinstance(data, dict):
        raise DirectoryUnavailable(f"{path}: must be a mapping with a 'users' list")
    try:
        document = DirectoryFile.model_validate(data)
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
    return index(document, _leading_comments(text), stamp, path)


def index(document: DirectoryFile, header: str, stamp: Stamp, path: Path) -> Snapshot:
    """The lookups a snapshot serves; a name shared by two users is refused."""
    users: dict[str, User] = {}
    names: dict[str, str] = {}
    for user in document.users:
        username = name_key(user.username)
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
            parents.setdefault(name_key(member), set()).add(name_key(parent))
    return Snapshot(
        document=document,
        header=header,
        stamp=stamp,
        users=users,
        names=names,
        parents={member: frozenset(groups) for member, groups in parents.items()},
    )


def reindexed(
    before: Snapshot, document: DirectoryFile, stamp: Stamp, changed: Mapping[str, User], path: Path
) -> Snapshot:
    """`before` after a write that replaced the users under `changed`'s name keys (and
    nothing else) to make `document`: the name index is kept when their names are the
    same, as a password, lock or revocation change leaves them. Indexing every name of
    thousands of users at each write held the GIL long enough to stall other users' turns."""
    if document.groups is not before.document.groups or len(document.users) != len(
        before.document.users
    ):
        return index(document, before.header, stamp, path)
    for key, new in changed.items():
        old = before.users.get(key)
        if old is None or old.names() != new.names():
            return index(document, before.header, stamp, path)
    return replace(before, document=document, stamp=stamp, users={**before.users, **changed})


class RenderedUsers:
    """Each user's block of YAML as last written, kept beside the user it renders.

    Rendering is PyYAML's representer in pure Python (libyaml only emits), about half a
    millisecond a user: seconds for a directory of thousands, with the GIL held, at every
    reset. A user's block depends on that user alone, so a rewrite renders only the users
    that changed and joins the blocks of the others as they were.
    """

    def __init__(self) -> None:
        self._blocks: dict[str, tuple[User, str]] = {}

    def of(self, users: list[User]) -> str:
        blocks: dict[str, tuple[User, str]] = {}
        texts: list[str] = []
        for user in users:
            kept = self._blocks.get(user.username)
            if kept is None or kept[0] is not user:
                kept = (user, _dumped([user.model_dump(mode="json", exclude_none=True)]))
            blocks[user.username] = kept
            texts.append(kept[1])
        self._blocks = blocks
        return "".join(texts)


def write(
    path: Path, header: str, document: DirectoryFile, rendered: RenderedUsers | None = None
) -> Stamp:
    """Replace the file atomically with a private (0600) copy; returns the new stamp.
    `rendered` keeps the users' blocks from one write to the next."""
    rest = document.model_dump(mode="json", exclude_none=True, exclude={"users"})
    users = (rendered or RenderedUsers()).of(document.users) if document.users else ""
    body = _dumped(rest) + ("users:\n" + users if users else "users: []\n")
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(header + body)
                file.flush()
                os.fsync(file.fileno())
                stamp = Stamp.of(os.fstat(file.fileno()))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise DirectoryUnavailable(f"{path}: cannot be written ({exc.strerror})") from None
    return stamp


def _dumped(value: object) -> str:
    return yaml.dump(value, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)


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
