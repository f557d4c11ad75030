"""The Redis store on Redis Cluster and behind Sentinel, against real servers.

The contract suite (tests/state/contract.py) runs here too, on the `store` and
`open_instance` below: once on a three-primary cluster, once on a primary found through a
Sentinel. The tests after them cover what each deployment adds: keys spread over the
cluster's nodes while one subject stays in one slot, races from several instances,
outages, a restarted primary, the persistence check, and the settings that select a
deployment.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from state import FrozenClock, RedisStore, StateSettings, Store, StoreUnavailable
from state.redis_clients import Mode
from state.redis_store import counter_key, record_key
from state.settings import open_store
from tests.state.contract import CONTRACT
from tests.support.ports import HOST, free_port
from tests.support.redis import RedisCluster, RedisSentinel

SECRET = "pa55-w0rd-never-shown"


@dataclass(frozen=True)
class Deployment:
    mode: Mode
    url: str


OpenStore = Callable[..., Awaitable[RedisStore]]


@pytest.fixture(params=["cluster", "sentinel"])
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """The session's cluster, or its Sentinel and primary, running and empty."""
    if request.param == "cluster":
        return Deployment("cluster", request.getfixturevalue("redis_cluster_url"))
    sentinel: RedisSentinel = request.getfixturevalue("redis_sentinel")
    sentinel.primary.start()
    sentinel.primary.flush()
    return Deployment("sentinel", sentinel.url)


