"""A remote directory's answers kept for a few seconds: asked once per account and
question within `ttl`, a made-up name like a real one, secrets never kept, and what the bot
changes itself seen at once. The directory behind is the embedded one, a real part; a thin
proxy counts what reaches it."""

import shutil
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import pytest

from adapters.directory import Account
from adapters.directory.at_rest import EncryptionKey
from adapters.directory.cache import CachedDirectory
from adapters.directory.embedded import EmbeddedDirectory


@dataclass
class Counting:
    """The embedded directory, noting each call that reaches it."""

    directory: EmbeddedDirectory
    calls: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.directory, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return counted


@dataclass
class Clock:
    at: float = 1000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture(name="behind")
async def behind_fixture(tmp_path: Path) -> Counting:
    path = tmp_path / "directory.yaml"
    with as_file(files("config") / "demo-directory.yaml") as shipped:
        shutil.copyfile(shipped, path)
    return Counting(await EmbeddedDirectory.open(path, key=EncryptionKey.demo()))


def cached(behind: Counting, clock: Clock) -> CachedDirectory:
    return CachedDirectory(behind, ttl=15, now=clock)


async def found(directory: CachedDirectory, name: str) -> Account:
    account = await directory.find(name)
    assert account is not None
    return account


async def test_an_account_is_looked_up_once_within_the_delay(behind: Counting) -> None:
    clock = Clock()
    directory = cached(behind, clock)
    first = await found(directory, "alice")
    assert await found(directory, " ALICE ") is first
    assert await directory.in_any_group(first, ["sspr-users"])
    assert await directory.in_any_group(first, ["sspr-users"])
    assert behind.calls == ["find", "in_any_group"]
    clock.at += 15
    await found(directory, "alice")
    await directory.in_any_group(first, ["sspr-users"])
    assert behind.calls == ["find", "in_any_group", "find", "in_any_group"]


async def test_an_account_found_by_one_name_is_kept_under_all_of_them(
    behind: Counting,
) -> None:
    directory = cached(behind, Clock())
    alice = await found(directory, "alice.wilber@contoso.com")
    for name in (alice.id, "alice", "alice@contoso.com", "ALICE.WILBER@contoso.com"):
        assert await found(directory, name) is alice
    assert behind.calls == ["find"]


async def test_a_name_nobody_has_is_kept_as_a_real_one_is(behind: Counting) -> None:
    directory = cached(behind, Clock())
    for _ in range(2):
        assert await directory.find("nobody-by-that-name") is None
        await found(directory, "bob")
    assert behind.calls == ["find", "find"]


async def test_a_secret_is_never_kept(behind: Counting) -> None:
    directory = cached(behind, Clock())
    alice = await found(directory, "alice")
    first = await directory.totp_secret(alice)
    assert first is not None
    assert await directory.totp_secret(alice) == first
    assert behind.calls.count("totp_secret") == 2


@pytest.mark.parametrize("change", ["set_password", "revoke_sessions", "unlock"])
async def test_what_the_bot_changes_is_seen_at_once(behind: Counting, change: str) -> None:
    directory = cached(behind, Clock())
    alice = await found(directory, "alice")
    await found(directory, "bob")
    if change == "set_password":
        await directory.set_password(alice, "a-brand-new-passphrase", must_change=False)
    else:
        await getattr(directory, change)(alice)
    await found(directory, "alice")
    await found(directory, "bob")
    assert behind.calls == ["find", "find", change, "find"]


async def test_the_admins_addresses_are_kept_too(behind: Counting) -> None:
    directory = cached(behind, Clock())
    first = await directory.admin_emails()
    assert await directory.admin_emails() == first
    assert behind.calls == ["admin_emails"]
