"""Full-reset benchmark: whole password resets over HTTP, closed and open loop, against the
echo-bot baselines measured in the same run.

A reset here is what a person does in Teams, played as the Bot Framework would deliver it:
`reset`, a method, the code (emailed or texted: read from the outbox file; authenticator:
computed from the user's secret), for admins the second method and its code, then the
password link: the page's GET and the form's POST, and the chat's final confirmation.
Every user of the generated directory (`reset_directory.py`) is reset at most once in a
run.

The directory (`--directory`): `ldap` (the default), a real OpenLDAP slapd with ppolicy
(tests/support/slapd.py's configuration) loaded with the generated users, which hashes
the new passwords on its side as production directories do, their security questions in
the bot's method registry in Redis (written before the first bot starts); or `embedded`,
the bot's own YAML file, questions included, where each password change costs the bot
two argon2id hashes.

One run, one process each, on 127.0.0.1 and free ports: the stand-in connector
(`reset_connector.py`), the two baselines of `turns.py` (bare aiohttp and the Agents SDK
echo, same closed loop), a redis-server persisting as in production (`production_redis.py`),
slapd for `ldap`, then for each measured phase a fresh `sspr-bot serve` (K of them with
`--instances K`) on that Redis: development mode, `state: {backend: redis}`,
`password: {entry: link}`, the outbox for email and texts, the generated directory with
the questions as a method besides the directory's two, log level WARNING.

Phases: `closed` (C users, resets back to back for a duration) and `open` (turns arriving
at a fixed rate on a fixed schedule, latency from the scheduled send time). With
`--hashing-rate H`, on either directory, two more open-loop phases on a bot requiring two
checks from everyone (email, then the directory's other method): without and with a
background of users answering security questions at H answers/s (the other method,
then the questions: each answer an argon2id verification on the bot). On `ldap` the
answers are the bot's only argon2id work (slapd hashes the new passwords), so these two
phases measure what the hashing of answers does to everyone else's turns.

Usage: python -m bench.resets [--directory {ldap,embedded}] [--users N] [--concurrency C]
       [--duration S] [--rate R] [--hashing-rate H] [--instances K] [--echo-turns N]
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import pyotp
import pytest
import yaml

from adapters.directory.at_rest import EncryptionKey
from bench.production_redis import PERSISTENCE, production_redis, redis_version
from bench.reset_directory import (
    MAP_SIZE,
    QUESTIONS,
    SCOPE,
    BenchUser,
    bench_users,
    ldap_account_ids,
    ldap_binaries,
    load_ldif,
    new_password,
    register_questions,
    write_directory,
    write_ldif,
)
from bench.turns import (
    BASELINE,
    Load,
    Processes,
    child_environment,
    client,
    measure,
    positive,
    script_target,
    sspr_bot_command,
    wait_ready,
)
from bench.turns import activity as bot_activity
from dialogs.registry import MethodRegistry
from state import StateSettings, SystemClock, open_store
from tests.support.ports import HOST, free_port
from tests.support.redis import RedisServer, redis_server_binary
from tests.support.slapd import SlapdServer, slapd_binaries

ROOT = Path(__file__).resolve().parent.parent
REPLY_TIMEOUT = 15.0  # seconds a turn may take, answer and expected reply, before it fails
DRAIN_TIMEOUT = 15.0  # seconds resets under way at the end of a phase may take to finish
THINK = 1.0  # seconds between two turns of one open-loop user, on the schedule
# A background user's turns: reset, the other method, its code, questions, then one answer
# per question.
QUESTION_TURNS = 4 + len(QUESTIONS)
CODE_POLL = 0.02  # seconds between two reads of the outbox while a code is on its way
CODE = re.compile(r"reset code is (\d{6,10})")
LINK = re.compile(r"https?://\S+(/password/[A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# The reply that shows each step went through (config/messages.yaml, English).
EXPECTED = {
    "reset": "How should I check",
    "email": "I've emailed a",
    "app": "Open your authenticator app",
    "text": "I've texted a",
    "questions": "Question 1 of",
    "code": "One more check",
    "answer": "Question",
    "final": "Choose your new password on this page",
    "post": "your new password is set",
}
# The methods a directory offers: the first check of a one-method reset is `email` for
# half the users and the other method for the rest; two checks are `email`, then the other.
OTHER_METHOD = {"embedded": "app", "ldap": "text"}
# Texted codes for every account together per hour (limits.phone_budget, 200 by default):
# raised so that the toll-fraud budget is not what a run of thousands of resets measures.
PHONE_BUDGET = 1_000_000
STATE = {"backend": "redis"}  # the bots' state settings, which the registry is seeded on
STEPS = ("reset", "method", "code", "method 2", "code 2", "answer", "page", "post", "unfinished")


class TurnFailed(Exception):
    """A step of a reset did not go as scripted; the reset is abandoned (and counted)."""


@dataclass
class Tally:
    """What the load generator saw in one phase."""

    latencies: dict[str, list[float]] = field(default_factory=dict)  # by step
    errors: Counter[str] = field(default_factory=Counter)  # by step
    resets: int = 0  # completed
    started: int = 0  # conversations begun (each leaves one session in Redis)
    elapsed: float = 0.0

    def add(self, step: str, latency: float) -> None:
        self.latencies.setdefault(step, []).append(latency)

    @property
    def turns(self) -> int:
        return sum(len(values) for values in self.latencies.values())

    @property
    def failures(self) -> int:
        """Resets that failed, of any kind (`errors` also holds zero counts)."""
        return sum(self.errors.values())

    def load(self, steps: Sequence[str] | None = None) -> Load:
        picked = [
            latency
            for step, values in self.latencies.items()
            if steps is None or step in steps
            for latency in values
        ]
        picked.sort()
        return Load(sent=len(picked), errors=self.failures, elapsed=self.elapsed, latencies=picked)


@dataclass
class Usage:
    """Counters read from the bot processes and Redis, before or after a phase."""

    cpu: float  # seconds, utime + stime of every instance
    directory_cpu: float | None  # seconds, slapd's utime + stime (None: embedded)
    rss: int  # bytes, every instance
    commands: int  # total_commands_processed
    reads: int  # total_reads_processed: one per request a client sent
    used_memory: int
    keys: int


@dataclass
class Phase:
    name: str
    tally: Tally
    before: Usage
    after: Usage
    background: Tally | None = None


class Outbox:
    """The codes the bot's instances wrote to their outbox files, by address, read as they
    come (each file from where the last read stopped)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._offsets = dict.fromkeys(paths, 0)
        self._codes: dict[str, str] = {}

    def _read(self) -> None:
        for path, offset in self._offsets.items():
            if not path.exists():
                continue
            with path.open("rb") as file:
                file.seek(offset)
                chunk = file.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self._offsets[path] = offset + len(complete)
            for line in complete.splitlines():
                record = json.loads(line)
                found = CODE.search(record["body"])
                if found:
                    self._codes[record["to"]] = found.group(1)

    async def code(self, address: str) -> str:
        """The code sent to `address`: the delivery runs after the turn's reply, so the
        file is read again every CODE_POLL seconds until it is there (bounded)."""
        deadline = time.monotonic() + REPLY_TIMEOUT
        while True:
            self._read()
            found = self._codes.pop(address, None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise TurnFailed("code")
            await asyncio.sleep(CODE_POLL)


class Driver:
    """Plays whole resets against the bot instances, one request at a time per user."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        bases: Sequence[str],
        connector: str,
        outbox: Outbox,
        run: str,
        required: int,
        other: str,
    ) -> None:
        self.http = http
        self._required = required
        self._other = other
        self.connector = connector
        self._bases = bases
        self._outbox = outbox
        self._run = run
        self._turn = itertools.count()  # round-robin over the instances, per request

    def base(self) -> str:
        return self._bases[next(self._turn) % len(self._bases)]

    async def reset(
        self,
        user: BenchUser,
        tally: Tally,
        *,
        slots: Iterator[float] | None = None,
        questions: bool = False,
        until_page: bool = False,
    ) -> None:
        """One reset; an unexpected answer abandons it and counts as that step's error.

        `slots` (open loop): the scheduled send time of each turn; the turn waits for its
        slot and its latency counts from it. `questions`: the directory's other method,
        then the security questions as the second, and stop at the link (the hashing
        background). `until_page`: stop after the page's GET (the warm-up, which must not
        queue password changes).
        """
        conversation = f"{self._run}-{user.username}"
        tally.started += 1
        chat = Chat(self, conversation, user, tally, slots)
        step = "reset"
        try:
            await chat.say("reset", "reset", EXPECTED["reset"])
            if questions:
                step = "method"
                await chat.say(step, self._other, EXPECTED[self._other])
                step = "code"
                await chat.say(step, await self._code(user, self._other), EXPECTED["code"])
                step = "method 2"
                reply = await chat.say("method 2", "questions", EXPECTED["questions"])
                for number in (2, 3, None):
                    step = "answer"
                    expected = f"Question {number} of" if number else EXPECTED["final"]
                    reply = await chat.say("answer", user.answer(reply), expected)
                tally.resets += 1
                return
            two = user.admin or self._required == 2  # admins: the two-gate rule
            methods = ["email", self._other] if two else [_first_method(user, self._other)]
            for index, method in enumerate(methods):
                last = index == len(methods) - 1
                step = "method" if index == 0 else "method 2"
                await chat.say(step, method, EXPECTED[method])
                step = "code" if index == 0 else "code 2"
                code = await self._code(user, method)
                reply = await chat.say(step, code, EXPECTED["final" if last else "code"])
            step = "page"
            link = LINK.search(reply)
            if link is None:
                raise TurnFailed(step)
            csrf = await chat.page(link.group(1))
            if until_page:
                return
            step = "post"
            await chat.post(link.group(1), csrf)
            tally.resets += 1
        except (TurnFailed, aiohttp.ClientError, TimeoutError):
            tally.errors[step] += 1

    async def _code(self, user: BenchUser, method: str) -> str:
        """The code `method` asks for: emailed or texted (from the outbox), or computed
        from the user's authenticator secret."""
        if method == "email":
            return await self._outbox.code(user.email)
        if method == "text":
            return await self._outbox.code(user.mobile)
        return pyotp.TOTP(user.totp_secret).now()


