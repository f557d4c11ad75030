"""Real Redis servers for the tests (and the benchmarks), on free 127.0.0.1 ports in
temporary directories.

`RedisServer` runs one `redis-server` process that a test can stop (SIGTERM: Redis flushes
its append-only file and exits), start again on the same port and directory, or kill. The
fixtures below share one server per test session and empty it before every test that
asks for it; `make_redis_server` starts extra servers with their own options for one test.

`TlsRedisServer` is a `RedisServer` that speaks only TLS, with a certificate from a
throwaway CA (`tests.support.tls.write_tls_files`); `redis_tls_server` starts one per
session with an ACL user confined to `sspr:*` keys and the default user off.

`RedisCluster` runs a Redis Cluster of three primaries (created with `redis-cli --cluster
create`), `RedisSentinel` one primary and a Sentinel that names it; `redis_cluster` and
`redis_sentinel` start one of each per session, on first use.

Register the fixtures by importing them into a conftest.py (as tests/state/conftest.py
does), or for the whole suite with `pytest_plugins = ["tests.support.redis"]` in
tests/conftest.py.
"""

import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.ports import HOST, free_port
from tests.support.tls import TlsFiles, write_tls_files

REDIS_SERVER = "redis-server"
REDIS_CLI = "redis-cli"

# How long a server may take to answer its first PING, and to exit after SIGTERM.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# The session server: durable on every write, no snapshots, reachable only from here.
PERSISTENT = ("--appendonly", "yes", "--appendfsync", "always", "--save", "")


def redis_server_binary() -> str:
    binary = shutil.which(REDIS_SERVER)
    if binary is None:
        pytest.fail("redis-server not found: apt-get install redis-server", pytrace=False)
    return binary


