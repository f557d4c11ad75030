"""Turn benchmark: sspr-bot against an echo-bot baseline measured in the same run.

Numbers from another day or another machine cannot tell whether the bot is fast, so every
run measures, on this machine and in this order:

  aiohttp bare echo   one HTTP exchange and a JSON answer: the floor
  Agents SDK echo     the stock CloudAdapter echo bot replying to the connector: baseline
  sspr-bot (sqlite)   `sspr-bot serve` with the embedded SQLite state
  sspr-bot (memory)   the same with the in-memory state
  sspr-bot (redis)    the same with the Redis state, on a redis-server this run starts
                      (append-only file on, `appendfsync everysec`: the production advice)

With `--instances K` (K > 1) the last row is `sspr-bot (redis x K)`: K `sspr-bot serve`
processes on K ports sharing the one Redis (and one SSPR_SECRET_KEY), the load spread
round-robin per conversation turn, so consecutive turns of a conversation land on
different instances, as they may behind a load balancer.

Every system runs in its own process, the replies go to a stand-in Bot Connector (another
process, `connector.py`) that counts them, and the load comes from this process: a closed
loop of C concurrent conversations sending N activities in total. Everything listens on
127.0.0.1 on free ports; every subprocess (redis-server included, see `production_redis.py`)
is stopped at the end, also on an error, Ctrl-C or SIGTERM.

Every system is started and warmed up once, then the run makes R rounds; a round measures
every system in turn, N activities each, in the same order every round. On a shared 2-core
host the baseline alone moves by a quarter from one minute to the next, so a single pass
tells more about the moment than about the bot. The table shows the median rate over the
rounds, and "x SDK echo" is the median of each round's ratio to the SDK echo of the same
round: two measurements seconds apart share the machine's state, so their ratio cancels
the drift slower than a round, and the median drops a round that a burst of other work
spoiled. The last column gives the spread of those ratios, so a noisy run shows itself.

Usage: python -m bench.turns [--turns N] [--rounds R] [--concurrency C] [--warmup W]
                             [--instances K]
"""

import argparse
import asyncio
import contextlib
import itertools
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import pytest

from bench.production_redis import PERSISTENCE, production_redis, redis_version
from tests.support.ports import HOST, free_port
from tests.support.redis import RedisServer, redis_server_binary

HERE = Path(__file__).resolve().parent
# The demo directory's people, cycled over the conversations: eligible users (alice, bob),
# an admin on the two-gate policy (adele), one outside the reset scope (olivia) and a
# disabled account (dave). The last two end in a hand-off, the others in a method menu.
USERS = ("alice", "bob", "adele", "olivia", "dave")
STARTUP_TIMEOUT = 30.0  # seconds for a subprocess to answer its readiness probe
SETTLE_TIMEOUT = 3.0  # seconds for late replies to reach the connector after the load
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
# Any environment variable that would switch sspr-bot out of development mode.
AUTH_VARIABLES = ("MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppTenantId")


@dataclass
class Load:
    """What the load generator saw for one system."""

    sent: int
    errors: int
    elapsed: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile in milliseconds (latencies are kept sorted)."""
        if not self.latencies:
            return float("nan")
        index = min(len(self.latencies) - 1, int(len(self.latencies) * fraction))
        return self.latencies[index] * 1000


@dataclass
class Row:
    system: str
    load: Load
    replies: int | None  # None: the system sends nothing to the connector
    kinds: dict[str, int] = field(default_factory=dict)
    redis_version: str = ""  # the redis-server the system ran on, if any

    @property
    def reply_rate(self) -> float | None:
        if self.replies is None or not self.load.elapsed:
            return None
        return self.replies / self.load.elapsed


@dataclass
class Target:
    """One system under test: how to start it and where to send activities."""

    name: str
    command: Callable[[int, Path, int], list[str]]  # (port, scratch dir, instance) -> argv
    sends_replies: bool = True
    ready: str = "/healthz"  # answers 200 once the process can take activities
    redis: bool = False  # needs a redis-server of its own (SSPR_REDIS_URL)
    instances: int = 1  # processes on as many ports, the turns spread round-robin


class Processes:
    """The subprocesses of one run, so that every one of them is stopped, whatever happens."""

    def __init__(self, scratch: Path) -> None:
        self._scratch = scratch
        self._running: dict[str, tuple[asyncio.subprocess.Process, Path]] = {}

    async def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> None:
        log = self._scratch / f"{_slug(name)}.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=self._scratch,
            )
        self._running[name] = (process, log)

    def check_alive(self, name: str) -> None:
        """Fail fast with the process's own output when it died instead of coming up."""
        process, log = self._running[name]
        if process.returncode is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    async def stop(self, name: str) -> None:
        entry = self._running.pop(name, None)
        if entry is None:  # never started, or already stopped
            return
        process, _ = entry
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    async def stop_all(self) -> None:
        for name in list(self._running):
            await self.stop(name)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


