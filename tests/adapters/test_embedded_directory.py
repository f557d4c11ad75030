"""The embedded directory: the demo file as shipped, and the changes a reset makes."""

import asyncio
import os
import shutil
import stat
from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import pyotp
import pytest
import yaml
from cryptography.fernet import Fernet

from adapters.directory import Account, DirectoryUnavailable, PasswordRejected
from adapters.directory.answers import answer_matches
from adapters.directory.at_rest import EncryptionKey
from adapters.directory.embedded import EmbeddedDirectory, EmbeddedDirectorySettings
from adapters.directory.embedded_file import index, load, reindexed, write

ALICE_ID = "f94b2385-7041-4106-91e7-4a97eb539735"
ALICE_TOTP = "MCE3HIXZW4VZTS6R7WB35M2KH77222RP"
ADELE_TOTP = "T3QHS4G7QP75HNINRJH4F53V47I66VYC"


@pytest.fixture
def demo_path(tmp_path: Path) -> Path:
    """A private copy of the shipped demo directory, free to be rewritten."""
    path = tmp_path / "directory.yaml"
    with as_file(files("config") / "demo-directory.yaml") as shipped:
        shutil.copyfile(shipped, path)
    return path


@pytest.fixture
async def demo(demo_path: Path) -> EmbeddedDirectory:
    return await EmbeddedDirectory.open(demo_path, key=EncryptionKey.demo())


async def found(directory: EmbeddedDirectory, name: str) -> Account:
    account = await directory.find(name)
    assert account is not None, name
    return account


def stored_users(path: Path) -> list[dict[str, Any]]:
    """The users as the file holds them now."""
    users: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["users"]
    return users


