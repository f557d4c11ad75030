"""The real `sspr-bot` command run as a child process, as an operator runs it."""

import asyncio
import json
import os
import resource
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SSPR_BOT = Path(sys.executable).parent / "sspr-bot"
WAIT = 15.0  # seconds: an upper bound for a step that normally takes well under one


def cli_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without credentials or bot settings, plus `extra`."""
    dropped = ("MicrosoftApp", "CONNECTIONS__", "CONNECTIONSMAP__", "SSPR_")
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(dropped)
    }
    environment.update(extra or {})
    return environment


@dataclass
class Served:
    """A running `sspr-bot serve` and the JSON log lines it wrote until it listened."""

    url: str
    process: asyncio.subprocess.Process
    log: list[dict[str, Any]] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)  # stdout lines, where collected


def _spawn_serve(
    cwd: Path,
    args: Sequence[str],
    env: Mapping[str, str] | None,
    preexec_fn: Callable[[], None] | None = None,
) -> Awaitable[asyncio.subprocess.Process]:
    """`sspr-bot serve *args`, its log (stderr) on a pipe, nothing else."""
    return asyncio.create_subprocess_exec(
        str(SSPR_BOT),
        "serve",
        *args,
        cwd=cwd,
        env=cli_environment(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=preexec_fn,
    )


@asynccontextmanager
async def serving(
    cwd: Path, port: int, *args: str, env: Mapping[str, str] | None = None
) -> AsyncIterator[Served]:
    """`sspr-bot serve` on 127.0.0.1:`port`, ready when it says it is listening; stopped
    (SIGTERM) at the end."""
    process = await _spawn_serve(cwd, ["--host", "127.0.0.1", "--port", str(port), *args], env)
    served = Served(f"http://127.0.0.1:{port}", process)
    try:
        await asyncio.wait_for(until_listening(process, served.log), WAIT)
        yield served
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.communicate(), WAIT)


async def until_listening(process: asyncio.subprocess.Process, log: list[dict[str, Any]]) -> None:
    """Collect the JSON log lines on stderr until the server says it is listening."""
    assert process.stderr is not None
    while True:
        line = await process.stderr.readline()
        assert line, f"serve exited before listening: {log}"
        if not line.startswith(b"{"):
            continue  # a Python warning printed by a library, not a log line
        entry = json.loads(line)
        log.append(entry)
        if entry["message"] == "listening":
            return


@asynccontextmanager
async def serving_logged(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> AsyncIterator[Served]:
    """`sspr-bot serve *args` (its config or `--port` says where; `url` is the address it
    says it listens on), with every log line it writes collected in `log` while it runs (a
    server that floods its log must not stall on a full pipe), and stopped with SIGINT, as
    at Ctrl-C, so that it shuts down in order and its last lines are in `log` at the end."""
    process = await _spawn_serve(cwd, args, env, preexec_fn)
    served = Served("", process)
    listening = asyncio.Event()
    collecting = asyncio.create_task(_collect_log(process, served.log, listening))
    try:
        waiting = asyncio.create_task(listening.wait())
        await asyncio.wait({waiting, collecting}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        assert listening.is_set(), f"serve did not say it was listening: {served.log}"
        said = next(entry for entry in served.log if entry["message"] == "listening")
        served.url = str(said["url"]).removesuffix("/api/messages")
        yield served
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), WAIT)
        await asyncio.wait_for(collecting, WAIT)


@asynccontextmanager
async def serving_with_open_file_limit(
    cwd: Path, port: int, *args: str, open_files: int, env: Mapping[str, str] | None = None
) -> AsyncIterator[Served]:
    """`serving_logged` on 127.0.0.1:`port` under `ulimit -n open_files`."""

    def limit_open_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    address = ["--host", "127.0.0.1", "--port", str(port), *args]
    async with serving_logged(cwd, *address, env=env, preexec_fn=limit_open_files) as served:
        yield served


async def _collect_log(
    process: asyncio.subprocess.Process, log: list[dict[str, Any]], listening: asyncio.Event
) -> None:
    """Every JSON log line on stderr until it closes; `listening` set at that line."""
    assert process.stderr is not None
    while line := await process.stderr.readline():
        if not line.startswith(b"{"):
            continue  # a Python warning printed by a library, not a log line
        entry = json.loads(line)
        log.append(entry)
        if entry["message"] == "listening":
            listening.set()


@asynccontextmanager
async def serving_printed(
    command: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> AsyncIterator[Served]:
    """A server started by `command` (`sspr-bot serve --port 0`, `make run PORT=...`) with
    exactly the environment `env`: ready when it says it is listening, `url` the address
    it says, every line it prints on stdout in `printed` (collected while it runs, so
    codes printed to the console never fill the pipe). At the end its whole process group
    is stopped (SIGTERM): make passes no signal on to the bot it started."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    served = Served("", process)
    printing = asyncio.create_task(_collect_printed(process, served.printed))
    try:
        await asyncio.wait_for(until_listening(process, served.log), WAIT)
        served.url = str(served.log[-1]["url"]).removesuffix("/api/messages")
        yield served
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGTERM)
        assert process.stderr is not None
        await asyncio.wait_for(asyncio.gather(printing, process.stderr.read()), WAIT)
        await asyncio.wait_for(process.wait(), WAIT)


async def _collect_printed(process: asyncio.subprocess.Process, printed: list[str]) -> None:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        printed.append(line.decode().rstrip("\n"))