def sspr_bot_command() -> list[str]:
    """The `sspr-bot` console script of the interpreter running this benchmark."""
    beside = Path(sys.executable).parent / "sspr-bot"
    found = str(beside) if beside.exists() else shutil.which("sspr-bot")
    if found is None:
        raise SystemExit("sspr-bot is not installed: pip install -e . in this repository first")
    return [found]


def sspr_bot_target(backend: str, instances: int = 1) -> Target:
    def command(port: int, scratch: Path, instance: int) -> list[str]:
        # A fresh data folder per system and instance: its own demo directory copy, state
        # file (sqlite), audit and outbox. The Redis URL comes from SSPR_REDIS_URL.
        label = backend if instances == 1 else f"{backend}-{instance + 1}"
        data_dir = scratch / f"data-{label}"
        config = scratch / f"sspr-{label}.yaml"
        config.write_text(
            f"data_dir: {data_dir}\n"
            f"state:\n  backend: {backend}\n"
            "delivery:\n  outbox:\n    console: false\n"
            "logging:\n  level: WARNING\n",
            encoding="utf-8",
        )
        return [*sspr_bot_command(), "serve", "--config", str(config), "--port", str(port)]

    name = f"sspr-bot ({backend})" if instances == 1 else f"sspr-bot ({backend} x {instances})"
    # /readyz answers 200 once the state store answers (for Redis: a PING went through).
    return Target(name, command, ready="/readyz", redis=backend == "redis", instances=instances)


def script_target(name: str, script: str, *, sends_replies: bool) -> Target:
    def command(port: int, scratch: Path, instance: int) -> list[str]:
        return [sys.executable, str(HERE / script), str(port)]

    return Target(name, command, sends_replies=sends_replies)


def targets(instances: int) -> tuple[Target, ...]:
    return (
        script_target("aiohttp bare echo", "echo_bare.py", sends_replies=False),
        script_target("Agents SDK echo", "echo_sdk.py", sends_replies=True),
        sspr_bot_target("sqlite"),
        sspr_bot_target("memory"),
        sspr_bot_target("redis", instances),
    )


BASELINE = "Agents SDK echo"


def child_environment() -> dict[str, str]:
    """Our environment minus anything that would make sspr-bot expect real tokens."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in AUTH_VARIABLES and not name.startswith("CONNECTIONS__")
    }


async def wait_ready(
    http: aiohttp.ClientSession, processes: Processes, name: str, url: str
) -> None:
    """Poll the readiness URL until it answers 200: bounded, and failing fast on a crash."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        processes.check_alive(name)
        try:
            async with http.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{name} did not answer {url} within {STARTUP_TIMEOUT:.0f} s")


def activity(
    *, ident: str, text: str, user: str, conversation: str, service_url: str
) -> dict[str, Any]:
    """A Bot Framework message activity as the Emulator channel would deliver it."""
    return {
        "type": "message",
        "id": ident,
        "timestamp": datetime.now(UTC).isoformat(),
        "channelId": "emulator",
        "serviceUrl": service_url,
        "from": {"id": user, "name": user},
        "recipient": {"id": "sspr-bot", "name": "sspr-bot"},
        "conversation": {"id": conversation},
        "text": text,
        "locale": "en-US",
    }