def _first_method(user: BenchUser, other: str) -> str:
    """Half the one-method resets by email, half by the other method, by username."""
    return "email" if int(user.username[1:]) % 2 else other


class Chat:
    """One conversation of one reset: sends a turn, waits for the reply it must bring."""

    def __init__(
        self,
        driver: Driver,
        conversation: str,
        user: BenchUser,
        tally: Tally,
        slots: Iterator[float] | None,
    ) -> None:
        self._driver = driver
        self._conversation = conversation
        self._user = user
        self._tally = tally
        self._slots = slots
        self._seen = 0
        self._sent = itertools.count()
        self._base = ""

    async def _start(self) -> float:
        """Wait for this turn's slot (open loop) and pick its instance: the time it counts
        from, the scheduled one when there is a schedule."""
        self._base = self._driver.base()
        if self._slots is None:
            return time.perf_counter()
        slot = next(self._slots)
        delay = slot - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # the open loop's schedule itself
        return slot

    async def say(self, step: str, text: str, expected: str) -> str:
        started = await self._start()
        driver = self._driver
        payload = bot_activity(
            ident=f"{self._conversation}-{next(self._sent)}",
            text=text,
            user=self._user.username,
            conversation=self._conversation,
            service_url=driver.connector,
        )
        async with asyncio.timeout(REPLY_TIMEOUT):
            async with driver.http.post(f"{self._base}/api/messages", json=payload) as response:
                await response.read()
                if not 200 <= response.status < 300:
                    raise TurnFailed(step)
            reply = await self._reply(step, expected)
        self._tally.add(step, time.perf_counter() - started)
        return reply

    async def page(self, path: str) -> str:
        started = await self._start()
        async with asyncio.timeout(REPLY_TIMEOUT):
            async with self._driver.http.get(f"{self._base}{path}") as response:
                html = await response.text()
                if response.status != 200:
                    raise TurnFailed("page")
        found = CSRF.search(html)
        if found is None:
            raise TurnFailed("page")
        self._tally.add("page", time.perf_counter() - started)
        return found.group(1)

    async def post(self, path: str, csrf: str) -> None:
        """The form's POST; its latency runs to the chat's confirmation, which the page
        sends once the password is set."""
        started = await self._start()
        password = new_password()
        form = {"password": password, "confirm": password, "csrf": csrf}
        async with asyncio.timeout(REPLY_TIMEOUT):
            async with self._driver.http.post(f"{self._base}{path}", data=form) as response:
                await response.read()
                if response.status != 200:
                    raise TurnFailed("post")
            await self._reply("post", EXPECTED["post"])
        self._tally.add("post", time.perf_counter() - started)

    async def _reply(self, step: str, expected: str) -> str:
        """The conversation's next reply that contains `expected`: a long poll on the
        connector, which answers as soon as a reply comes in."""
        deadline = time.monotonic() + REPLY_TIMEOUT  # the caller's timeout ends it first
        url = f"{self._driver.connector}/conversations/{self._conversation}/replies"
        while (left := deadline - time.monotonic()) > 0:
            query = {"after": str(self._seen), "wait": f"{left:.3f}"}
            async with self._driver.http.get(url, params=query) as response:
                texts: list[str] = (await response.json())["replies"]
            self._seen += len(texts)
            for text in texts:
                if expected in text:
                    return text
        raise TurnFailed(step)


