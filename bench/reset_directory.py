"""The reset benchmark's directory: many generated users, written in seconds, as the
embedded directory's file or as an LDIF for OpenLDAP.

Every user is in the reset scope (`sspr-users`) and has an email address, a mobile number
and a TOTP secret. Every `ADMIN_EVERY`-th user is an admin: the two-gate rule makes their
reset take two methods.

Every `QUESTIONS_EVERY`-th non-admin user has registered three security questions, which
a bot requiring two checks offers second. The embedded file holds them, with the TOTP
secrets (encrypted with the published demo key, as config/demo-directory.yaml has them)
and no phone, so the methods on offer there are the authenticator, the email code and the
questions. An LDAP directory holds neither authenticators nor questions, so the users'
questions go where the bot keeps what people register in chat: its method registry in the
state store (`register_questions`, through the bot's own `MethodRegistry`, keyed by the
entryUUID the bot reads from slapd); in the LDIF the methods are the email and the text
code, and the admins are the members of `ADMIN_GROUP`.

Hashes are argon2id with the library's default (RFC 9106) parameters, the ones the bot
itself writes, so whatever the bot verifies costs it what a real directory's hashes
would. They are made once and reused by every user (one for the password, one per
question), in the file and in the registry alike: 5,000 distinct hashes would take
minutes and change nothing the bot does, since a verification costs the same whichever
salt it meets. The users therefore share their current password and answers, which only
this file and the load generator know.
"""

import asyncio
import base64
import secrets
import shutil
import string
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pyotp
import pytest
import yaml

from adapters.directory import SecurityQuestion
from adapters.directory.answers import hash_answer
from adapters.directory.at_rest import EncryptionKey, hash_password
from adapters.directory.ldap import (
    BIND_PASSWORD_VARIABLE,
    LdapDirectorySettings,
    open_ldap_directory,
)
from dialogs.registry import MethodRegistry
from tests.support.slapd import (
    PACKAGES,
    ROOT_DN,
    SlapdServer,
    group_dn,
    slapd_binaries,
    user_dn,
)

SCOPE = "sspr-users"
ADMIN_GROUP = "it-admins"  # the admin group of tests/support/slapd.py's configuration
DOMAIN = "bench.example"
ADMIN_EVERY = 5  # every 5th user is an admin: 20 % two-method resets
QUESTIONS_EVERY = 2  # every 2nd non-admin user has registered security questions
# Shared by every generated user (see above); published here, as the demo accounts are.
CURRENT_PASSWORD = "bench current password"  # noqa: S105
QUESTIONS = (
    ("pet", "What was the name of your first pet?", "rusty"),
    ("city", "In which city did your parents meet?", "lisbon"),
    ("school", "What was the name of your primary school?", "hillside"),
)
LDAPADD = "ldapadd"
LOAD_TIMEOUT = 120.0  # seconds ldapadd may take for the whole LDIF
# The mdb map: its default of 10 MiB is full before 5,000 users are in their groups.
MAP_SIZE = 2**30  # bytes of address space; the file grows only as far as it is used
REGISTRY_WRITERS = 32  # registry records written at once: Redis round trips overlap
_NAMESPACE = uuid.UUID("5b7c2f3e-9d1a-4c8e-b6f0-1a2b3c4d5e6f")


@dataclass(frozen=True)
class BenchUser:
    """What the load generator knows of a user: enough to pass every check the bot asks."""

    username: str
    email: str
    mobile: str  # E.164; in the LDIF only
    totp_secret: str  # base32, in clear: the load generator computes codes with it
    admin: bool
    has_questions: bool

    def answer(self, question: str) -> str:
        """The answer to a question, found by the text the bot asks it with."""
        return next(answer for _, text, answer in QUESTIONS if text in question)


def bench_users(count: int) -> list[BenchUser]:
    users = []
    for number in range(1, count + 1):
        admin = number % ADMIN_EVERY == 0
        users.append(
            BenchUser(
                username=f"u{number:05d}",
                email=f"u{number:05d}@{DOMAIN}",
                mobile=f"+1555{number:07d}",
                totp_secret=pyotp.random_base32(),
                admin=admin,
                has_questions=not admin and number % QUESTIONS_EVERY == 0,
            )
        )
    return users


def write_directory(path: Path, users: Sequence[BenchUser]) -> None:
    """The embedded directory file for `users`, in the layout embedded_file.py loads."""
    key = EncryptionKey.demo()
    password_hash = hash_password(CURRENT_PASSWORD)
    questions = [asdict(question) for question in security_questions()]
    document = {
        "groups": {SCOPE: []},
        "users": [
            {
                "username": user.username,
                "display_name": f"Bench Person {user.username[1:]}",
                "object_id": str(uuid.uuid5(_NAMESPACE, user.username)),
                "email": user.email,
                "groups": [SCOPE],
                "admin": user.admin,
                "password_hash": password_hash,
                "totp_secret": key.encrypt(user.totp_secret),
                "questions": questions if user.has_questions else [],
            }
            for user in users
        ],
    }
    header = "# Generated by bench/reset_directory.py for the reset benchmark; not for use.\n"
    text = header + yaml.safe_dump(document, sort_keys=False, width=1000)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