async def drive(
    http: aiohttp.ClientSession,
    urls: Sequence[str],
    service_url: str,
    *,
    turns: int,
    concurrency: int,
    run: str,
) -> Load:
    """A closed loop: C workers, each one conversation at a time, N activities in total.

    Worker w plays USERS[w % 5] and sends "reset", then "help", then starts a new
    conversation. The new conversation keeps every "reset" a real start of the reset flow
    (directory lookup, eligibility, lock check, a new session written with if-none-match)
    instead of a stray word in a flow already under way; "help" reads and rewrites that
    session. No method is ever picked, so no code is sent and no failure is counted: the
    load stays the same from the first turn to the last.

    With several instances (`urls`), worker w sends its step s to urls[(w + s) % K]: the
    "help" of a conversation goes to another instance than its "reset", and the workers
    start on different instances, so each instance gets 1/K of the turns.
    """
    tickets = iter(range(turns))  # shared: the loop ends when N activities have been taken
    latencies: list[float] = []
    errors = 0

    async def worker(number: int) -> None:
        nonlocal errors
        user = USERS[number % len(USERS)]
        for step, ticket in zip(itertools.count(), tickets, strict=False):
            payload = activity(
                ident=f"{run}-{ticket}",
                text="help" if step % 2 else "reset",
                user=user,
                conversation=f"{run}-w{number}-c{step // 2}",
                service_url=service_url,
            )
            url = urls[(number + step) % len(urls)]
            started = time.perf_counter()
            try:
                async with http.post(url, json=payload) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
            except aiohttp.ClientError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker(number) for number in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Load(sent=len(latencies), errors=errors, elapsed=elapsed, latencies=latencies)


async def settled_count(http: aiohttp.ClientSession, connector: str) -> dict[str, Any]:
    """The connector's count once it stops growing (a reply sent after the 202 still counts)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    previous: dict[str, Any] | None = None
    while True:
        async with http.get(f"{connector}/count") as response:
            current: dict[str, Any] = await response.json()
        if previous is not None and current["replies"] == previous["replies"]:
            return current
        if time.monotonic() > deadline:
            return current
        previous = current
        await asyncio.sleep(0.1)


@dataclass
class Running:
    """A started and warmed-up system that can be measured again and again."""

    target: Target
    names: list[str]  # its processes, one per instance
    urls: list[str]  # where its activities go, one per instance
    server: RedisServer | None  # its redis-server, if it needs one


async def start_system(
    target: Target,
    *,
    running: contextlib.AsyncExitStack,
    http: aiohttp.ClientSession,
    processes: Processes,
    scratch: Path,
    connector: str,
    concurrency: int,
    warmup: int,
) -> Running:
    """Start the system's processes (and Redis) on `running`, which stops them in reverse."""
    env = child_environment()
    server: RedisServer | None = None
    if target.redis:
        server = running.enter_context(production_redis(scratch / _slug(target.name)))
        # Instances must share the key that hashes codes; one random key per run.
        env |= {"SSPR_REDIS_URL": server.url, "SSPR_SECRET_KEY": secrets.token_hex(32)}
    names: list[str] = []
    urls: list[str] = []
    for instance in range(target.instances):
        name = target.name if target.instances == 1 else f"{target.name} #{instance + 1}"
        port = free_port()
        running.push_async_callback(processes.stop, name)
        await processes.start(name, target.command(port, scratch, instance), env)
        # One after the other: each one ready before the next starts.
        base = f"http://{HOST}:{port}"
        await wait_ready(http, processes, name, f"{base}{target.ready}")
        names.append(name)
        urls.append(f"{base}/api/messages")
    # Warm-up: imports, first connections, SQLite pages, Redis scripts, the reply client.
    warm = f"warm-{_slug(target.name)}"
    await drive(http, urls, connector, turns=warmup, concurrency=concurrency, run=warm)
    return Running(target, names, urls, server)


async def measure_running(
    system: Running,
    *,
    http: aiohttp.ClientSession,
    processes: Processes,
    connector: str,
    turns: int,
    concurrency: int,
    run: str,
) -> Row:
    """One measurement of a running system; `run` keeps its conversation ids unique."""
    async with http.post(f"{connector}/reset") as response:
        response.raise_for_status()
    load = await drive(http, system.urls, connector, turns=turns, concurrency=concurrency, run=run)
    counted = await settled_count(http, connector)
    for name in system.names:
        processes.check_alive(name)
    server = system.server
    if server is not None and not server.running:
        raise RuntimeError(f"redis-server of {system.target.name} exited during the load")
    version = "" if server is None else redis_version(server)
    replies = int(counted["replies"]) if system.target.sends_replies else None
    return Row(system.target.name, load, replies, counted["kinds"], version)


