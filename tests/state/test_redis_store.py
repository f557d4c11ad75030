"""Redis only: what a shared server adds to the contract (key layout, real TTLs, outages,
restarts, several instances), against real redis-server processes."""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from pydantic import ValidationError
from redis.crc import key_slot

from state import (
    FrozenClock,
    RedisStore,
    StateSettings,
    StoreUnavailable,
    open_store,
)
from state.redis_store import counter_key, record_key
from tests.support.ports import HOST, free_port
from tests.support.redis import RedisServer

OpenRedis = Callable[..., Awaitable[RedisStore]]
MakeRedisServer = Callable[..., RedisServer]

SECRET = "pa55-w0rd-never-shown"


def hash_tag(redis_key: str) -> str:
    """The part of a key Redis Cluster hashes, found the way Redis finds it."""
    start = redis_key.index("{")
    return redis_key[start + 1 : redis_key.index("}", start + 1)]


def server_keys(server: RedisServer) -> set[str]:
    with server.client() as client:
        return {key.decode() for key in client.keys("*")}


@pytest.fixture
def unreachable_url() -> str:
    return f"redis://bot:{SECRET}@{HOST}:{free_port()}/0"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        yield listener.getsockname()[1]


# Key layout.


def test_every_key_of_one_account_lands_in_one_slot() -> None:
    keys = [
        record_key("fail:acct-1"),
        record_key("lock:acct-1"),
        record_key("send-email:acct-1"),
        record_key("totp:acct-1"),
        counter_key("fail:acct-1"),
        counter_key("send-email:acct-1"),
    ]

    assert len(set(keys)) == len(keys)
    assert {hash_tag(key) for key in keys} == {"acct-1"}
    assert len({key_slot(key.encode()) for key in keys}) == 1
    assert key_slot(record_key("fail:acct-1").encode()) != key_slot(
        record_key("fail:acct-2").encode()
    )


def test_keys_read_prefix_kind_and_tagged_subject() -> None:
    assert record_key("session:19:abc@thread.v2") == "sspr:session:{19:abc@thread.v2}"
    assert counter_key("fail:alice") == "sspr:fail:{alice}:events"
    assert record_key("alice", "bot-a:") == "bot-a:{alice}"
    assert record_key("", "p:") == "p:{%}"


@pytest.mark.parametrize(
    "subjects",
    [
        ["a{b}", "a%7Bb%7D", "a%257Bb%257D", "a{b", "ab}", "{ab}"],
        ["{", "}", "%", "%%", "{}", "}{", "", "%7B", "%7D", "%25"],
    ],
)
def test_braces_and_percent_in_subjects_stay_distinct_and_whole(subjects: list[str]) -> None:
    for subject in subjects:
        keys = [record_key(f"{kind}:{subject}") for kind in ("fail", "lock", "send-email")]
        keys.append(counter_key(f"fail:{subject}"))
        assert {unquote(hash_tag(key)) for key in keys} == {subject or "%"}
        assert len({key_slot(key.encode()) for key in keys}) == 1

    every_key = {record_key(f"fail:{subject}") for subject in subjects}
    every_key |= {counter_key(f"fail:{subject}") for subject in subjects}
    assert len(every_key) == 2 * len(subjects)


def test_braces_in_the_kind_do_not_move_the_tag() -> None:
    key = record_key("we{ird}:acct-1")

    assert hash_tag(key) == "acct-1"
    assert key_slot(key.encode()) == key_slot(record_key("lock:acct-1").encode())
    assert record_key("a:b{c}") != record_key("a{b:c}")


async def test_braced_subjects_are_stored_apart(open_redis: OpenRedis) -> None:
    store = await open_redis()
    subjects = ["a{b}", "a%7Bb%7D", "{", "}", "%", ""]

    for n, subject in enumerate(subjects):
        await store.put(f"lock:{subject}", {"n": n})
        for _ in range(n + 1):
            await store.take(f"lock:{subject}", limit=10, window=60)

    for n, subject in enumerate(subjects):
        record = await store.get(f"lock:{subject}")
        assert record is not None
        assert record.value == {"n": n}
        assert await store.count(f"lock:{subject}", window=60) == n + 1


async def test_the_prefix_is_applied_and_separates_bots(
    open_redis: OpenRedis, redis_server: RedisServer
) -> None:
    one = await open_redis(key_prefix="bot-one:")
    two = await open_redis(key_prefix="bot-two:")

    await one.put("session:1", {"bot": 1})
    await one.take("fail:alice", limit=1, window=60)

    assert server_keys(redis_server) == {"bot-one:session:{1}", "bot-one:fail:{alice}:events"}
    assert await two.get("session:1") is None
    assert await two.take("fail:alice", limit=1, window=60)
    assert one.key_prefix == "bot-one:"


def test_a_prefix_with_braces_is_refused(clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="prefix"):
        RedisStore("redis://127.0.0.1:6379/0", clock, key_prefix="{bot}:")
    with pytest.raises(ValidationError):
        StateSettings(backend="redis", key_prefix="{bot}:")


