"""The redis-py client for each way Redis is deployed: one server, a Redis Cluster, or a
primary that Sentinel names.

The store sends the same commands in every mode: every key carries its subject's hash tag
and every script touches one key, so a cluster client routes each command and each EVALSHA
to the primary that owns the key's slot (and, on NOSCRIPT, loads the script on every
primary). What differs is how the client is built, what `ping` has to reach, and which
servers hold data, which is what the persistence check asks about.

- standalone: the bot's own pool of redis-py connections (state/redis_pool.py): one
  deadline per call covers waiting for one of `max_connections` connections, sending and
  the reply, and a connection whose call did not end in a whole reply is dropped.
- cluster: `RedisCluster` started from the URL's node (the others are discovered), with
  its own retries off, like the other modes: a command whose reply was lost must not run
  twice. Its pools (`max_connections` per node) fail at once when full instead of waiting,
  and do not check a pooled connection before using it: the first command sent to a
  primary that has restarted fails (StoreUnavailable; the server never saw it), which
  drops that node's connections and refreshes the topology, so the next one succeeds.
- sentinel: `Sentinel(...).master_for(name)`: every new connection asks the Sentinels where
  the primary is, so after a failover the next connection goes to the new primary. Its pool
  also fails at once when full.

For those two pools that do not wait, a semaphore bounds the commands in flight to
`max_connections`, so a call waits (up to `timeout`) for a free one in every mode.

The URL's user, password, database and scheme (TLS with `rediss://`) are the data servers'
in every mode. Sentinels are reached with the same scheme and timeouts but without the
credentials (a Sentinel that itself requires a password is not supported).
"""