async def closed_loop(
    driver: Driver, users: Iterator[BenchUser], *, concurrency: int, duration: float
) -> Tally:
    """C users, each running whole resets back to back until `duration` is over; the
    resets under way then finish (their turns count)."""
    tally = Tally()
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        while time.perf_counter() < deadline:
            user = next(users, None)
            if user is None:
                tally.errors["out of users"] += 1
                return
            await driver.reset(user, tally)

    started = time.perf_counter()
    await bounded(tally, [worker() for _ in range(concurrency)], duration + DRAIN_TIMEOUT)
    tally.elapsed = time.perf_counter() - started
    return tally


async def bounded(tally: Tally, work: Sequence[Coroutine[Any, Any, None]], limit: float) -> None:
    """Run the loop's users for at most `limit` seconds; one still under way then is
    cancelled and counted as an unfinished reset (an error)."""
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        _, pending = await asyncio.wait(tasks, timeout=limit)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    tally.errors["unfinished"] += len(pending)


async def open_loop(
    driver: Driver,
    users: Iterator[BenchUser],
    *,
    rate: float,
    duration: float,
    questions: bool = False,
    start: float | None = None,
) -> Tally:
    """Turns at `rate` per second on a fixed schedule, whatever the bot's answers take.

    The schedule is `rate * THINK` lanes, each a user sending one turn every THINK seconds,
    the lanes offset by 1/rate: turn slots fall every 1/rate seconds. A lane runs resets
    back to back, a new user when one ends; a turn is sent at its slot or, when the one
    before it came back late, at once, and its latency counts from its slot, so time spent
    queueing behind a slow answer is measured, not hidden. No new reset starts after
    `duration`; the ones under way finish on their slots.
    """
    tally = Tally()
    lanes = max(1, round(rate * THINK))
    begin = (time.perf_counter() if start is None else start) + 0.1
    deadline = begin + duration

    async def lane(number: int) -> None:
        slots = (begin + number / rate + n * THINK for n in itertools.count())
        schedule = _Peekable(slots)
        while schedule.peek() < deadline:
            user = next(users, None)
            if user is None:
                tally.errors["out of users"] += 1
                return
            await driver.reset(user, tally, slots=schedule, questions=questions)

    await bounded(tally, [lane(number) for number in range(lanes)], duration + DRAIN_TIMEOUT)
    tally.elapsed = time.perf_counter() - begin
    return tally