def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def write_directory(path: Path, users: list[dict[str, Any]], **top: Any) -> Path:
    path.write_text(yaml.safe_dump({**top, "users": users}, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name",
    [
        "alice",
        "ALICE",
        " Alice ",
        "alice@contoso.com",
        "Alice@Contoso.COM",
        "alice.wilber@contoso.com",
        ALICE_ID,
        ALICE_ID.upper(),
    ],
)
async def test_find_by_any_name_case_insensitively(demo: EmbeddedDirectory, name: str) -> None:
    account = await found(demo, name)
    assert account.username == "alice"
    assert account.id == ALICE_ID
    assert account.display_name == "Alice Wilber"


async def test_an_unknown_name_is_not_found(demo: EmbeddedDirectory) -> None:
    assert await demo.find("mallory") is None
    assert await demo.find("") is None


async def test_the_demo_accounts_as_documented(demo: EmbeddedDirectory) -> None:
    alice = await found(demo, "alice")
    assert (alice.enabled, alice.is_admin, alice.has_totp) == (True, False, True)
    assert alice.mobile_phone == "+1 425 555 0101"
    assert alice.office_phone
    assert len(alice.questions) == 4
    assert answer_matches(alice.questions[1].answer_hash, "new   YORK")

    adele = await found(demo, "adele")
    assert (adele.enabled, adele.is_admin, adele.has_totp, len(adele.questions)) == (
        True,
        True,
        True,
        3,
    )
    assert adele.email
    assert adele.mobile_phone

    bob = await found(demo, "bob")
    assert (bob.enabled, bob.is_admin, bob.has_totp, bob.questions) == (True, False, False, ())
    assert bob.email
    assert bob.mobile_phone


async def test_disabled_and_out_of_scope_accounts_are_found_as_data(
    demo: EmbeddedDirectory,
) -> None:
    dave = await found(demo, "dave")
    assert not dave.enabled
    assert dave.email == "dave@contoso.com"
    olivia = await found(demo, "olivia")
    assert olivia.enabled
    assert olivia.email
    assert olivia.mobile_phone
    assert not await demo.in_any_group(olivia, ["sspr-users"])


async def test_accounts_are_the_enabled_users_in_file_order(demo: EmbeddedDirectory) -> None:
    listed = [account async for account in demo.accounts()]
    assert [account.username for account in listed] == ["alice", "adele", "olivia", "bob"]
    assert listed[0] == await found(demo, "alice")  # as `find` gives it


async def test_reset_scope_follows_nested_groups(demo: EmbeddedDirectory) -> None:
    alice = await found(demo, "alice")
    assert alice.groups == frozenset({"sales"})
    assert await demo.in_any_group(alice, ["sspr-users"])
    assert await demo.in_any_group(alice, ["SSPR-Users"])
    assert not await demo.in_any_group(alice, ["it-admins"])
    assert not await demo.in_any_group(alice, [])
    adele = await found(demo, "adele")
    assert await demo.in_any_group(adele, ["nobody", "it-admins"])


async def test_a_group_cycle_ends_the_walk(tmp_path: Path) -> None:
    path = write_directory(
        tmp_path / "cycle.yaml",
        [{"username": "carol", "display_name": "Carol", "groups": ["a"]}],
        groups={"a": ["c"], "b": ["a"], "c": ["b"], "scope": ["c"]},
    )
    directory = await EmbeddedDirectory.open(path, key=EncryptionKey.demo())
    carol = await found(directory, "carol")
    assert await directory.in_any_group(carol, ["scope"])
    assert not await directory.in_any_group(carol, ["elsewhere"])


async def test_the_account_holds_no_password_hash_or_clear_secret(
    demo: EmbeddedDirectory, demo_path: Path
) -> None:
    stored = stored_users(demo_path)[0]
    shown = repr(await found(demo, "alice"))
    assert stored["password_hash"] not in shown
    assert stored["totp_secret"] not in shown
    assert ALICE_TOTP not in shown


async def test_totp_secrets_decrypt_to_the_documented_ones(demo: EmbeddedDirectory) -> None:
    assert await demo.totp_secret(await found(demo, "alice")) == ALICE_TOTP
    assert await demo.totp_secret(await found(demo, "adele")) == ADELE_TOTP
    assert await demo.totp_secret(await found(demo, "bob")) is None
    pyotp.TOTP(ALICE_TOTP).now()  # a valid base32 secret


async def test_a_wrong_key_fails_cleanly_at_open(demo_path: Path) -> None:
    stored = stored_users(demo_path)[0]["totp_secret"]
    with pytest.raises(DirectoryUnavailable) as failed:
        await EmbeddedDirectory.open(demo_path, key=EncryptionKey(Fernet.generate_key()))
    message = str(failed.value)
    assert "'alice'" in message
    assert "SSPR_ENCRYPTION_KEY" in message
    assert stored not in message


async def test_set_password_then_check_it(demo: EmbeddedDirectory) -> None:
    alice = await found(demo, "alice")
    assert await demo.check_password("alice", "Demo-Pass-alice-1")
    await demo.set_password(alice, "a-brand-new-passphrase", must_change=True)
    assert await demo.check_password("alice", "a-brand-new-passphrase")
    assert await demo.check_password("ALICE@contoso.com", "a-brand-new-passphrase")
    assert not await demo.check_password("alice", "Demo-Pass-alice-1")
    assert not await demo.check_password("mallory", "a-brand-new-passphrase")


async def test_a_change_survives_reopening(demo: EmbeddedDirectory, demo_path: Path) -> None:
    alice = await found(demo, "alice")
    before = datetime.now(UTC)
    await demo.set_password(alice, "a-brand-new-passphrase", must_change=True)
    await demo.revoke_sessions(alice)

    reopened = await EmbeddedDirectory.open(demo_path, key=EncryptionKey.demo())
    assert await reopened.check_password("alice", "a-brand-new-passphrase")
    assert await reopened.totp_secret(alice) == ALICE_TOTP
    stored = stored_users(demo_path)[0]
    assert stored["must_change"] is True
    assert datetime.fromisoformat(stored["sessions_revoked_at"]) >= before
    assert "a-brand-new-passphrase" not in text_of(demo_path)


async def test_changes_made_at_once_all_land_in_one_file(
    demo: EmbeddedDirectory, demo_path: Path
) -> None:
    """Resets finishing together share the rewrites of the file; each returns only once
    its change is there, and every one of them is."""
    names = ("alice", "adele", "bob", "olivia")
    accounts = [await found(demo, name) for name in names]
    await asyncio.gather(
        *(
            demo.set_password(a, f"new passphrase for {a.username}", must_change=False)
            for a in accounts
        ),
        *(demo.revoke_sessions(account) for account in accounts),
        demo.unlock(accounts[0]),
    )

    reopened = await EmbeddedDirectory.open(demo_path, key=EncryptionKey.demo())
    for name in names:
        assert await reopened.check_password(name, f"new passphrase for {name}")
    stored = {user["username"]: user for user in stored_users(demo_path)}
    assert all("sessions_revoked_at" in stored[name] for name in names)


async def test_a_rewrite_renders_the_file_as_a_whole_rendering_would(
    demo: EmbeddedDirectory, demo_path: Path, tmp_path: Path
) -> None:
    """Only changed users are rendered again; the file reads exactly as if all were."""
    for name in ("alice", "bob", "alice"):
        await demo.revoke_sessions(await found(demo, name))
    snapshot = load(demo_path, EncryptionKey.demo())
    fresh = tmp_path / "fresh.yaml"
    write(fresh, snapshot.header, snapshot.document)
    assert text_of(demo_path) == text_of(fresh)


async def test_a_change_for_someone_no_longer_listed_fails_alone(
    demo: EmbeddedDirectory, demo_path: Path
) -> None:
    alice, bob = await found(demo, "alice"), await found(demo, "bob")
    users = [user for user in stored_users(demo_path) if user["username"] != "bob"]
    write_directory(demo_path, users, groups={"sspr-users": ["sales"]})

    results = await asyncio.gather(
        demo.revoke_sessions(bob), demo.revoke_sessions(alice), return_exceptions=True
    )
    assert isinstance(results[0], DirectoryUnavailable)
    assert results[1] is None
    assert "sessions_revoked_at" in stored_users(demo_path)[0]


async def test_the_rewritten_file_is_private_and_keeps_its_header(
    demo: EmbeddedDirectory, demo_path: Path
) -> None:
    os.chmod(demo_path, 0o644)
    await demo.set_password(await found(demo, "bob"), "another-passphrase", must_change=False)
    assert stat.S_IMODE(os.stat(demo_path).st_mode) == 0o600
    assert text_of(demo_path).startswith("# DEMO DIRECTORY")
    assert [p.name for p in demo_path.parent.iterdir()] == ["directory.yaml"]


async def test_the_current_password_is_rejected(demo: EmbeddedDirectory) -> None:
    with pytest.raises(PasswordRejected) as rejected:
        await demo.set_password(await found(demo, "bob"), "Demo-Pass-bob-1", must_change=False)
    assert rejected.value.reason == "The new password must be different from the current one."
    assert await demo.check_password("bob", "Demo-Pass-bob-1")


async def test_unlock_clears_the_lock(tmp_path: Path) -> None:
    path = write_directory(
        tmp_path / "locked.yaml",
        [{"username": "lou", "display_name": "Lou", "locked": True}],
    )
    directory = await EmbeddedDirectory.open(path, key=EncryptionKey.demo())
    await directory.unlock(await found(directory, "lou"))
    assert stored_users(path)[0]["locked"] is False


async def test_an_edit_made_meanwhile_is_kept(demo: EmbeddedDirectory, demo_path: Path) -> None:
    users = [*stored_users(demo_path), {"username": "erin", "display_name": "Erin New"}]
    write_directory(demo_path, users, groups={"sspr-users": ["sales"]})

    await demo.set_password(await found(demo, "bob"), "another-passphrase", must_change=True)
    assert await demo.find("erin") is not None
    names = [user["username"] for user in stored_users(demo_path)]
    assert names == ["alice", "adele", "dave", "olivia", "bob", "erin"]


async def test_a_user_without_a_password_can_be_given_one(tmp_path: Path) -> None:
    path = write_directory(tmp_path / "new.yaml", [{"username": "nia", "display_name": "Nia"}])
    directory = await EmbeddedDirectory.open(path, key=EncryptionKey.demo())
    assert not await directory.check_password("nia", "")
    await directory.set_password(
        await found(directory, "nia"), "first-passphrase", must_change=True
    )
    assert await directory.check_password("nia", "first-passphrase")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("users: [\n  - username: alice\n", "not valid YAML"),
        ("- alice\n- bob\n", "must be a mapping"),
        ("groups: {}\n", "users: Field required"),
        (
            "users:\n  - username: alice\n    display_name: A\n    colour: red\n",
            "user 'alice' colour: Extra inputs",
        ),
        (
            "users:\n  - username: alice\n    display_name: A\n    password_hash: hunter2\n",
            "user 'alice' password_hash: Value error, not an argon2id hash",
        ),
        (
            "users:\n  - {username: a, display_name: A, email: x@contoso.com}\n"
            "  - {username: b, display_name: B, aliases: [X@Contoso.com]}\n",
            "'x@contoso.com' names two users",
        ),
    ],
)
async def test_a_malformed_file_is_unavailable(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DirectoryUnavailable) as failed:
        await EmbeddedDirectory.open(path, key=EncryptionKey.demo())
    assert problem in str(failed.value)
    assert "hunter2" not in str(failed.value)