import asyncio
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import (
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError, ResponseError
from redis.maint_notifications import MaintNotificationsConfig

from state.lua import LuaScript
from state.redis_pool import Argument, ConnectionPool

Mode = Literal["standalone", "cluster", "sentinel"]

# Everything redis-py raises when Redis cannot serve a command: `RedisClusterException`
# (e.g. `SlotNotCoveredError`, or no startup node reachable) is not a `RedisError`;
# `ClusterDownError`, `MaxConnectionsError` and `MasterNotFoundError` are.
ERRORS: tuple[type[BaseException], ...] = (RedisError, RedisClusterException, OSError)

DEFAULT_SENTINEL_PORT = 26379

# Maintenance notifications (a Redis Enterprise feature) would cost a command on every new
# connection and switch off the pool's check for connections the server has closed, which
# is what makes the first command after a restart work.
_NO_MAINTENANCE = MaintNotificationsConfig(enabled=False)


@dataclass(frozen=True)
class Persistence:
    """What one data server says about its persistence: None where CONFIG is refused."""

    server: str
    appendonly: str | None
    save: str | None


class RedisClient(ABC):
    """The commands the store sends, for one deployment, and how to talk about it."""

    def __init__(self, mode: Mode, *, where: str, secret: str | None, timeout: float) -> None:
        self.mode: Mode = mode
        self.where = where  # for messages: names the servers, never the credentials
        self.secret = secret
        self.timeout = timeout  # for connecting, each command, and a free connection

    @abstractmethod
    async def execute(self, *arguments: Argument) -> Any:
        """One command's reply, routed to the server that holds its key."""

    @abstractmethod
    async def evalsha(
        self, script: LuaScript, keys: Sequence[str], arguments: Sequence[Argument]
    ) -> Any:
        """One script's reply, the script loaded where the server lacks it."""

    @abstractmethod
    async def delete(self, *keys: str) -> int:
        """How many of `keys` existed and are gone."""

    @abstractmethod
    async def ping(self) -> None:
        """Every server that holds data answers: in a cluster, every primary."""

    @abstractmethod
    async def persistence(self) -> list[Persistence]:
        """`appendonly` and `save` of each server that holds data (each cluster primary)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Disconnect every connection."""


class OneServer(RedisClient):
    """One Redis server, on the bot's own connection pool."""

    def __init__(
        self, pool: ConnectionPool, *, where: str, secret: str | None, timeout: float
    ) -> None:
        super().__init__("standalone", where=where, secret=secret, timeout=timeout)
        self._pool = pool

    async def execute(self, *arguments: Argument) -> Any:
        return await self._pool.execute(*arguments)

    async def evalsha(
        self, script: LuaScript, keys: Sequence[str], arguments: Sequence[Argument]
    ) -> Any:
        return await self._pool.evalsha(script, keys, arguments)

    async def delete(self, *keys: str) -> int:
        return int(await self._pool.execute("DEL", *keys))

    async def ping(self) -> None:
        await self._pool.execute("PING")

    async def persistence(self) -> list[Persistence]:
        try:
            appendonly = await self._pool.execute("CONFIG", "GET", "appendonly")
            save = await self._pool.execute("CONFIG", "GET", "save")
        except ResponseError:  # CONFIG refused: managed services and ACL users without it
            return [Persistence(self.where, None, None)]
        return [
            Persistence(
                self.where, _config_value(appendonly, "appendonly"), _config_value(save, "save")
            )
        ]

    async def aclose(self) -> None:
        await self._pool.aclose()


class RoutedClient(RedisClient):
    """A redis-py client that finds the server itself: a cluster's slot owner, or the
    primary Sentinel names. Its pool fails at once when full, so a semaphore makes calls
    wait (up to the timeout) for one of `max_connections` instead."""

    def __init__(
        self,
        mode: Mode,
        commands: Redis | RedisCluster,
        *,
        where: str,
        secret: str | None,
        timeout: float,
        max_connections: int,
        sentinel: Sentinel | None = None,
    ) -> None:
        super().__init__(mode, where=where, secret=secret, timeout=timeout)
        self._commands = commands
        self._slots = asyncio.Semaphore(max_connections)
        self._scripts: dict[str, AsyncScript] = {}
        self._sentinel = sentinel

    async def execute(self, *arguments: Argument) -> Any:
        async with self._slot():
            return await self._commands.execute_command(*arguments)

    async def evalsha(
        self, script: LuaScript, keys: Sequence[str], arguments: Sequence[Argument]
    ) -> Any:
        registered = self._scripts.get(script.sha)
        if registered is None:
            registered = self._scripts[script.sha] = self._commands.register_script(script.source)
        async with self._slot():
            return await registered(keys=list(keys), args=list(arguments))

    async def delete(self, *keys: str) -> int:
        """In a cluster redis-py splits the keys by slot, which a raw DEL would not."""
        async with self._slot():
            return int(await self._commands.delete(*keys))

    async def ping(self) -> None:
        async with self._slot():
            if isinstance(self._commands, RedisCluster):
                await self._commands.ping(target_nodes=RedisCluster.PRIMARIES)
            else:
                await self._commands.ping()

    async def persistence(self) -> list[Persistence]:
        if not isinstance(self._commands, RedisCluster):
            return [await _persistence(self.where, self._commands)]
        cluster = self._commands
        await cluster.initialize()
        return list(
            await asyncio.gather(
                *(
                    _persistence(f"primary {node.name}", cluster, node)
                    for node in cluster.get_primaries()
                )
            )
        )

    async def aclose(self) -> None:
        try:
            await self._commands.aclose()
        finally:
            if self._sentinel is not None:
                await self._sentinel.aclose()

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise RedisConnectionError(
                f"every connection stayed busy for {self.timeout} s"
            ) from None
        try:
            yield
        finally:
            self._slots.release()


class ConnectionOptions(TypedDict, total=False):
    """How to reach a Redis deployment: `connect`'s keywords, for those that pass them on."""

    mode: Mode
    sentinels: Sequence[str]
    sentinel_master: str
    username: str | None
    password: str | None
    tls_ca_file: str | None
    timeout: float
    max_connections: int


def connect(
    url: str,
    *,
    mode: Mode = "standalone",
    sentinels: Sequence[str] = (),
    sentinel_master: str = "mymaster",
    username: str | None = None,
    password: str | None = None,
    tls_ca_file: str | None = None,
    timeout: float = 2.0,
    max_connections: int = 64,
) -> RedisClient:
    """The client for `mode`; connects lazily. ValueError on settings that cannot work.

    `url` names the server (standalone), any one node (cluster) or one Sentinel (sentinel,
    `sentinels` naming more as `host:port`). `username` and `password`, when given, win
    over the URL's. `timeout` bounds each call: on one server the wait for a free
    connection, connecting, sending and the reply together; in the other modes each of them.
    """
    if not timeout > 0:
        raise ValueError("the Redis timeout must be positive")
    options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    options.update(parse_url(url))
    if username is not None:
        options["username"] = username
    if password is not None:
        options["password"] = password
    tls = options.get("connection_class") is SSLConnection
    if tls_ca_file is not None:
        if not tls:
            raise ValueError("a TLS CA file needs a rediss:// Redis URL")
        options["ssl_ca_certs"] = tls_ca_file
    if mode != "sentinel" and sentinels:
        raise ValueError("more Sentinels are named, but the Redis mode is not sentinel")
    if mode != "standalone" and options.get("connection_class") is UnixDomainSocketConnection:
        raise ValueError(f"Redis {mode} mode needs a redis:// or rediss:// URL, not unix://")
    secret: str | None = options.get("password") or None
    if mode == "cluster":
        return _cluster(options, tls=tls, secret=secret, max_connections=max_connections)
    if mode == "sentinel":
        return _sentinel(
            options,
            tls=tls,
            secret=secret,
            others=sentinels,
            name=sentinel_master,
            max_connections=max_connections,
        )
    where = f"Redis at {_describe(options)}"
    settings = {**options, "socket_timeout": None, "maint_notifications_config": _NO_MAINTENANCE}
    connection_class = settings.pop("connection_class", Connection)
    pool = ConnectionPool(
        lambda: connection_class(**settings), size=max_connections, timeout=timeout
    )
    return OneServer(pool, where=where, secret=secret, timeout=timeout)


def _cluster(
    options: dict[str, Any], *, tls: bool, secret: str | None, max_connections: int
) -> RedisClient:
    if options.get("db", 0) != 0:
        raise ValueError("Redis Cluster has only database 0: end the URL with /0 or nothing")
    options.pop("connection_class", None)
    client = RedisCluster(
        ssl=tls,
        max_connections=max_connections,
        retry=Retry(NoBackoff(), 0),
        maint_notifications_config=_NO_MAINTENANCE,
        **options,
    )
    address = _address(options.get("host", "localhost"), options.get("port", 6379))
    return RoutedClient(
        "cluster",
        client,
        where=f"Redis Cluster at {_scheme(tls)}://{address}",
        secret=secret,
        timeout=options["socket_timeout"],
        max_connections=max_connections,
    )


def _sentinel(
    options: dict[str, Any],
    *,
    tls: bool,
    secret: str | None,
    others: Sequence[str],
    name: str,
    max_connections: int,
) -> RedisClient:
    first = (options.pop("host", "localhost"), int(options.pop("port", DEFAULT_SENTINEL_PORT)))
    addresses = [first, *(sentinel_address(each) for each in others)]
    options.pop("connection_class", None)
    reach_sentinels: dict[str, Any] = {
        "socket_timeout": options["socket_timeout"],
        "socket_connect_timeout": options["socket_connect_timeout"],
        "retry": Retry(NoBackoff(), 0),
        "maint_notifications_config": _NO_MAINTENANCE,
    }
    if tls:
        reach_sentinels["ssl"] = True
        if "ssl_ca_certs" in options:
            reach_sentinels["ssl_ca_certs"] = options["ssl_ca_certs"]
    sentinel = Sentinel(addresses, sentinel_kwargs=reach_sentinels)
    primary = sentinel.master_for(
        name,
        ssl=tls,
        max_connections=max_connections,
        maint_notifications_config=_NO_MAINTENANCE,
        **options,
    )
    sentinel_list = ", ".join(f"{_scheme(tls)}://{_address(*each)}" for each in addresses)
    return RoutedClient(
        "sentinel",
        primary,
        where=(f"Redis primary {name!r} (db {options.get('db', 0)}) via Sentinel {sentinel_list}"),
        secret=secret,
        timeout=options["socket_timeout"],
        max_connections=max_connections,
        sentinel=sentinel,
    )


def describe_error(exc: BaseException) -> str:
    """What went wrong, in a line: redis-py's "no master found" lists every Sentinel's
    client in full; only the addresses it could not reach are kept."""
    detail = str(exc)
    if isinstance(exc, MasterNotFoundError):
        found, _, errors = detail.partition(" : ")
        if errors:
            unreachable = re.findall(r"\bhost=([^,()]+),port=(\d+)", errors)
            named = ", ".join(_address(host, int(port)) for host, port in unreachable)
            detail = f"{found}; Sentinels not reached: {named or errors}"
    return f"{type(exc).__name__}: {detail}"


def sentinel_address(text: str) -> tuple[str, int]:
    """`host:port` (`[v6-address]:port` for IPv6) as a pair; ValueError if it is not one."""
    host, colon, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a Sentinel is named host:port, not {text!r}")
    return host, int(port)


async def _persistence(server: str, client: Redis | RedisCluster, node: Any = None) -> Persistence:
    target: dict[str, Any] = {} if node is None else {"target_nodes": node}
    try:
        appendonly = await client.config_get("appendonly", **target)
        save = await client.config_get("save", **target)
    except ResponseError:  # CONFIG refused: managed services and ACL users without it
        return Persistence(server, None, None)
    return Persistence(server, _config_value(appendonly, "appendonly"), _config_value(save, "save"))


def _config_value(reply: Any, name: str) -> str | None:
    """The value of one `CONFIG GET name` reply (a map in RESP3 and from redis-py's
    client, a flat list of names and values in RESP2), or None when the server did not
    report it."""
    pairs = reply.items() if isinstance(reply, Mapping) else _pairs(reply)
    for key, value in pairs:
        if _text(key) == name:
            return _text(value)
    return None


def _pairs(reply: Any) -> list[tuple[Any, Any]]:
    if not isinstance(reply, list | tuple):
        return []
    return list(zip(reply[::2], reply[1::2], strict=False))


def _describe(options: Mapping[str, Any]) -> str:
    """Where one server is, for messages: never the credentials."""
    if options.get("connection_class") is UnixDomainSocketConnection:
        where = str(options.get("path", "?"))
    else:
        tls = options.get("connection_class") is SSLConnection
        address = _address(options.get("host", "localhost"), options.get("port", 6379))
        where = f"{_scheme(tls)}://{address}"
    return f"{where}/{options.get('db', 0)}"


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _scheme(tls: bool) -> str:
    return "rediss" if tls else "redis"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