class _Peekable(Iterator[float]):
    """The slot generator of a lane, whose next slot can be looked at without taking it."""

    def __init__(self, slots: Iterator[float]) -> None:
        self._slots = slots
        self._next = next(slots)

    def peek(self) -> float:
        return self._next

    def __next__(self) -> float:
        current, self._next = self._next, next(self._slots)
        return current


def _proc_stat(pid: int) -> tuple[float, int]:
    """CPU seconds (utime + stime) and resident bytes of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # fields 14 and 15 of stat(5)
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24
    return cpu, rss


def child_pid(marker: str) -> int:
    """The pid of our child process whose command line contains `marker` (a config path
    unique to one instance): `Processes` does not expose its processes."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == os.getpid() and marker in (entry / "cmdline").read_text():
                return int(entry.name)
    raise RuntimeError(f"no child process runs with {marker}")


def usage(pids: Sequence[int], server: RedisServer, directory_pid: int | None) -> Usage:
    stats = [_proc_stat(pid) for pid in pids]
    with server.client() as redis:
        info = redis.info()
        keys = int(redis.dbsize())
    return Usage(
        cpu=sum(cpu for cpu, _ in stats),
        directory_cpu=None if directory_pid is None else _proc_stat(directory_pid)[0],
        rss=sum(rss for _, rss in stats),
        commands=int(info["total_commands_processed"]),
        reads=int(info["total_reads_processed"]),
        used_memory=int(info["used_memory"]),
        keys=keys,
    )