# Real TTLs: Redis frees what has expired, even though liveness follows the store's clock.


async def test_a_record_with_ttl_gets_a_real_ttl_and_one_without_has_none(
    open_redis: OpenRedis, redis_server: RedisServer
) -> None:
    store = await open_redis()

    await store.put("code:1", {"hash": "x"}, ttl=300)
    with redis_server.client() as client:
        assert 299_000 < client.pttl(record_key("code:1")) <= 301_000

    await store.put("code:1", {"hash": "y"})
    with redis_server.client() as client:
        assert client.pttl(record_key("code:1")) == -1

    await store.put("session:1", {"state": "idle"}, if_none_match=True)
    with redis_server.client() as client:
        assert client.pttl(record_key("session:1")) == -1


async def test_a_counter_lives_its_window_in_redis(
    open_redis: OpenRedis, redis_server: RedisServer
) -> None:
    store = await open_redis()

    await store.take("fail:alice", limit=5, window=900)

    with redis_server.client() as client:
        assert 899_000 < client.pttl(counter_key("fail:alice")) <= 901_000


async def test_expiry_follows_the_store_clock_not_redis(
    open_redis: OpenRedis, redis_server: RedisServer, clock: FrozenClock
) -> None:
    store = await open_redis()
    await store.put("code:1", {"hash": "x"}, ttl=300)

    clock.advance(300)

    assert await store.get("code:1") is None
    with redis_server.client() as client:
        assert client.exists(record_key("code:1"))


# Scripts.


async def test_a_flushed_script_cache_is_refilled(
    open_redis: OpenRedis, redis_server: RedisServer
) -> None:
    store = await open_redis()
    etag = await store.put("session:1", {"turn": 1})

    with redis_server.client() as client:
        client.script_flush()

    etag = await store.put("session:1", {"turn": 2}, if_match=etag)
    assert await store.take("fail:alice", limit=1, window=60)
    assert await store.delete("session:1", if_match=etag)


# Outages.


async def test_a_refused_port_is_unavailable_without_the_password(
    clock: FrozenClock, unreachable_url: str
) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        await RedisStore.open(unreachable_url, clock)

    assert SECRET not in str(raised.value)
    assert "127.0.0.1" in str(raised.value)


async def test_every_call_on_a_refused_port_is_unavailable(
    clock: FrozenClock, unreachable_url: str
) -> None:
    store = RedisStore(unreachable_url, clock, password=SECRET)
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.get("session:1"),
        lambda: store.put("session:1", {"secret": SECRET}),
        lambda: store.put("session:1", {"state": "idle"}, if_match="x", ttl=60),
        lambda: store.delete("session:1"),
        lambda: store.take("fail:alice", limit=5, window=60),
        lambda: store.count("fail:alice", window=60),
        lambda: store.give_back("fail:alice"),
        lambda: store.clear("fail:alice"),
        store.ping,
        store.persistence_warning,
    ]
    try:
        for call in calls:
            with pytest.raises(StoreUnavailable) as raised:
                await call()
            assert SECRET not in str(raised.value)
    finally:
        await store.close()


async def test_the_environment_password_is_not_in_the_message(
    clock: FrozenClock, tmp_path: Path
) -> None:
    settings = StateSettings(backend="redis", url=f"redis://{HOST}:{free_port()}/0")

    with pytest.raises(StoreUnavailable) as raised:
        await open_store(
            settings,
            data_dir=tmp_path,
            clock=clock,
            environ={"SSPR_REDIS_USERNAME": "bot", "SSPR_REDIS_PASSWORD": SECRET},
        )

    assert SECRET not in str(raised.value)


async def test_a_server_that_does_not_answer_times_out(
    clock: FrozenClock, silent_port: int
) -> None:
    store = RedisStore(f"redis://{HOST}:{silent_port}/0", clock, timeout=0.05)
    try:
        with pytest.raises(StoreUnavailable, match="Timeout"):
            await store.get("session:1")
    finally:
        await store.close()


async def test_a_closed_store_is_unavailable(open_redis: OpenRedis) -> None:
    store = await open_redis()
    await store.put("session:1", {"state": "idle"})
    await store.close()

    with pytest.raises(StoreUnavailable, match="closed"):
        await store.get("session:1")
    with pytest.raises(StoreUnavailable):
        await store.ping()
    await store.close()


async def test_ping_answers(open_redis: OpenRedis) -> None:
    store = await open_redis()

    await store.ping()


async def test_wrong_credentials_are_unavailable_without_the_password(
    open_redis: OpenRedis, redis_url: str
) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        await open_redis(redis_url, username="nobody", password=SECRET)

    assert SECRET not in str(raised.value)