def security_questions() -> list[SecurityQuestion]:
    """The shared questions with their answers hashed, once for every user (see above)."""
    return [SecurityQuestion(ident, text, hash_answer(answer)) for ident, text, answer in QUESTIONS]


async def ldap_account_ids(server: SlapdServer) -> dict[str, str]:
    """Each username's account id, the key of the bot's registry record (OpenLDAP's
    entryUUID, given by slapd), read as the bot reads it: its own LDAP directory listing
    every account, a page at a time. Bound as the root DN: slapd caps what a paged search
    returns in all at the bind DN's size limit (500 by default), which the root DN has not.
    No admin groups: only the ids are wanted, not each entry's membership walked."""
    config = server.directory_config(bind_dn=ROOT_DN, admin_groups=[])
    settings = LdapDirectorySettings.model_validate(config)
    environ = {BIND_PASSWORD_VARIABLE: server.root_password}
    directory = await open_ldap_directory(settings, environ)
    try:
        return {account.username: account.id async for account in directory.accounts()}
    finally:
        await directory.close()


async def register_questions(
    registry: MethodRegistry, ids: Mapping[str, str], users: Sequence[BenchUser]
) -> int:
    """The security questions of every user that has them, written to the bot's registry
    as the bot itself enrols them (`set_questions`), by `REGISTRY_WRITERS` writers at once
    so that thousands take seconds: the number written."""
    questions = await asyncio.to_thread(security_questions)
    pending = iter([ids[user.username] for user in users if user.has_questions])
    written = 0

    async def writer() -> None:
        nonlocal written
        for account_id in pending:
            await registry.set_questions(account_id, questions)
            written += 1

    await asyncio.gather(*(writer() for _ in range(REGISTRY_WRITERS)))
    return written


def write_ldif(path: Path, users: Sequence[BenchUser]) -> None:
    """The users as one LDIF for `ldapadd` (as the root DN, into tests/support/slapd.py's
    seeded tree): an inetOrgPerson each under ou=people with the current password in
    clear (ppolicy hashes it on the way in), then every user added to the scope group and
    the admins to the admin group, one modify per group."""
    chunks = [_person(user) for user in users]
    chunks.append(_members(SCOPE, [user_dn(user.username) for user in users]))
    chunks.append(_members(ADMIN_GROUP, [user_dn(user.username) for user in users if user.admin]))
    path.write_text("\n".join(chunks), encoding="utf-8")
    path.chmod(0o600)


def ldap_binaries() -> str:
    """ldapadd's path, once slapd and slapadd are there too; `pytest.fail` (as the test
    suite's helpers do) naming the Debian packages otherwise."""
    slapd_binaries()
    found = shutil.which(LDAPADD)
    if found is None:
        pytest.fail(f"{LDAPADD} not found: {PACKAGES}", pytrace=False)
    return found


def load_ldif(server: SlapdServer, ldif: Path) -> None:
    """`ldapadd` of the whole LDIF as the root DN, over the plain port: one process and
    one connection, a few seconds for thousands of users. The root password goes in a
    private file (`-y`), never on a command line."""
    secret = server.directory / "root-password"
    secret.touch(mode=0o600)
    secret.write_text(server.root_password, encoding="utf-8")
    command = [ldap_binaries(), "-x", "-H", server.url, "-D", ROOT_DN, "-y", str(secret)]
    loaded = subprocess.run(  # noqa: S603 (ldapadd from PATH, our own arguments)
        [*command, "-f", str(ldif)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=LOAD_TIMEOUT,
        check=False,
    )
    secret.unlink()
    if loaded.returncode != 0:
        raise RuntimeError(f"ldapadd failed ({loaded.returncode}): {loaded.stderr[-2000:]}")


def _person(user: BenchUser) -> str:
    name = f"Bench Person {user.username[1:]}"
    return "".join(
        _line(attribute, value)
        for attribute, value in (
            ("dn", user_dn(user.username)),
            ("objectClass", "inetOrgPerson"),
            ("uid", user.username),
            ("cn", name),
            ("sn", "Person"),
            ("displayName", name),
            ("mail", user.email),
            ("mobile", user.mobile),
            ("userPassword", CURRENT_PASSWORD),
        )
    )


def _members(group: str, members: Sequence[str]) -> str:
    lines = [_line("dn", group_dn(group)), "changetype: modify\n", "add: member\n"]
    lines.extend(_line("member", member) for member in members)
    return "".join(lines) + "-\n"


def _line(attribute: str, value: str) -> str:
    """One LDIF line: base64 (`::`) when RFC 2849 does not allow the value as it is."""
    if value.startswith((" ", ":", "<")) or value != value.strip():
        return f"{attribute}:: {base64.b64encode(value.encode()).decode()}\n"
    return f"{attribute}: {value}\n"


def new_password() -> str:
    """A new password the bot's policy accepts: long, not common, no name or digits in it
    (the users' names are `u` and digits), different every time."""
    tail = "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))
    return f"copper lantern {tail}"