OWN_COMMANDS = 2  # the first usage() sample's INFO and DBSIZE, counted in the second


def bot_config(scratch: Path, label: str, directory: Path | SlapdServer, required: int) -> Path:
    """The config of one instance: its own data folder and, on the embedded directory, a
    copy of the file (the embedded directory rewrites it on every password change); on
    slapd, tests/support/slapd.py's directory settings (StartTLS, the bot's own bind DN,
    admins in `it-admins`) with the adapter's default pool of connections."""
    data_dir = scratch / f"data-{label}"
    data_dir.mkdir()
    document: dict[str, Any] = {"data_dir": str(data_dir), "state": STATE}
    if isinstance(directory, SlapdServer):
        ldap = directory.directory_config()
        del ldap["pool_size"]
        document["directory"] = {"kind": "ldap", "ldap": ldap}
        document["access"] = {"mode": "groups", "groups": [SCOPE]}
        methods = ["sms", "email", "questions"]  # the questions: in the bot's registry
        document["limits"] = {"phone_budget": {"count": PHONE_BUDGET, "window": "1h"}}
        # Every 5th user is an admin: telling the admins of an admin's reset would read the
        # whole admin group (1,000 entries) and send 100 emails at every admin reset.
        document["notifications"] = {"admins": False}
    else:
        copy = data_dir / "directory.yaml"
        shutil.copyfile(directory, copy)
        copy.chmod(0o600)
        document["directory"] = {"embedded": {"path": str(copy), "seed_demo": False}}
        methods = ["authenticator", "email", "questions"]
    document |= {
        "password": {"entry": "link"},
        "verification": {"methods": methods, "required": required},
        "delivery": {"outbox": {"console": False}},
        "logging": {"level": "WARNING"},
    }
    config = scratch / f"sspr-{label}.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return config


class Supply:
    """The run's users, each handed out once (a user is reset at most once in a run): to
    the phases in order (`everyone`), and to a hashing background the next ones that have
    questions, which `everyone` then passes over, so neither uses up the other's users."""

    def __init__(self, users: Sequence[BenchUser]) -> None:
        self._users = users
        self._taken: set[str] = set()
        self.everyone = self._handed(lambda user: True)

    def with_questions(self) -> Iterator[BenchUser]:
        return self._handed(lambda user: user.has_questions)

    def _handed(self, wanted: Callable[[BenchUser], bool]) -> Iterator[BenchUser]:
        for user in self._users:
            if wanted(user) and user.username not in self._taken:
                self._taken.add(user.username)
                yield user


@dataclass
class Run:
    """What every phase shares: the processes, the client, the connector, Redis, users."""

    http: aiohttp.ClientSession
    processes: Processes
    scratch: Path
    connector: str
    server: RedisServer
    env: dict[str, str]
    directory: Path | SlapdServer
    users: Supply
    instances: int

    @property
    def kind(self) -> str:
        return "ldap" if isinstance(self.directory, SlapdServer) else "embedded"

    def directory_pid(self) -> int | None:
        """slapd's pid, for its CPU time; None on the embedded directory (the bot's own)."""
        if isinstance(self.directory, SlapdServer):
            return child_pid(str(self.directory.directory / "slapd.d"))
        return None