def test_a_ca_file_needs_a_tls_url(clock: FrozenClock, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rediss://"):
        RedisStore("redis://127.0.0.1:6379/0", clock, tls_ca_file=str(tmp_path / "ca.pem"))


# Restarts: with the append-only file on, Redis forgets nothing, and the store carries on.


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_data_survives_a_restart_of_the_server(
    make_redis_server: MakeRedisServer, open_redis: OpenRedis, clock: FrozenClock, how: str
) -> None:
    server = make_redis_server()
    store = await open_redis(server.url)
    etag = await store.put("session:1", {"state": "challenged"}, ttl=900)
    await store.put("lock:alice", {"until": 1})
    await store.take("fail:alice", limit=5, window=3600)

    await asyncio.to_thread(getattr(server, how))
    with pytest.raises(StoreUnavailable):
        await store.get("session:1")
    await asyncio.to_thread(server.start)

    record = await store.get("session:1")
    assert record is not None
    assert (record.value, record.etag) == ({"state": "challenged"}, etag)
    assert await store.get("lock:alice") is not None
    assert await store.count("fail:alice", window=3600) == 1
    assert await store.put("session:1", {"state": "done"}, if_match=etag, ttl=900)
    clock.advance(901)
    assert await store.get("session:1") is None


async def test_the_store_carries_on_after_a_restart_without_a_failed_call(
    make_redis_server: MakeRedisServer, open_redis: OpenRedis
) -> None:
    server = make_redis_server()
    store = await open_redis(server.url)
    await asyncio.gather(*(store.take("send:alice", limit=10, window=60) for _ in range(5)))

    # In threads, as in production the restart happens while the event loop runs (and
    # sees the server close its connections).
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)

    # Every pooled connection is dead; each is noticed and replaced as it is taken.
    results = await asyncio.gather(
        *(store.take("send:alice", limit=10, window=60) for _ in range(5))
    )
    assert results == [True] * 5


# Persistence warning.


async def test_no_persistence_warning_with_an_append_only_file(open_redis: OpenRedis) -> None:
    store = await open_redis()

    assert await store.persistence_warning() is None


async def test_no_persistence_warning_with_snapshots(
    make_redis_server: MakeRedisServer, open_redis: OpenRedis
) -> None:
    server = make_redis_server("--appendonly", "no", "--save", "3600 1")
    store = await open_redis(server.url)

    assert await store.persistence_warning() is None


async def test_a_server_without_persistence_is_named_in_a_warning(
    make_redis_server: MakeRedisServer, open_redis: OpenRedis
) -> None:
    server = make_redis_server("--appendonly", "no", "--save", "")
    store = await open_redis(server.url)

    warning = await store.persistence_warning()

    assert warning is not None
    assert f"127.0.0.1:{server.port}" in warning
    assert "appendonly yes" in warning


async def test_an_acl_user_without_config_gets_no_warning_and_a_working_store(
    make_redis_server: MakeRedisServer, open_redis: OpenRedis, clock: FrozenClock, tmp_path: Path
) -> None:
    server = make_redis_server("--appendonly", "no", "--save", "")
    with server.client() as client:
        client.acl_setuser(
            "bot",
            enabled=True,
            passwords=[f"+{SECRET}"],
            keys=["sspr:*"],
            categories=["+@all"],
            commands=["-config"],
        )
    settings = StateSettings(backend="redis", url=server.url)

    store = await open_store(
        settings,
        data_dir=tmp_path,
        clock=clock,
        environ={"SSPR_REDIS_USERNAME": "bot", "SSPR_REDIS_PASSWORD": SECRET},
    )
    try:
        assert isinstance(store, RedisStore)
        assert await store.persistence_warning() is None
        etag = await store.put("session:1", {"state": "idle"})
        assert await store.put("session:1", {"state": "done"}, if_match=etag)
        assert await store.take("fail:alice", limit=1, window=60)
    finally:
        await store.close()


# Settings.


async def test_the_environment_url_wins_over_the_file(
    redis_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    settings = StateSettings(
        backend="redis", url=f"redis://{HOST}:{free_port()}/0", key_prefix="env-test:"
    )

    store = await open_store(
        settings, data_dir=tmp_path, clock=clock, environ={"SSPR_REDIS_URL": redis_url}
    )
    try:
        assert isinstance(store, RedisStore)
        assert store.key_prefix == "env-test:"
        await store.ping()
    finally:
        await store.close()


async def test_the_url_credentials_are_used(
    make_redis_server: MakeRedisServer, clock: FrozenClock, tmp_path: Path
) -> None:
    server = make_redis_server("--requirepass", SECRET)
    url = f"redis://:{SECRET}@{HOST}:{server.port}/0"

    store = await open_store(
        StateSettings(backend="redis", url=url), data_dir=tmp_path, clock=clock, environ={}
    )
    try:
        await store.ping()
    finally:
        await store.close()


# The fixtures' own promise: a missing redis-server fails the run, never skips it.


def test_a_missing_redis_server_fails_with_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(pytest.fail.Exception, match="apt-get install redis-server"):
        RedisServer(tmp_path / "redis").start()