async def test_a_missing_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DirectoryUnavailable, match="cannot be read"):
        await EmbeddedDirectory.open(tmp_path / "absent.yaml", key=EncryptionKey.demo())


def test_settings() -> None:
    assert EmbeddedDirectorySettings().path == "directory.yaml"
    with pytest.raises(ValueError, match="extra"):
        EmbeddedDirectorySettings.model_validate({"path": "d.yaml", "pth": "x"})
    assert all(field.description for field in EmbeddedDirectorySettings.model_fields.values())


def test_the_shipped_demo_file_holds_no_clear_secret() -> None:
    text = (files("config") / "demo-directory.yaml").read_text(encoding="utf-8")
    for clear in ("Demo-Pass", ALICE_TOTP, ADELE_TOTP, "Biscuit", "Okafor"):
        assert clear not in text


def test_a_write_keeps_the_name_index_only_while_the_names_are_the_same(demo_path: Path) -> None:
    before = load(demo_path, EncryptionKey.demo())
    alice, bob = before.users["alice"], before.users["bob"]
    changed = {"alice": alice.model_copy(update={"locked": True})}
    document = before.document.model_copy(
        update={"users": [changed.get(key, user) for key, user in before.users.items()]}
    )
    kept = reindexed(before, document, before.stamp, changed, demo_path)
    again = index(document, before.header, before.stamp, demo_path)
    assert (kept.names, kept.users) == (again.names, again.users)
    assert kept.users["alice"].locked
    assert kept.document is document

    renamed = {"alice": alice.model_copy(update={"aliases": [*alice.aliases, "awilber2"]})}
    document = before.document.model_copy(
        update={"users": [renamed.get(key, user) for key, user in before.users.items()]}
    )
    assert reindexed(before, document, before.stamp, renamed, demo_path).names["awilber2"] == (
        "alice"
    )

    clash = {"alice": alice.model_copy(update={"aliases": [bob.username]})}
    document = before.document.model_copy(
        update={"users": [clash.get(key, user) for key, user in before.users.items()]}
    )
    with pytest.raises(DirectoryUnavailable, match="names two users"):
        reindexed(before, document, before.stamp, clash, demo_path)
