"""The method registry keeps what people registered in chat: the secret only encrypted,
answers only hashed, each with when it was registered and confirmed; and two writers at once
both land."""

import asyncio
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from adapters.directory import SecurityQuestion
from adapters.directory.answers import answer_matches, hash_answer
from adapters.directory.at_rest import EncryptionKey
from dialogs.registry import MethodRegistry, Registered, RegistryError, Stamp
from state import FrozenClock, MemoryStore, SqliteStore

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(start=1_800_000_000.0)


@pytest.fixture
def store(clock: FrozenClock) -> MemoryStore:
    return MemoryStore(clock)


@pytest.fixture
def registry(store: MemoryStore, clock: FrozenClock) -> MethodRegistry:
    return MethodRegistry(store, EncryptionKey(Fernet.generate_key()), clock)


async def test_an_app_is_kept_encrypted_and_read_back(
    registry: MethodRegistry, store: MemoryStore, clock: FrozenClock
) -> None:
    await registry.add_authenticator("a1", SECRET)
    assert await registry.authenticator_secret("a1") == SECRET
    assert (await registry.read("a1")).authenticator == Stamp(clock.now(), clock.now())
    stored = await store.get("methods:a1")
    assert stored is not None
    assert SECRET not in repr(stored.value)
    assert SECRET not in repr(await registry.read("a1"))


async def test_another_key_reads_no_secret(
    registry: MethodRegistry, store: MemoryStore, clock: FrozenClock
) -> None:
    await registry.add_authenticator("a1", SECRET)
    other = MethodRegistry(store, EncryptionKey(Fernet.generate_key()), clock)
    assert await other.authenticator_secret("a1") is None


async def test_answers_are_kept_only_as_hashes(registry: MethodRegistry) -> None:
    with pytest.raises(RegistryError) as refused:
        await registry.set_questions("a1", [SecurityQuestion("q1", "Pet?", "Biscuit")])
    assert "Biscuit" not in str(refused.value)
    hashed = await asyncio.to_thread(hash_answer, "Biscuit")
    await registry.set_questions("a1", [SecurityQuestion("q1", "Pet?", hashed)])
    [question] = (await registry.read("a1")).questions
    assert answer_matches(question.answer_hash, " biscuit ")
    assert "Biscuit" not in repr(await registry.read("a1"))


async def test_confirming_stamps_the_method_and_the_contacts(
    registry: MethodRegistry, clock: FrozenClock
) -> None:
    registered_at = clock.now()
    await registry.add_authenticator("a1", SECRET)
    clock.advance(3600)
    await registry.confirm("a1", "authenticator")
    await registry.confirm("a1", "email")
    read = await registry.read("a1")
    assert read.authenticator == Stamp(registered_at, clock.now())
    assert read.contacts_confirmed == {"email": clock.now()}


async def test_confirming_what_is_not_registered_writes_nothing(
    registry: MethodRegistry, store: MemoryStore
) -> None:
    await registry.confirm("a1", "questions")
    assert await store.get("methods:a1") is None


async def test_the_helpdesk_removes_one_method_or_all(registry: MethodRegistry) -> None:
    hashed = await asyncio.to_thread(hash_answer, "Biscuit")
    await registry.add_authenticator("a1", SECRET)
    await registry.set_questions("a1", [SecurityQuestion("q1", "Pet?", hashed)])
    await registry.remove("a1", "authenticator")
    assert (await registry.read("a1")).authenticator is None
    assert await registry.authenticator_secret("a1") is None
    assert (await registry.read("a1")).questions
    await registry.remove("a1")
    assert await registry.read("a1") == Registered()


async def test_parallel_writers_all_land(tmp_path: Path, clock: FrozenClock) -> None:
    store = await SqliteStore.open(tmp_path / "state.sqlite3", clock)
    registry = MethodRegistry(store, EncryptionKey(Fernet.generate_key()), clock)
    hashed = await asyncio.to_thread(hash_answer, "Biscuit")
    await asyncio.gather(
        registry.add_authenticator("a1", SECRET),
        registry.set_questions("a1", [SecurityQuestion("q1", "Pet?", hashed)]),
        registry.confirm("a1", "mobile_phone"),
    )
    read = await registry.read("a1")
    assert read.authenticator is not None
    assert read.questions
    assert "mobile_phone" in read.contacts_confirmed
    await store.close()
