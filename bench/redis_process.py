"""A benchmark's own redis-server: loopback, a free port, a temporary folder, stopped at the end.

It runs the way the README advises for production, with the append-only file on
(`appendonly yes`, `appendfsync everysec`) and no RDB snapshots, so what a benchmark
measures includes the cost of persistence. Readiness is a bounded PING poll that fails at
once, with the server's log, if the process exits; stopping is SIGTERM (Redis flushes the
append-only file and exits), then SIGKILL after a grace period.

    async with RedisServer(folder) as server:   # started, answering PING
        ... server.url ...
    # stopped here, also on an error or a cancellation (Ctrl-C, SIGTERM turned into cancel)

Used by `redis_round_trips.py` and `turns.py`.
"""

import asyncio
import contextlib
import shutil
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis.asyncio

HOST = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds for redis-server to answer PING
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
POLL_INTERVAL = 0.02  # seconds between two PINGs while it starts
FALLBACK_BINARY = Path("/usr/bin/redis-server")


def free_port() -> int:
    """A port nobody listens on right now (the tiny race with other programs is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def redis_server_binary() -> str:
    """The redis-server on PATH, else /usr/bin/redis-server; RuntimeError if neither."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    if FALLBACK_BINARY.exists():
        return str(FALLBACK_BINARY)
    raise RuntimeError(
        "redis-server not found on PATH or at /usr/bin/redis-server (apt install redis-server)"
    )


async def _command(client: "redis.asyncio.Redis", *args: str) -> Any:
    """One command and its reply (redis-py leaves execute_command untyped)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


class RedisServer:
    """One redis-server on 127.0.0.1 with the append-only file on, in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.log = folder / "redis-server.log"
        self.output = folder / "redis-server.out"  # what it prints before its log is open
        self.version = ""  # `redis_version` from INFO, once started
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the server and return once it answers PING (stop() it even if this fails)."""
        binary = redis_server_binary()
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = [
            binary,
            "--bind", HOST,
            "--port", str(self.port),
            "--dir", str(self.folder),
            "--logfile", str(self.log),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
        ]  # fmt: skip
        with self.output.open("wb") as output:
            self._process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )
        await self._wait_for_ping()

    async def _wait_for_ping(self) -> None:
        """PING until it answers: bounded, and failing at once if the server exited."""
        deadline = time.monotonic() + START_TIMEOUT
        client = redis.asyncio.Redis(
            host=HOST, port=self.port, socket_connect_timeout=1.0, decode_responses=True
        )
        try:
            while True:
                self.check_alive()
                try:
                    if await _command(client, "PING"):
                        info: dict[str, Any] = await _command(client, "INFO", "server")
                        self.version = str(info.get("redis_version", "?"))
                        return
                except (redis.ConnectionError, OSError):  # refused, or still loading the AOF
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server silent for {START_TIMEOUT:.0f} s:\n{self.tail()}"
                    )
                await asyncio.sleep(POLL_INTERVAL)
        finally:
            await client.aclose()

    def check_alive(self) -> None:
        """RuntimeError with the server's log when it is not running (any more)."""
        process = self._process
        if process is None:
            raise RuntimeError("redis-server is not started")
        if process.returncode is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}:\n{self.tail()}")

    def tail(self) -> str:
        """The end of the server's output and log, for error messages."""
        text = "".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in (self.output, self.log)
            if path.exists()
        )
        return text[-2000:] or "(no output, no log)"

    async def stop(self) -> None:
        """SIGTERM, SIGKILL after STOP_TIMEOUT; does nothing when it is not running."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()  # SIGTERM: Redis flushes the append-only file and exits
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        except BaseException:  # cancelled again while waiting: do not leave it running
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