async def phase(
    run: Run,
    name: str,
    *,
    required: int,
    loop: str,
    args: argparse.Namespace,
    hashing: float = 0.0,
) -> Phase:
    """A fresh set of sspr-bot instances for one phase, so nothing left queued by the
    phase before (a reset abandoned on a timeout) weighs on this one."""
    label = re.sub(r"\W+", "-", name).strip("-")
    async with contextlib.AsyncExitStack() as running:
        bases: list[str] = []
        pids: list[int] = []
        outboxes: list[Path] = []
        for instance in range(run.instances):
            tag = f"{label}-{instance + 1}"
            config = bot_config(run.scratch, tag, run.directory, required)
            port = free_port()
            process = f"sspr-bot {tag}"
            running.push_async_callback(run.processes.stop, process)
            argv = [*sspr_bot_command(), "serve", "--config", str(config), "--port", str(port)]
            await run.processes.start(process, argv, run.env)
            base = f"http://{HOST}:{port}"
            await wait_ready(run.http, run.processes, process, f"{base}/readyz")
            bases.append(base)
            pids.append(child_pid(str(config)))
            outboxes.append(run.scratch / f"data-{tag}" / "outbox.jsonl")
        driver = Driver(
            run.http,
            bases,
            run.connector,
            Outbox(outboxes),
            f"{label}-",
            required,
            OTHER_METHOD[run.kind],
        )
        # Warm-up, not counted: imports, the Lua scripts' first load, the reply client.
        warm = Tally()
        warming = list(itertools.islice(run.users.everyone, args.warmup))
        if len(warming) < args.warmup:
            raise RuntimeError(f"{name}: out of users for the warm-up; use more --users")
        await asyncio.gather(*(driver.reset(user, warm, until_page=True) for user in warming))
        if warm.errors:
            raise RuntimeError(f"{name}: the warm-up resets failed: {dict(warm.errors)}")
        async with run.http.post(f"{run.connector}/reset") as response:
            response.raise_for_status()
        directory_pid = run.directory_pid()
        before = usage(pids, run.server, directory_pid)
        background: Tally | None = None
        if loop == "closed":
            tally = await closed_loop(
                driver, run.users.everyone, concurrency=args.concurrency, duration=args.duration
            )
        elif hashing:
            start = time.perf_counter()
            measured = open_loop(
                driver, run.users.everyone, rate=args.rate, duration=args.duration, start=start
            )
            behind = open_loop(
                driver,
                run.users.with_questions(),
                rate=hashing * QUESTION_TURNS / len(QUESTIONS),  # answers/s -> turns/s
                duration=args.duration,
                questions=True,
                start=start,
            )
            tally, background = await asyncio.gather(measured, behind)
        else:
            tally = await open_loop(
                driver, run.users.everyone, rate=args.rate, duration=args.duration
            )
        after = usage(pids, run.server, directory_pid)
        for instance in range(run.instances):
            run.processes.check_alive(f"sspr-bot {label}-{instance + 1}")
    return Phase(name, tally, before, after, background)


def percentile(values: Sequence[float], fraction: float) -> float:
    return Load(len(values), 0, 1.0, sorted(values)).percentile(fraction)


