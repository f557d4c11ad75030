"""Real servers for the tests, started on free 127.0.0.1 ports in temporary directories.

`RedisServer` runs one `redis-server` process that a test can stop (SIGTERM: Redis flushes
its append-only file and exits), start again on the same port and directory, or kill. The
fixtures below share one server per test session and empty it before every test that
asks for it; `make_redis_server` starts extra servers with their own options for one test.

Register the fixtures by importing them into a conftest.py (as tests/state/conftest.py
does), or for the whole suite with `pytest_plugins = ["tests.servers"]` in
tests/conftest.py.
"""

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_SERVER = "redis-server"
HOST = "127.0.0.1"

# How long a server may take to answer its first PING, and to exit after SIGTERM.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# The session server: durable on every write, no snapshots, reachable only from here.
PERSISTENT = ("--appendonly", "yes", "--appendfsync", "always", "--save", "")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


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

    def _spawn(self, binary: str, *, last_attempt: bool) -> bool:
        """Run the server; True once it answers, False if its port was taken meanwhile."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log_path = self.directory / "redis-server.log"
        command = [
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
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self._process = process
        deadline = time.monotonic() + START_TIMEOUT
        pause = 0.005
        with redis.Redis(
            host=HOST,
            port=self.port,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),  # this loop is the retry, and sees the process
        ) as client:
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
                log = _tail(log_path)
                if "Address already in use" in log and not last_attempt:
                    return False
                pytest.fail(f"redis-server exited with {process.returncode}:\n{log}")

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