class RedisServer:
    """One redis-server on 127.0.0.1, restartable on the same port and data directory."""

    def __init__(self, directory: Path, *options: str) -> None:
        """`options` are redis-server command-line options, after (so overriding) the
        defaults in PERSISTENT."""
        self.directory = directory
        self.options = (*PERSISTENT, *options)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server (on a new free port the first time, else on its port) and
        return once it answers PING."""
        if self.running:
            return
        binary = redis_server_binary()
        attempts = 3 if self.port == 0 else 1
        for attempt in range(1, attempts + 1):
            if attempts > 1:
                self.port = free_port()
            if self._spawn(binary, last_attempt=attempt == attempts):
                return

    def stop(self) -> None:
        """SIGTERM and wait: Redis syncs its append-only file before it exits."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL and wait: whatever Redis has not written yet is lost."""
        self._end(signal.SIGKILL)

    def client(self) -> "redis.Redis":
        """A synchronous client for checks from the test (close it after use)."""
        return redis.Redis(
            host=HOST, port=self.port, socket_timeout=START_TIMEOUT, retry=Retry(NoBackoff(), 0)
        )

    def flush(self) -> None:
        """Empty every database of the server."""
        with self.client() as client:
            client.flushall()

    def pause(self, seconds: float) -> None:
        """Wait up to `seconds` between two polls of a condition, failing at once if the
        process exits meanwhile."""
        process = self._process
        if process is None:
            pytest.fail("redis-server is not running", pytrace=False)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return
        self._process = None
        log = _tail(self.directory / "redis-server.log")
        pytest.fail(f"redis-server exited with {process.returncode}:\n{log}")

    def _command(self, binary: str) -> list[str]:
        return [
            binary,
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--dir",
            str(self.directory),
            "--protected-mode",
            "yes",
            *self.options,
        ]

    def _probe(self) -> "redis.Redis":
        """The client whose PING tells that a starting server is ready."""
        return redis.Redis(
            host=HOST,
            port=self.port,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),  # the start loop is the retry, and sees the process
        )

    def _spawn(self, binary: str, *, last_attempt: bool) -> bool:
        """Run the server; True once it answers, False if its port was taken meanwhile."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log_path = self.directory / "redis-server.log"
        command = self._command(binary)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self._process = process
        deadline = time.monotonic() + START_TIMEOUT
        pause = 0.005
        with self._probe() as client:
            while True:
                try:
                    client.ping()
                    return True
                except redis.AuthenticationError:
                    return True  # it answers, just not to strangers
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    pytest.fail(
                        f"redis-server did not answer within {START_TIMEOUT} s:\n" + _tail(log_path)
                    )
                try:
                    # Waits for the process, so an exit is seen at once; a live process
                    # only delays the next PING.
                    process.wait(timeout=pause)
                except subprocess.TimeoutExpired:
                    pause = min(pause * 2, 0.1)
                    continue
                self._process = None
                tail = _tail(log_path)
                if "Address already in use" in tail and not last_attempt:
                    return False
                pytest.fail(f"redis-server exited with {process.returncode}:\n{tail}")

    def _end(self, how: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(how)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class TlsRedisServer(RedisServer):
    """A redis-server on 127.0.0.1 that speaks only TLS: `port` is its TLS port and it has
    no plain one. Clients are not asked for certificates. `username` and `password` (an
    ACL user that `options` create) are what its readiness PING and `client()` log in
    with; the CA is always passed explicitly, never taken from the environment."""

    def __init__(
        self,
        directory: Path,
        tls: TlsFiles,
        *options: str,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        super().__init__(directory, *options)
        self.tls = tls
        self.username = username
        self.password = password

    @property
    def url(self) -> str:
        """The server's URL, without credentials."""
        return f"rediss://{HOST}:{self.port}/0"

    def client(self) -> "redis.Redis":
        """A synchronous TLS client, logged in as the ACL user (close it after use)."""
        return self._tls_client(START_TIMEOUT)

    def _probe(self) -> "redis.Redis":
        return self._tls_client(1.0)

    def _tls_client(self, timeout: float) -> "redis.Redis":
        return redis.Redis(
            host=HOST,
            port=self.port,
            username=self.username,
            password=self.password,
            ssl=True,
            ssl_ca_certs=str(self.tls.ca),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def _command(self, binary: str) -> list[str]:
        # The later `--port 0` overrides the plain port the base command names.
        return [
            *super()._command(binary),
            "--port",
            "0",
            "--tls-port",
            str(self.port),
            "--tls-cert-file",
            str(self.tls.certificate),
            "--tls-key-file",
            str(self.tls.key),
            "--tls-ca-cert-file",
            str(self.tls.ca),
            "--tls-auth-clients",
            "no",
        ]


def redis_cli_binary() -> str:
    binary = shutil.which(REDIS_CLI)
    if binary is None:
        pytest.fail("redis-cli not found: apt-get install redis-tools", pytrace=False)
    return binary


def _poll(until: Callable[[], bool], *, watching: RedisServer, what: str) -> None:
    """Return once `until()` holds; fail after START_TIMEOUT, or at once if `watching`
    exits. Polls often at first, then every 0.1 s."""
    deadline = time.monotonic() + START_TIMEOUT
    pause = 0.005
    while not until():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {START_TIMEOUT} s", pytrace=False)
        watching.pause(pause)
        pause = min(pause * 2, 0.1)


class ClusterNode(RedisServer):
    """A redis-server in cluster mode, its cluster bus on a free port of its own (the
    default, port + 10000, may be taken or beyond 65535)."""

    def __init__(self, directory: Path, *options: str) -> None:
        super().__init__(
            directory,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",  # in the node's own directory
            *options,
        )
        self._bus_port = 0
        self._bus_port_for = 0

    def _command(self, binary: str) -> list[str]:
        if self._bus_port_for != self.port:
            self._bus_port, self._bus_port_for = free_port(), self.port
        return [*super()._command(binary), "--cluster-port", str(self._bus_port)]


class RedisCluster:
    """A Redis Cluster of three primaries and no replicas on free 127.0.0.1 ports: the
    smallest cluster that covers every slot."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.nodes = [ClusterNode(directory / f"node-{n}") for n in range(size)]

    @property
    def url(self) -> str:
        """One node's URL: a cluster client discovers the others from it."""
        return f"redis://{HOST}:{self.nodes[0].port}"

    def start(self) -> None:
        """Start the nodes, join them, give each a third of the slots, and return once
        every node reports `cluster_state:ok`."""
        cli = redis_cli_binary()
        redis_server_binary()
        try:
            for node in self.nodes:
                node.start()
            created = subprocess.run(
                [
                    cli,
                    "--cluster",
                    "create",
                    *(f"{HOST}:{node.port}" for node in self.nodes),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT,
                check=False,
            )
            if created.returncode != 0:
                pytest.fail(f"redis-cli --cluster create failed:\n{created.stdout}{created.stderr}")
            self.wait_until_ok()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def flush(self) -> None:
        """Empty every node."""
        for node in self.nodes:
            node.flush()

    def wait_until_ok(self) -> None:
        """Return once every node (all running) reports `cluster_state:ok`."""
        _poll(self._ok, watching=self.nodes[0], what="the cluster did not reach state ok")

    def _ok(self) -> bool:
        for node in self.nodes:
            with node.client() as client:
                if client.cluster("INFO").get("cluster_state") != "ok":
                    return False
        return True


class SentinelNode(RedisServer):
    """A redis-server in Sentinel mode watching `primary` (quorum 1) as `name`. Its config
    file is its own (Sentinel rewrites it), in its directory."""

    def __init__(self, directory: Path, primary: RedisServer, name: str) -> None:
        super().__init__(directory)
        self.primary = primary
        self.name = name

    def _command(self, binary: str) -> list[str]:
        config = self.directory / "sentinel.conf"
        if not config.exists():
            # A primary restarted within down-after-milliseconds is never marked down.
            config.write_text(
                f"sentinel monitor {self.name} {HOST} {self.primary.port} 1\n"
                f"sentinel down-after-milliseconds {self.name} 60000\n"
            )
        return [
            binary,
            str(config),
            "--sentinel",
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--dir",
            str(self.directory),
        ]


class RedisSentinel:
    """One append-only primary and one Sentinel that names it: the smallest deployment a
    Sentinel client can use (no replica, so no failover; the primary can be restarted)."""

    def __init__(self, directory: Path, name: str = "mymaster") -> None:
        self.name = name
        self.primary = RedisServer(directory / "primary")
        self.sentinel = SentinelNode(directory / "sentinel", self.primary, name)

    @property
    def url(self) -> str:
        """The Sentinel's URL, as the store's `url` in sentinel mode."""
        return f"redis://{HOST}:{self.sentinel.port}/0"

    def start(self) -> None:
        """Start both and return once the Sentinel is connected to the primary."""
        try:
            self.primary.start()
            self.sentinel.start()
            _poll(
                self._watching,
                watching=self.sentinel,
                what=f"the Sentinel did not connect to the primary {self.name!r}",
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.sentinel.stop()
        self.primary.stop()

    def _watching(self) -> bool:
        with self.sentinel.client() as client:
            state = client.sentinel_master(self.name)
        return bool(state["is_master"]) and not state["is_disconnected"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One append-only redis-server for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's server, running and empty, for this test."""
    redis_server.start()
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def make_redis_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., RedisServer]]:
    """Starts servers of this test's own (`make_redis_server("--appendonly", "no")`), each
    in a new directory, and stops them at its end."""
    started: list[RedisServer] = []

    def make(*options: str) -> RedisServer:
        server = RedisServer(tmp_path_factory.mktemp("redis"), *options)
        started.append(server)
        server.start()
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """One Redis Cluster (three primaries) for the whole session."""
    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    """The session's cluster, emptied, for this test: the URL of one of its nodes."""
    redis_cluster.flush()
    return redis_cluster.url


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisSentinel]:
    """One primary and one Sentinel for the whole session (a test that stops the primary
    starts it again; `redis_sentinel.primary.flush()` empties it)."""
    deployment = RedisSentinel(tmp_path_factory.mktemp("redis-sentinel"))
    deployment.start()
    yield deployment
    deployment.stop()


# The ACL user of `redis_tls_server`: every command, but only keys under the bot's
# default prefix.
REDIS_TLS_USER = "sspr"
REDIS_TLS_KEYS = "sspr:*"


@pytest.fixture(scope="session")
def redis_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedisServer]:
    """One TLS-only redis-server for the whole session, its certificate from a throwaway
    CA (`redis_tls_server.tls.ca`), the default user off, and one ACL user
    (`REDIS_TLS_USER`, a random password) that may touch only `REDIS_TLS_KEYS`."""
    password = secrets.token_hex(16)
    server = TlsRedisServer(
        tmp_path_factory.mktemp("redis-tls"),
        write_tls_files(tmp_path_factory.mktemp("redis-tls-files")),
        "--user",
        "default",
        "off",
        "--user",
        REDIS_TLS_USER,
        "on",
        f">{password}",
        f"~{REDIS_TLS_KEYS}",
        "+@all",
        username=REDIS_TLS_USER,
        password=password,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_tls(redis_tls_server: TlsRedisServer) -> TlsRedisServer:
    """The session's TLS server, running and empty, for this test."""
    redis_tls_server.start()
    redis_tls_server.flush()
    return redis_tls_server