def render(phases: Sequence[Phase], baselines: Sequence[Any], out: TextIO) -> None:
    echo = next((row.load.rate for row in baselines if row.system == BASELINE), 0.0)
    header = (
        f"{'phase':<26} {'turns':>6} {'err':>4} {'turns/s':>8} {'resets/s':>9} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'trips':>6} {'cmds':>5} "
        f"{'cpu ms':>7} {'dir ms':>7} {'rss KB':>7} {'redis B':>8} {'x SDK echo':>10}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for row in baselines:
        load = row.load
        print(
            f"{row.system:<26} {load.sent:>6} {load.errors:>4} {load.rate:>8.0f} {'-':>9} "
            f"{load.percentile(0.50):>8.1f} {load.percentile(0.95):>8.1f} "
            f"{load.percentile(0.99):>8.1f} {'-':>6} {'-':>5} {'-':>7} {'-':>7} {'-':>7} "
            f"{'-':>8} "
            f"{load.rate / echo if echo else 0:>10.2f}",
            file=out,
        )
    for result in phases:
        tally = result.tally
        load = tally.load()
        turns = max(1, tally.turns + (result.background.turns if result.background else 0))
        before, after = result.before, result.after
        sessions = max(1, tally.started + (result.background.started if result.background else 0))
        directory = "-"
        if before.directory_cpu is not None and after.directory_cpu is not None:
            directory = f"{(after.directory_cpu - before.directory_cpu) * 1000 / turns:.1f}"
        print(
            f"{result.name:<26} {load.sent:>6} {load.errors:>4} {load.rate:>8.1f} "
            f"{tally.resets / tally.elapsed:>9.2f} "
            f"{load.percentile(0.50):>8.1f} {load.percentile(0.95):>8.1f} "
            f"{load.percentile(0.99):>8.1f} "
            f"{(after.reads - before.reads - OWN_COMMANDS) / turns:>6.2f} "
            f"{(after.commands - before.commands - OWN_COMMANDS) / turns:>5.1f} "
            f"{(after.cpu - before.cpu) * 1000 / turns:>7.1f} {directory:>7} "
            f"{(after.rss - before.rss) / 1024 / sessions:>7.1f} "
            f"{(after.used_memory - before.used_memory) / sessions:>8.0f} "
            f"{load.rate / echo if echo else 0:>10.2f}",
            file=out,
        )


def render_steps(phases: Sequence[Phase], out: TextIO) -> None:
    """Per step: where a reset's time goes."""
    print("\nper step: turns, p50 / p99 ms, errors", file=out)
    for result in phases:
        for label, tally in (("", result.tally), (" background", result.background)):
            if tally is None:
                continue
            parts = []
            for step in STEPS:
                values = tally.latencies.get(step, [])
                if not values and not tally.errors[step]:
                    continue
                shown = f"{step} {len(values)}"
                if values:
                    shown += f" {percentile(values, 0.5):.0f}/{percentile(values, 0.99):.0f}"
                if tally.errors[step]:
                    shown += f" err {tally.errors[step]}"
                parts.append(shown)
            if tally.errors["out of users"]:
                parts.append(f"out of users {tally.errors['out of users']}")
            print(
                f"  {result.name}{label}: {tally.resets} resets done; {'; '.join(parts)}", file=out
            )
        print(
            f"  {result.name}: sessions {result.tally.started}, Redis keys "
            f"+{result.after.keys - result.before.keys}, bot RSS "
            f"{(result.after.rss - result.before.rss) / 2**20:+.1f} MiB, Redis used_memory "
            f"{(result.after.used_memory - result.before.used_memory) / 2**20:+.1f} MiB",
            file=out,
        )


async def run(args: argparse.Namespace) -> tuple[list[Any], list[Phase]]:
    # SIGTERM cancels the run like Ctrl-C, so the `finally` stops every subprocess.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with tempfile.TemporaryDirectory(prefix="sspr-resets-") as folder:
        scratch = Path(folder)
        processes = Processes(scratch)
        print(f"generating {args.users} users ...", file=sys.stderr, flush=True)
        users = bench_users(args.users)
        directory: Path | SlapdServer
        if args.directory == "ldap":
            directory = SlapdServer(scratch / "slapd", map_size=MAP_SIZE)
        else:
            directory = scratch / "directory.yaml"
            await asyncio.to_thread(write_directory, directory, users)
        try:
            if isinstance(directory, SlapdServer):
                await asyncio.to_thread(start_slapd, directory, users, scratch / "users.ldif")
            async with client(max(args.concurrency, round(args.rate * THINK)) * 2) as http:
                port = free_port()
                argv = [sys.executable, "-m", "bench.reset_connector", str(port)]
                connector_env = child_environment() | {"PYTHONPATH": str(ROOT)}
                await processes.start("connector", argv, connector_env)
                connector = f"http://{HOST}:{port}"
                await wait_ready(http, processes, "connector", f"{connector}/healthz")
                baselines = []
                for target in (
                    script_target("aiohttp bare echo", "echo_bare.py", sends_replies=False),
                    script_target(BASELINE, "echo_sdk.py", sends_replies=True),
                ):
                    print(f"measuring {target.name} ...", file=sys.stderr, flush=True)
                    baselines.append(
                        await measure(
                            target,
                            http=http,
                            processes=processes,
                            scratch=scratch,
                            connector=connector,
                            turns=args.echo_turns,
                            concurrency=args.concurrency,
                            warmup=args.echo_turns // 10,
                        )
                    )
                with production_redis(scratch / "redis") as server:
                    env = child_environment() | {
                        "SSPR_REDIS_URL": server.url,
                        "SSPR_SECRET_KEY": secrets.token_hex(32),
                    }
                    if isinstance(directory, SlapdServer):
                        env |= directory.environ
                        await seed_registry(directory, users, env, scratch)
                    shared = Run(
                        http,
                        processes,
                        scratch,
                        connector,
                        server,
                        env,
                        directory,
                        Supply(users),
                        args.instances,
                    )
                    plan: list[tuple[str, int, str, float]] = [
                        (f"closed C={args.concurrency}", 1, "closed", 0.0),
                        (f"open {args.rate:g} turns/s", 1, "open", 0.0),
                    ]
                    if args.hashing_rate:
                        plan += [
                            (f"open {args.rate:g}/s, 2 checks", 2, "open", 0.0),
                            (f"  + {args.hashing_rate:g} answers/s", 2, "open", args.hashing_rate),
                        ]
                    phases = []
                    for name, required, loop, hashing in plan:
                        print(f"measuring {name.strip()} ...", file=sys.stderr, flush=True)
                        phases.append(
                            await phase(
                                shared,
                                name,
                                required=required,
                                loop=loop,
                                args=args,
                                hashing=hashing,
                            )
                        )
                    version = redis_version(server)
        finally:
            await processes.stop_all()
            if isinstance(directory, SlapdServer):
                directory.stop()
    args.redis_version = version
    return baselines, phases


def start_slapd(server: SlapdServer, users: Sequence[BenchUser], ldif: Path) -> None:
    """slapd started and seeded by tests/support/slapd.py, then the users loaded in bulk."""
    print(f"starting slapd and loading {len(users)} users ...", file=sys.stderr, flush=True)
    server.start()
    write_ldif(ldif, users)
    load_ldif(server, ldif)


async def seed_registry(
    server: SlapdServer, users: Sequence[BenchUser], env: dict[str, str], scratch: Path
) -> None:
    """The LDAP users' security questions in the bot's method registry, before any bot
    starts: on the store the bot opens (its `state` settings and environment) with the key
    it reads from that environment, through `MethodRegistry` as the bot's enrolment
    writes them."""
    print("registering security questions ...", file=sys.stderr, flush=True)
    clock = SystemClock()
    settings = StateSettings.model_validate(STATE)
    store = await open_store(settings, data_dir=scratch, clock=clock, environ=env)
    try:
        registry = MethodRegistry(store, EncryptionKey.from_env(env), clock)
        started = time.perf_counter()
        written = await register_questions(registry, await ldap_account_ids(server), users)
        took = time.perf_counter() - started
    finally:
        await store.close()
    print(f"  {written} users' questions in {took:.1f} s", file=sys.stderr, flush=True)


def slapd_version() -> str:
    """`2.5.13+dfsg-5` from `slapd -VV` (which prints it on stderr)."""
    slapd, _ = slapd_binaries()
    shown = subprocess.run(  # noqa: S603 (slapd from PATH, a fixed argument)
        [slapd, "-VV"], capture_output=True, text=True, timeout=10, check=False
    ).stderr
    found = re.search(r"slapd ([^ ]+)", shown)
    return found.group(1) if found else "?"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--directory",
        choices=("ldap", "embedded"),
        default="ldap",
        help="slapd loaded with the users, or the embedded directory's file",
    )
    parser.add_argument("--users", type=positive, default=5000, help="users in the directory")
    parser.add_argument("--concurrency", type=positive, default=50, help="closed-loop users")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop turns per second")
    parser.add_argument(
        "--hashing-rate", type=float, default=0.0, help="security answers per second (0: off)"
    )
    parser.add_argument("--warmup", type=int, default=4, help="unmeasured resets per phase")
    parser.add_argument(
        "--instances", type=positive, default=1, help="sspr-bot processes sharing the Redis"
    )
    parser.add_argument("--echo-turns", type=positive, default=2000, help="turns per baseline")
    args = parser.parse_args(argv)
    try:
        redis_server_binary()
        if args.directory == "ldap":
            ldap_binaries()
    except pytest.fail.Exception as missing:  # the test suite's helpers fail with the package
        print(missing.msg, file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        baselines, phases = asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; subprocesses stopped", file=sys.stderr)
        return 130
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(
        f"{stamp}  nproc={len(os.sched_getaffinity(0))}  python {sys.version.split()[0]}  "
        f"directory={args.directory} users={args.users} concurrency={args.concurrency} "
        f"duration={args.duration:g} rate={args.rate:g} hashing-rate={args.hashing_rate:g} "
        f"instances={args.instances}  "
        f"wall {time.perf_counter() - started:.0f} s"
    )
    print(f"redis-server {args.redis_version} ({PERSISTENCE})")
    if args.directory == "ldap":
        print(f"slapd {slapd_version()} (mdb, ppolicy, memberof; StartTLS; stats log)")
    render(phases, baselines, sys.stdout)
    render_steps(phases, sys.stdout)
    failed = any(row.load.errors for row in baselines) or any(
        tally.failures
        for result in phases
        for tally in (result.tally, result.background)
        if tally is not None
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