@pytest.fixture
async def store(deployment: Deployment, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[Store]:
    """The contract suite's `store`, as the bot opens it from its settings."""
    settings = StateSettings(backend="redis", redis_mode=deployment.mode, url=deployment.url)
    opened = await open_store(settings, data_dir=tmp_path, clock=clock, environ={})
    yield opened
    await opened.close()


@pytest.fixture
async def open_redis(deployment: Deployment, clock: FrozenClock) -> AsyncIterator[OpenStore]:
    """Opens RedisStores on the deployment (several play several bot instances) and
    closes whatever is still open at the end."""
    opened: list[RedisStore] = []

    async def open_(url: str = deployment.url, **options: Any) -> RedisStore:
        redis_store = await RedisStore.open(url, clock, mode=deployment.mode, **options)
        opened.append(redis_store)
        return redis_store

    yield open_
    for redis_store in opened:
        await redis_store.close()


@pytest.fixture
def open_instance(open_redis: OpenStore) -> OpenStore:
    """Another bot instance on the same deployment, for the contract's instance tests."""
    return open_redis


# The contract suite, unchanged, on the `store` and `open_instance` above.
globals().update(CONTRACT)


# Races between instances.


async def test_commands_wait_for_a_free_connection(open_redis: OpenStore) -> None:
    # The cluster's and Sentinel's pools would fail a command at once when all their
    # connections are busy; the store makes it wait, as the standalone pool does.
    store = await open_redis(max_connections=2)

    results = await asyncio.gather(
        *(store.take(f"send:user-{n % 7}", limit=50, window=60) for n in range(50))
    )

    assert results == [True] * 50


# Cluster: where the keys go.


async def test_subjects_spread_over_the_nodes_and_each_stays_in_one_slot(
    redis_cluster: RedisCluster, redis_cluster_url: str, clock: FrozenClock
) -> None:
    store = await RedisStore.open(redis_cluster_url, clock, mode="cluster")
    subjects = [f"acct-{n}" for n in range(12)]
    try:
        for subject in subjects:
            await store.put(f"session:{subject}", {"state": "idle"})
            await store.put(f"lock:{subject}", {"until": 1}, ttl=60)
            await store.take(f"fail:{subject}", limit=5, window=60)
    finally:
        await store.close()

    holders: dict[str, set[int]] = {}  # subject -> the nodes holding its keys
    slots: dict[str, set[int]] = {}  # subject -> the slots of its keys
    for index, node in enumerate(redis_cluster.nodes):
        with node.client() as client:
            for raw in client.keys("*"):
                key = raw.decode()
                subject = key[key.index("{") + 1 : key.index("}")]
                holders.setdefault(subject, set()).add(index)
                slots.setdefault(subject, set()).add(client.cluster("KEYSLOT", key))
    assert set(holders) == set(subjects)
    assert all(len(nodes) == 1 for nodes in holders.values())
    assert all(len(subject_slots) == 1 for subject_slots in slots.values())
    assert len({next(iter(nodes)) for nodes in holders.values()}) > 1
    with redis_cluster.nodes[0].client() as client:
        assert client.cluster("KEYSLOT", record_key("lock:acct-1")) == client.cluster(
            "KEYSLOT", counter_key("fail:acct-1")
        )


async def test_each_primary_gets_the_scripts_it_lacks(
    redis_cluster: RedisCluster, redis_cluster_url: str, clock: FrozenClock
) -> None:
    store = await RedisStore.open(redis_cluster_url, clock, mode="cluster")
    subjects = [f"acct-{n}" for n in range(12)]
    try:
        etags = [await store.put(f"session:{subject}", {"turn": 1}) for subject in subjects]
        for node in redis_cluster.nodes:
            with node.client() as client:
                assert client.dbsize() > 0  # so every primary runs the scripts below
                client.script_flush()

        for subject, etag in zip(subjects, etags, strict=True):
            await store.put(f"session:{subject}", {"turn": 2}, if_match=etag)
            assert await store.take(f"fail:{subject}", limit=1, window=60)
            assert await store.delete(f"session:{subject}")
    finally:
        await store.close()


async def test_ping_asks_every_primary(
    redis_cluster: RedisCluster, redis_cluster_url: str, clock: FrozenClock
) -> None:
    def pings_served() -> list[int]:
        served = []
        for node in redis_cluster.nodes:
            with node.client() as client:
                served.append(client.info("commandstats")["cmdstat_ping"]["calls"])
        return served

    store = await RedisStore.open(redis_cluster_url, clock, mode="cluster")
    try:
        before = pings_served()
        await store.ping()
        after = pings_served()
    finally:
        await store.close()

    assert [later - earlier for earlier, later in zip(before, after, strict=True)] == [1, 1, 1]


# Outages.


async def test_an_unreachable_cluster_is_unavailable_without_the_password(
    clock: FrozenClock,
) -> None:
    port = free_port()
    store = RedisStore(f"redis://bot:{SECRET}@{HOST}:{port}", clock, mode="cluster")
    calls: list[Callable[[], Awaitable[object]]] = [
        store.ping,
        lambda: store.get("session:1"),
        lambda: store.put("session:1", {"secret": SECRET}, if_match="x"),
        lambda: store.take("fail:alice", limit=5, window=60),
        store.persistence_warning,
    ]
    try:
        for call in calls:
            with pytest.raises(StoreUnavailable) as raised:
                await call()
            assert f"Redis Cluster at redis://{HOST}:{port} unavailable" in str(raised.value)
            assert SECRET not in str(raised.value)
    finally:
        await store.close()


async def test_an_unreachable_sentinel_is_unavailable_without_the_password(
    clock: FrozenClock,
) -> None:
    port = free_port()
    url = f"redis://bot:{SECRET}@{HOST}:{port}/0"

    with pytest.raises(StoreUnavailable) as raised:
        await RedisStore.open(url, clock, mode="sentinel")

    message = str(raised.value)
    assert f"via Sentinel redis://{HOST}:{port} unavailable: MasterNotFoundError" in message
    assert f"Sentinels not reached: {HOST}:{port}" in message
    assert SECRET not in message


async def test_a_primary_the_sentinel_does_not_know_is_unavailable(
    redis_sentinel: RedisSentinel, clock: FrozenClock
) -> None:
    with pytest.raises(StoreUnavailable, match="No master found for 'elsewhere'"):
        await RedisStore.open(
            redis_sentinel.url, clock, mode="sentinel", sentinel_master="elsewhere"
        )


async def test_a_sentinel_that_is_down_is_skipped_for_the_next(
    redis_sentinel: RedisSentinel, clock: FrozenClock, tmp_path: Path
) -> None:
    settings = StateSettings(
        backend="redis",
        redis_mode="sentinel",
        url=f"redis://{HOST}:{free_port()}/0",
        sentinels=(f"{HOST}:{redis_sentinel.sentinel.port}",),
    )

    store = await open_store(settings, data_dir=tmp_path, clock=clock, environ={})
    try:
        assert await store.take("fail:alice", limit=1, window=60)
    finally:
        await store.close()


async def test_the_store_carries_on_after_the_primary_restarts(
    redis_sentinel: RedisSentinel, clock: FrozenClock
) -> None:
    primary = redis_sentinel.primary
    primary.start()
    primary.flush()
    store = await RedisStore.open(redis_sentinel.url, clock, mode="sentinel")
    try:
        etag = await store.put("session:1", {"state": "challenged"}, ttl=900)
        await store.take("fail:alice", limit=5, window=3600)

        await asyncio.to_thread(primary.stop)
        with pytest.raises(StoreUnavailable):
            await store.get("session:1")
        await asyncio.to_thread(primary.start)

        record = await store.get("session:1")
        assert record is not None
        assert (record.value, record.etag) == ({"state": "challenged"}, etag)
        assert await store.count("fail:alice", window=3600) == 1
        assert await store.put("session:1", {"state": "done"}, if_match=etag)

        # Restarted while idle: every pooled connection is dead, and each is noticed and
        # replaced as it is taken, so no call fails.
        await asyncio.to_thread(primary.stop)
        await asyncio.to_thread(primary.start)
        results = await asyncio.gather(
            *(store.take("fail:alice", limit=10, window=3600) for _ in range(5))
        )
        assert results == [True] * 5
    finally:
        primary.start()
        await store.close()


# Persistence.


async def test_no_persistence_warning_when_every_server_has_an_append_only_file(
    open_redis: OpenStore,
) -> None:
    store = await open_redis()

    assert await store.persistence_warning() is None


async def test_a_cluster_primary_without_persistence_is_named(
    redis_cluster: RedisCluster, redis_cluster_url: str, clock: FrozenClock
) -> None:
    forgetful = redis_cluster.nodes[1]
    store = await RedisStore.open(redis_cluster_url, clock, mode="cluster")
    with forgetful.client() as client:
        client.config_set("appendonly", "no")
    try:
        warning = await store.persistence_warning()
    finally:
        with forgetful.client() as client:
            client.config_set("appendonly", "yes")
        await store.close()

    assert warning is not None
    assert f"primary {HOST}:{forgetful.port} has neither" in warning
    assert all(f":{node.port} " not in warning for node in redis_cluster.nodes[2:])
    assert "appendonly yes" in warning


async def test_a_sentinel_primary_without_persistence_is_named(
    redis_sentinel: RedisSentinel, clock: FrozenClock
) -> None:
    store = await RedisStore.open(redis_sentinel.url, clock, mode="sentinel")
    with redis_sentinel.primary.client() as client:
        client.config_set("appendonly", "no")
    try:
        warning = await store.persistence_warning()
    finally:
        with redis_sentinel.primary.client() as client:
            client.config_set("appendonly", "yes")
        await store.close()

    assert warning is not None
    assert warning.startswith("Redis primary 'mymaster' (db 0) via Sentinel")


# Settings.


async def test_the_environment_url_selects_the_cluster(
    redis_cluster_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    settings = StateSettings(backend="redis", redis_mode="cluster")

    store = await open_store(
        settings, data_dir=tmp_path, clock=clock, environ={"SSPR_REDIS_URL": redis_cluster_url}
    )
    try:
        assert isinstance(store, RedisStore)
        assert store.mode == "cluster"
        await store.put("session:1", {"state": "idle"})
    finally:
        await store.close()


def test_sentinels_are_named_host_and_port_and_only_in_sentinel_mode() -> None:
    StateSettings(redis_mode="sentinel", sentinels=("s2:26379", "[2001:db8::1]:26379"))
    with pytest.raises(ValidationError, match="sentinel"):
        StateSettings(redis_mode="cluster", sentinels=("s2:26379",))
    for wrong in ("s2", "redis://s2:26379", "s2:port", ":26379"):
        with pytest.raises(ValidationError):
            StateSettings(redis_mode="sentinel", sentinels=(wrong,))


@pytest.mark.parametrize(
    ("mode", "url", "complaint"),
    [
        ("cluster", "unix:///run/redis.sock", "unix://"),
        ("sentinel", "unix:///run/redis.sock", "unix://"),
        ("cluster", "redis://127.0.0.1:7000/1", "database 0"),
    ],
)
def test_settings_a_deployment_cannot_use_are_refused(
    clock: FrozenClock, mode: Any, url: str, complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        RedisStore(url, clock, mode=mode)


def test_a_missing_redis_cli_fails_with_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(pytest.fail.Exception, match="apt-get install redis-tools"):
        RedisCluster(tmp_path / "cluster").start()