async def measure(
    target: Target,
    *,
    http: aiohttp.ClientSession,
    processes: Processes,
    scratch: Path,
    connector: str,
    turns: int,
    concurrency: int,
    warmup: int,
) -> Row:
    """Start one system, measure it once and stop it again."""
    # Stopped in reverse order on the way out, whatever happens: the bots, then Redis.
    async with contextlib.AsyncExitStack() as running:
        system = await start_system(
            target,
            running=running,
            http=http,
            processes=processes,
            scratch=scratch,
            connector=connector,
            concurrency=concurrency,
            warmup=warmup,
        )
        return await measure_running(
            system,
            http=http,
            processes=processes,
            connector=connector,
            turns=turns,
            concurrency=concurrency,
            run=f"run-{_slug(target.name)}",
        )


@dataclass
class Summary:
    """One system over every round, as the table shows it."""

    system: str
    rows: list[Row]  # one per round
    ratios: list[float]  # per round: its rate over the same round's baseline rate

    @property
    def sent(self) -> int:
        return sum(row.load.sent for row in self.rows)

    @property
    def errors(self) -> int:
        return sum(row.load.errors for row in self.rows)

    @property
    def rate(self) -> float:
        return statistics.median(row.load.rate for row in self.rows)

    @property
    def reply_rate(self) -> float | None:
        rates = [row.reply_rate for row in self.rows]
        known = [rate for rate in rates if rate is not None]
        return statistics.median(known) if known else None

    @property
    def replies(self) -> int | None:
        counts = [row.replies for row in self.rows if row.replies is not None]
        return sum(counts) if counts else None

    @property
    def kinds(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for row in self.rows:
            for kind, count in row.kinds.items():
                total[kind] = total.get(kind, 0) + count
        return total

    def percentile(self, fraction: float) -> float:
        """Over every measured turn of every round, not a median of the rounds' figures."""
        latencies = sorted(itertools.chain.from_iterable(row.load.latencies for row in self.rows))
        return Load(len(latencies), 0, 1.0, latencies).percentile(fraction)


def summarize(rounds: Sequence[Sequence[Row]]) -> list[Summary]:
    """Pair each system's rate with the baseline's of the same round, then gather the rounds."""
    baselines = [
        next((row.load.rate for row in rows if row.system == BASELINE), 0.0) for rows in rounds
    ]
    summaries: list[Summary] = []
    for column in zip(*rounds, strict=True):  # one system, one row a round
        pairs = zip(column, baselines, strict=True)
        ratios = [row.load.rate / baseline for row, baseline in pairs if baseline]
        summaries.append(Summary(column[0].system, list(column), ratios))
    return summaries


def render(summaries: Sequence[Summary], out: TextIO) -> None:
    width = max(20, *(len(summary.system) for summary in summaries))
    header = (
        f"{'system':<{width}} {'turns':>6} {'err':>4} {'req/s':>8} {'replies/s':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'x SDK echo':>10} {'min-max':>11}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for summary in summaries:
        reply_rate = summary.reply_rate
        replies = "-" if reply_rate is None else f"{reply_rate:.0f}"
        ratios = summary.ratios
        ratio = f"{statistics.median(ratios):.2f}" if ratios else "-"
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "-"
        print(
            f"{summary.system:<{width}} {summary.sent:>6} {summary.errors:>4} "
            f"{summary.rate:>8.0f} {replies:>10} {summary.percentile(0.50):>8.1f} "
            f"{summary.percentile(0.99):>8.1f} {ratio:>10} {spread:>11}",
            file=out,
        )


def render_mix(summaries: Sequence[Summary], out: TextIO) -> None:
    """What the bots answered, so a run where every turn failed cannot pass for a fast one."""
    for summary in summaries:
        replies = summary.replies
        if not replies:
            continue
        mix = sorted(summary.kinds.items(), key=lambda item: -item[1])
        shown = ", ".join(f"{count} x {kind!r}" for kind, count in mix)
        print(f"  {summary.system}: {replies} replies: {shown}", file=out)


@contextlib.asynccontextmanager
async def client(concurrency: int) -> AsyncIterator[aiohttp.ClientSession]:
    # One keep-alive connection per worker, as a channel's front door would hold them.
    connector = aiohttp.TCPConnector(limit=concurrency + 4)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


async def run(
    turns: int, concurrency: int, warmup: int, instances: int, rounds: int
) -> list[list[Row]]:
    """Every system measured once per round, in `targets` order: one list of rows a round."""
    # SIGTERM (a CI timeout, `kill`) cancels the run like Ctrl-C does, so the `finally`
    # below still stops the subprocesses instead of leaving them listening.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with tempfile.TemporaryDirectory(prefix="sspr-bench-") as folder:
        scratch = Path(folder)
        processes = Processes(scratch)
        try:
            async with client(concurrency) as http, contextlib.AsyncExitStack() as running:
                port = free_port()
                argv = [sys.executable, str(HERE / "connector.py"), str(port)]
                await processes.start("connector", argv, child_environment())
                connector = f"http://{HOST}:{port}"
                await wait_ready(http, processes, "connector", f"{connector}/healthz")
                systems: list[Running] = []
                for target in targets(instances):
                    print(f"starting {target.name} ...", file=sys.stderr, flush=True)
                    systems.append(
                        await start_system(
                            target,
                            running=running,
                            http=http,
                            processes=processes,
                            scratch=scratch,
                            connector=connector,
                            concurrency=concurrency,
                            warmup=warmup,
                        )
                    )
                return [
                    await measure_round(
                        systems,
                        http=http,
                        processes=processes,
                        connector=connector,
                        turns=turns,
                        concurrency=concurrency,
                        round_number=number,
                        rounds=rounds,
                    )
                    for number in range(1, rounds + 1)
                ]
        finally:
            await processes.stop_all()


async def measure_round(
    systems: Sequence[Running],
    *,
    http: aiohttp.ClientSession,
    processes: Processes,
    connector: str,
    turns: int,
    concurrency: int,
    round_number: int,
    rounds: int,
) -> list[Row]:
    """One pass over the systems, always in the same order, so each keeps its place in time."""
    rows: list[Row] = []
    for system in systems:
        name = system.target.name
        print(f"round {round_number}/{rounds}: {name} ...", file=sys.stderr, flush=True)
        rows.append(
            await measure_running(
                system,
                http=http,
                processes=processes,
                connector=connector,
                turns=turns,
                concurrency=concurrency,
                # Conversation and activity ids unique per system and round.
                run=f"run{round_number}-{_slug(name)}",
            )
        )
    return rows


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--turns", type=positive, default=3000, help="activities per system and round"
    )
    parser.add_argument("--rounds", type=positive, default=3, help="measurements per system")
    parser.add_argument("--concurrency", type=positive, default=50, help="conversations at once")
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured activities first")
    parser.add_argument(
        "--instances", type=positive, default=1, help="sspr-bot processes sharing the Redis"
    )
    args = parser.parse_args(argv)
    try:
        redis_server_binary()  # before anything starts: the redis row needs one
    except pytest.fail.Exception as missing:  # the test suite's helper fails with the package
        print(missing.msg, file=sys.stderr)
        return 2
    try:
        rounds = asyncio.run(
            run(args.turns, args.concurrency, max(0, args.warmup), args.instances, args.rounds)
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; subprocesses stopped", file=sys.stderr)
        return 130
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(
        f"{stamp}  nproc={len(os.sched_getaffinity(0))}  python {sys.version.split()[0]}  "
        f"turns={args.turns} concurrency={args.concurrency} warmup={args.warmup} "
        f"instances={args.instances} rounds={args.rounds}"
    )
    rows = list(itertools.chain.from_iterable(rounds))
    for version in sorted({row.redis_version for row in rows if row.redis_version}):
        print(f"redis-server {version} ({PERSISTENCE})")
    summaries = summarize(rounds)
    render(summaries, sys.stdout)
    render_mix(summaries, sys.stdout)
    return 1 if any(row.load.errors for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
