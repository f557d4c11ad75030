"""Redis round trips per turn and bytes per stored session, counted by a real redis-server.

The bot is built in this process the way `sspr-bot serve` builds it (`start_runtime`), on
the Redis backend, and whole conversations go through the Agents SDK's in-process
TestAdapter and the production `ResetAgent` (no HTTP: the channel is not what is measured).
The redis-server is the benchmark's own (`production_redis.py`, shared with `turns.py`):
127.0.0.1, a free port, a temporary folder, the append-only file on. It is stopped at the
end, also on an error, Ctrl-C or SIGTERM.

The server does the counting. A MONITOR connection names every command the bot's
connections sent during a turn (store operation and key kind only, never a value);
`INFO stats` counts them again (`total_commands_processed`, which also counts the
commands scripts run inside Redis) and counts the reads the server made from its clients
(`total_reads_processed`). Without pipelining one command is one read is one round trip,
and state/redis_store.py does not pipeline: the benchmark checks its source for
`pipeline()` / `transaction()` and checks that reads equal commands on every turn. The
benchmark's own commands (inspection, a marker, INFO) are measured on idle cycles first
and subtracted.

Pass 1 runs on a fresh server, so each Lua script's first use pays EVALSHA, SCRIPT LOAD,
EVALSHA; the table shows the last pass, and the warm passes must agree turn by turn.

Usage: python -m bench.redis_round_trips [--passes N]
"""

import argparse
import ast
import asyncio
import contextlib
import inspect
import json
import logging
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

import pyotp
import redis.asyncio
from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount
from microsoft_agents.hosting.core import ClaimsIdentity
from microsoft_agents.testing import TestAdapter

from bench.production_redis import production_redis
from bot.botframework.agent import ResetAgent, conversation_of, development_identity
from bot.runtime import Runtime, start_runtime
from bot.settings import Settings
from state import FrozenClock, RedisStore, redis_store
from state.redis_store import record_key
from tests.support.ports import HOST
from tests.support.redis import RedisServer

MONITOR_TIMEOUT = 10.0  # seconds for a turn's commands to show up on the MONITOR feed
TARGET = 2  # round trips per turn: read the session, write it back
PASS_GAP = 120.0  # seconds the frozen clock moves between passes (a fresh TOTP step)
# The demo directory's published authenticator secret for alice (config/DEMO-ACCOUNTS.md).
ALICE_TOTP = "MCE3HIXZW4VZTS6R7WB35M2KH77222RP"
CALIBRATION_CYCLES = 3
# Commands the benchmark sends per measured cycle besides INFO: they are subtracted.
INSPECT_FIELDS = ("v", "e", "x")  # the record hash of state/redis_store.py

_MONITOR_LINE = re.compile(r"^\+(?P<time>\S+) \[(?P<db>\d+) (?P<client>[^\]]+)\] (?P<args>.*)$")
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"')
_TAG = re.compile(r"\{[^}]*\}")
_CODE = re.compile(r"code is:? ([\d ]+?)[.]")
_SCRIPTS = {
    script.sha: name
    for name, script in (
        ("put", redis_store._PUT),
        ("delete", redis_store._DELETE),
        ("take", redis_store._TAKE),
    )
}
# Plain commands of state/redis_store.py and the Store operation each one serves.
_OPERATIONS = {"hmget": "get", "zcount": "count", "zpopmax": "give_back", "del": "clear"}


async def command(client: "redis.asyncio.Redis", *args: str | int | float) -> Any:
    """One command and its reply (redis-py leaves execute_command untyped)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


# --- what the server saw ----------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One MONITOR line: who sent it, the command's name and its first key (if any)."""

    client: str
    name: str
    key: str | None
    script: str | None


def parse_monitor(line: str) -> Seen | None:
    match = _MONITOR_LINE.match(line)
    if match is None:
        return None
    tokens = [token.replace('\\"', '"') for token in _TOKEN.findall(match["args"])]
    if not tokens:
        return None
    name = tokens[0].lower()
    key: str | None = None
    script: str | None = None
    if name in ("evalsha", "eval") and len(tokens) > 3 and tokens[2] != "0":
        key = tokens[3]
        script = _SCRIPTS.get(tokens[1], "?") if name == "evalsha" else "eval"
    elif name in ("script", "client", "config", "memory"):
        name = f"{name} {tokens[1].lower()}" if len(tokens) > 1 else name
    elif len(tokens) > 1 and name not in ("ping", "hello", "info"):  # echo: the marker
        key = tokens[1]
    return Seen(match["client"], name, key, script)


class MonitorFeed:
    """A raw MONITOR connection; the turn's lines are read up to the probe's marker."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> "MonitorFeed":
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 22)
        writer.write(b"MONITOR\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), MONITOR_TIMEOUT)
        if answer.strip() != b"+OK":
            writer.close()
            raise RuntimeError(f"MONITOR refused: {answer[:80]!r}")
        return cls(reader, writer)

    async def until(self, probe: str, marker: str) -> list[Seen]:
        """Every command of other clients (scripts' included) before the probe's marker."""
        seen: list[Seen] = []
        async with asyncio.timeout(MONITOR_TIMEOUT):
            while True:
                raw = await self._reader.readline()
                if not raw:
                    raise RuntimeError("the MONITOR connection closed")
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                parsed = parse_monitor(line)
                if parsed is None:
                    continue
                if parsed.client == probe:
                    if parsed.name == "echo" and parsed.key == marker:
                        return seen
                    continue
                seen.append(parsed)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


@dataclass(frozen=True)
class Counters:
    commands: int
    reads: int
    connections: int

    def __sub__(self, other: "Counters") -> "Counters":
        return Counters(
            self.commands - other.commands,
            self.reads - other.reads,
            self.connections - other.connections,
        )


@dataclass(frozen=True)
class SessionSize:
    memory: int  # MEMORY USAGE of the record hash (key, fields, overhead)
    fields: int  # HSTRLEN of v + e + x
    json: int  # HSTRLEN v: the session's JSON as stored
    compact: int  # the same JSON with no spaces after separators


@dataclass
class TurnCount:
    kind: str
    commands: list[str]  # the bot's commands, as "operation key-kind"
    in_scripts: int  # commands Lua scripts ran inside Redis (no round trip)
    counted: Counters  # INFO stats deltas, the benchmark's own commands subtracted
    session: SessionSize | None
    written: set[str] = field(default_factory=set)  # keys the turn's scripts wrote

    @property
    def round_trips(self) -> int:
        return self.counted.reads

    def consistent(self) -> bool:
        return (
            self.counted.commands == len(self.commands) + self.in_scripts
            and self.counted.reads == len(self.commands)
            and self.counted.connections == 0
        )


class Meter:
    """Brackets each turn with INFO snapshots, a marker on the MONITOR feed and an inspection
    of the session record; the fixed cost of all that is measured idle and subtracted."""

    def __init__(self, probe: "redis.asyncio.Redis", feed: MonitorFeed, prefix: str) -> None:
        self._probe = probe
        self._feed = feed
        self.prefix = prefix
        self._address = ""
        self._marks = 0
        self._before = Counters(0, 0, 0)
        self._overhead = Counters(0, 0, 0)

    async def calibrate(self) -> None:
        info = await command(self._probe, "CLIENT", "INFO")
        found = re.search(r"\baddr=(\S+)", str(info))
        if found is None:
            raise RuntimeError(f"CLIENT INFO without addr: {info!r}")
        self._address = found.group(1)
        # What came before (the bot connecting at start-up) is not part of any turn.
        self._marks += 1
        await command(self._probe, "ECHO", f"bench-mark-{self._marks}")
        await self._feed.until(self._address, f"bench-mark-{self._marks}")
        idle: list[Counters] = []
        for _ in range(CALIBRATION_CYCLES):
            await self.begin()
            _, delta, seen = await self._cycle(f"{self.prefix}bench-idle")
            if seen:
                raise RuntimeError(f"another client talks to the benchmark's Redis: {seen[0]}")
            idle.append(delta)
        if len(set(idle)) != 1:
            raise RuntimeError(f"the benchmark's own commands do not count the same: {idle}")
        self._overhead = idle[0]

    async def begin(self) -> None:
        self._before = await self._counters()

    async def end(self, kind: str, session_key: str) -> TurnCount:
        size, delta, seen = await self._cycle(session_key)
        counted = delta - self._overhead
        client = [line for line in seen if line.client != "lua"]
        count = TurnCount(
            kind=kind,
            commands=[self._label(line) for line in client],
            in_scripts=len(seen) - len(client),
            counted=counted,
            session=size,
            written={line.key for line in client if line.key and line.script in ("put", "take")},
        )
        self._before = await self._counters()
        return count

    async def _cycle(self, session_key: str) -> tuple[SessionSize | None, Counters, list[Seen]]:
        # Always the same commands, whether the record exists or not: the overhead is fixed.
        probe = self._probe
        memory = await command(probe, "MEMORY", "USAGE", session_key, "SAMPLES", "0")
        lengths = [
            int(await command(probe, "HSTRLEN", session_key, name)) for name in INSPECT_FIELDS
        ]
        value = await command(probe, "HGET", session_key, "v")
        self._marks += 1
        marker = f"bench-mark-{self._marks}"
        await command(probe, "ECHO", marker)
        seen = await self._feed.until(self._address, marker)
        after = await self._counters()
        size = None
        if memory is not None and value is not None:
            compact = json.dumps(json.loads(value), ensure_ascii=False, separators=(",", ":"))
            size = SessionSize(int(memory), sum(lengths), lengths[0], len(compact.encode()))
        return size, after - self._before, seen

    async def _counters(self) -> Counters:
        stats: dict[str, Any] = await command(self._probe, "INFO", "stats")
        return Counters(
            int(stats["total_commands_processed"]),
            int(stats["total_reads_processed"]),
            int(stats["total_connections_received"]),
        )

    def _label(self, line: Seen) -> str:
        operation = line.script or _OPERATIONS.get(line.name, line.name)
        return f"{operation} {self.kind(line.key, short=True)}".rstrip()

    def kind(self, key: str | None, *, short: bool = False) -> str:
        """A key without the prefix and with its subject hidden: `session:{…}`."""
        if key is None:
            return ""
        bare = key.removeprefix(self.prefix)
        if short:
            return bare.split(":{", 1)[0] if ":{" in bare else _TAG.sub("{…}", bare)
        return _TAG.sub("{…}", bare)

    async def keys(self) -> set[str]:
        found: set[str] = set()
        cursor = 0
        while True:
            cursor_text, batch = await command(
                self._probe, "SCAN", cursor, "MATCH", f"{self.prefix}*", "COUNT", 1000
            )
            found.update(str(key) for key in batch)
            cursor = int(cursor_text)
            if cursor == 0:
                return found

    async def describe(self, key: str) -> tuple[str, int, float | None]:
        """(type, MEMORY USAGE, remaining TTL in seconds or None) of one key."""
        kind = str(await command(self._probe, "TYPE", key))
        memory = await command(self._probe, "MEMORY", "USAGE", key, "SAMPLES", "0")
        ttl = int(await command(self._probe, "PTTL", key))
        return kind, int(memory or 0), (ttl / 1000 if ttl >= 0 else None)


# --- the conversations ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    kind: str
    say: str | Callable[[], str]
    expect: str  # a phrase the bot's answer must contain (the flow did what it should)


@dataclass(frozen=True)
class Conversation:
    name: str
    user: str | None  # None: the channel does not identify people; the name is typed
    steps: tuple[Step, ...]


class Driver:
    """Chats with the real agent through the Agents SDK TestAdapter, as the tests' harness
    (tests/support/harness.py) does."""

    def __init__(self, runtime: Runtime, clock: FrozenClock, data_dir: Path) -> None:
        self.runtime = runtime
        self.clock = clock
        self._outbox = data_dir / "outbox.jsonl"
        self._chats = 0

    def last_code(self) -> str:
        lines = self._outbox.read_text(encoding="utf-8").splitlines()
        found = _CODE.search(json.loads(lines[-1])["body"])
        if found is None:
            raise RuntimeError("the last outbox message carries no code")
        return found.group(1).replace(" ", "")

    def wrong_code(self) -> str:
        return "000000" if self.last_code() != "000000" else "000001"

    def totp(self) -> str:
        return str(pyotp.TOTP(ALICE_TOTP).at(self.clock.now()))

    def conversations(self) -> tuple[Conversation, ...]:
        return (
            Conversation(
                "alice, signed in, email code",
                "alice",
                (
                    Step("help, before any reset", "help", "I reset forgotten passwords"),
                    Step("reset -> greeting and method menu", "reset", "Hi Alice Wilber"),
                    Step("email -> code sent", "email", "I've emailed"),
                    Step("wrong code", self.wrong_code, "isn't right"),
                    Step("help, mid-flow", "help", "I reset forgotten passwords"),
                    Step("right code -> temporary password", self.last_code, "temporary password"),
                ),
            ),
            Conversation(
                "alice, signed in, authenticator",
                "alice",
                (
                    Step("reset -> greeting and method menu", "reset", "Hi Alice Wilber"),
                    Step("app -> asks for the code", "app", "Open your authenticator app"),
                    Step("TOTP code -> temporary password", self.totp, "temporary password"),
                ),
            ),
            Conversation(
                "typed account name (no signed-in user)",
                None,
                (
                    Step("hello -> asks which account", "hello", "Which account is it?"),
                    Step("account name -> blind app challenge", "bob", "authenticator app"),
                    Step("other -> blind text code", "other", "by text message"),
                    Step("right code -> temporary password", self.last_code, "temporary password"),
                ),
            ),
        )

    async def run(self, conversation: Conversation, meter: Meter, run: str) -> list[TurnCount]:
        self._chats += 1
        user = conversation.user or f"web-visitor-{run}-{self._chats}"
        agent = ResetAgent(
            self.runtime.runner,
            development_identity if conversation.user else (lambda activity: None),
        )
        reference = TestAdapter.create_conversation_model(
            user_id=user, conv_id=f"bench-{run}-{self._chats}"
        )
        adapter = TestAdapter(conversation=reference)
        counts: list[TurnCount] = []
        for step in conversation.steps:
            text = step.say if isinstance(step.say, str) else step.say()
            before = len(adapter.activity_queue)
            activity = Activity(
                type=ActivityTypes.message,
                text=text,
                locale="en-US",
                from_property=ChannelAccount(id=user),
            )
            await meter.begin()
            await adapter.process_activity(ClaimsIdentity({}), activity, agent.on_turn)
            await self.runtime.background.drain()  # background code deliveries: no Redis involved
            answer = "\n".join(reply.text or "" for reply in adapter.activity_queue[before:])
            session = record_key(f"session:{conversation_of(activity)}", meter.prefix)
            counts.append(await meter.end(step.kind, session))
            if step.expect not in answer:
                raise RuntimeError(
                    f"{conversation.name}: {step.kind}: expected {step.expect!r}, got "
                    f"{answer[:120]!r}"
                )
        return counts


# --- one run ----------------------------------------------------------------------------


@dataclass
class KeyKind:
    kind: str
    type: str
    count: int = 0  # keys of this kind the conversation wrote that are still there
    new: int = 0  # of those, keys the conversation created
    memory: int = 0
    ttl: float | None = None


@dataclass
class ConversationResult:
    name: str
    turns: list[TurnCount]
    left: list[KeyKind]  # keys the conversation created or wrote that are still there
    removed: list[str]  # kinds of keys it wrote and that were gone again by its end


@dataclass
class Report:
    passes: list[list[ConversationResult]]
    redis_version: str
    pipelines: list[str]


def pipelining_calls() -> list[str]:
    """Where state/redis_store.py would batch commands: pipeline() or transaction() calls."""
    source = Path(inspect.getfile(redis_store)).read_text(encoding="utf-8")
    return [
        f"line {node.lineno}: {node.func.attr}()"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("pipeline", "transaction")
    ]


async def converse(
    driver: Driver, meter: Meter, conversation: Conversation, run: str
) -> ConversationResult:
    before = await meter.keys()
    turns = await driver.run(conversation, meter, run)
    after = await meter.keys()
    written: set[str] = set().union(*(turn.written for turn in turns))
    kinds: dict[tuple[str, str], KeyKind] = {}
    for key in sorted((after - before) | (written & after)):
        type_, memory, ttl = await meter.describe(key)
        entry = kinds.setdefault((meter.kind(key), type_), KeyKind(meter.kind(key), type_))
        entry.count += 1
        entry.new += key not in before
        entry.memory += memory
        if ttl is not None and (entry.ttl is None or ttl > entry.ttl):
            entry.ttl = ttl
    removed = sorted({meter.kind(key) for key in written - after})
    return ConversationResult(conversation.name, turns, list(kinds.values()), removed)


async def measure(passes: int) -> Report:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with tempfile.TemporaryDirectory(prefix="sspr-redis-bench-") as folder:
        scratch = Path(folder)
        with production_redis(scratch / "redis") as server:
            return await measure_on(server, scratch / "data", passes)


async def measure_on(server: RedisServer, data_dir: Path, passes: int) -> Report:
    probe = redis.asyncio.Redis(host=HOST, port=server.port, decode_responses=True)
    feed = await MonitorFeed.open(server.port)
    runtime: Runtime | None = None
    try:
        info: dict[str, Any] = await command(probe, "INFO", "server")
        settings = Settings.model_validate(
            {
                "data_dir": str(data_dir),
                "state": {"backend": "redis", "url": server.url},
                "delivery": {"outbox": {"console": False}},
                "password": {"entry": "temporary"},  # the chat's reply ends each reset
            }
        )
        clock = FrozenClock(start=float(int(time.time())) // 30 * 30 + 1)
        runtime = await start_runtime(
            settings, secrets={"SSPR_REDIS_URL": server.url}, clock=clock, console=None
        )
        if not isinstance(runtime.store, RedisStore):
            raise RuntimeError(f"the bot runs on {type(runtime.store).__name__}, not Redis")
        meter = Meter(probe, feed, runtime.store.key_prefix)
        await meter.calibrate()
        driver = Driver(runtime, clock, data_dir)
        results: list[list[ConversationResult]] = []
        for number in range(1, passes + 1):
            results.append(
                [
                    await converse(driver, meter, conversation, f"p{number}")
                    for conversation in driver.conversations()
                ]
            )
            clock.advance(PASS_GAP)
        return Report(results, str(info["redis_version"]), pipelining_calls())
    finally:
        if runtime is not None:
            await runtime.close()
        await feed.close()
        await probe.aclose()


# --- output -----------------------------------------------------------------------------


def render(report: Report, out: TextIO) -> bool:
    """Print the tables; False when the server's counts disagree or the passes differ."""
    warm = report.passes[-1]
    if report.pipelines:
        print(f"state/redis_store.py batches commands: {', '.join(report.pipelines)}", file=out)
    else:
        print(
            "state/redis_store.py calls no pipeline() or transaction(): one command per "
            "round trip.\ntrips = reads the server made from the bot's connection; "
            "lua = commands run inside scripts (no round trip)",
            file=out,
        )
    header = (
        f"{'turn':<40} {'cmds':>4} {'trips':>5} {'target':>6} {'over':>4} {'lua':>4} "
        f"{'mem B':>6} {'hash B':>6} {'json B':>6}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for result in warm:
        trips = sum(turn.round_trips for turn in result.turns)
        print(
            f"{result.name}: {len(result.turns)} turns, {trips} round trips, "
            f"{trips / len(result.turns):.1f} per turn",
            file=out,
        )
        for turn in result.turns:
            size = turn.session
            sizes = (
                f"{size.memory:>6} {size.fields:>6} {size.json:>6}"
                if size
                else f"{'-':>6} {'-':>6} {'-':>6}"
            )
            print(
                f"  {turn.kind:<38} {len(turn.commands):>4} {turn.round_trips:>5} {TARGET:>6} "
                f"{turn.round_trips - TARGET:>+4} {turn.in_scripts:>4} "
                f"{sizes}{'' if turn.consistent() else ' !'}",
                file=out,
            )
    print(
        "mem B = MEMORY USAGE of the session hash after the turn; hash B = HSTRLEN of its "
        "fields v+e+x; json B = HSTRLEN v",
        file=out,
    )
    print("\ncommands per turn (store operation and key kind, in order; never a value):", file=out)
    for result in warm:
        print(f"{result.name}:", file=out)
        for turn in result.turns:
            print(f"  {turn.kind:<38} {' | '.join(turn.commands)}", file=out)
    agree = check_counts(report, out)
    stable = check_passes(report, out)
    print_keys(warm, out)
    stored = [t.session for r in warm for t in r.turns if t.session is not None]
    if stored:
        largest = max(stored, key=lambda size: size.json)
        print(
            f"\nlargest session: {largest.memory} B in Redis (MEMORY USAGE), JSON {largest.json} B"
            f" ({largest.compact} B without the spaces json.dumps puts after , and :)",
            file=out,
        )
    return agree and stable


def check_counts(report: Report, out: TextIO) -> bool:
    """MONITOR and INFO stats must tell the same story on every turn of every pass."""
    turns = [t for results in report.passes for r in results for t in r.turns]
    bad = [t for t in turns if not t.consistent()]
    if not bad:
        print(
            f"\nall {len(turns)} turns of {len(report.passes)} passes: INFO "
            "total_commands_processed = MONITOR lines (the bot's + its scripts'), "
            "total_reads_processed = the bot's commands, no new connection",
            file=out,
        )
    for turn in bad:
        print(
            f"\nCOUNTS DISAGREE on {turn.kind!r}: MONITOR {len(turn.commands)} commands + "
            f"{turn.in_scripts} in scripts; INFO {turn.counted}",
            file=out,
        )
    return not bad


def check_passes(report: Report, out: TextIO) -> bool:
    """Warm passes must agree turn by turn; the cold pass's extra commands are listed."""
    if len(report.passes) < 2:
        return True
    shapes = [[tuple(t.commands) for r in results for t in r.turns] for results in report.passes]
    stable = all(shape == shapes[-1] for shape in shapes[1:])
    verdict = "identical" if stable else "DIFFERENT"
    print(f"warm passes 2..{len(report.passes)}: commands per turn {verdict}", file=out)
    cold = [t for r in report.passes[0] for t in r.turns]
    last = [t for r in report.passes[-1] for t in r.turns]
    extra = [
        (c.kind, Counter(c.commands) - Counter(w.commands))
        for c, w in zip(cold, last, strict=True)
        if Counter(c.commands) != Counter(w.commands)
    ]
    total = sum(sum(diff.values()) for _, diff in extra)
    print(
        f"pass 1, fresh server: {total} more round trips (a script's first EVALSHA gets "
        "NOSCRIPT; the store sends SCRIPT LOAD, then the EVALSHA again)",
        file=out,
    )
    for kind, diff in extra:
        shown = ", ".join(f"{name} x {n}" for name, n in sorted(diff.items()))
        print(f"  {kind}: +{shown}", file=out)
    return stable


def print_keys(results: Sequence[ConversationResult], out: TextIO) -> None:
    print(
        "\nkeys each conversation wrote that are still there (prefix stripped, subject {…}):",
        file=out,
    )
    for result in results:
        total = sum(kind.memory for kind in result.left)
        count = sum(kind.count for kind in result.left)
        new = sum(kind.new for kind in result.left)
        print(f"  {result.name}: {count} keys ({new} new), {total} B (MEMORY USAGE)", file=out)
        for kind in sorted(result.left, key=lambda k: (-k.count, k.kind)):
            ttl = "no ttl" if kind.ttl is None else f"ttl {kind.ttl:.0f} s"
            print(
                f"    {kind.count:>2} x {kind.kind:<24} {kind.type:<5} {kind.new:>2} new "
                f"{kind.memory // kind.count:>5} B each  {ttl}",
                file=out,
            )
        if result.removed:
            print(f"    written, then removed again: {', '.join(result.removed)}", file=out)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--passes", type=positive, default=3, help="runs of every conversation (1st: cold)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the demo set-up's start-up warnings are known
    try:
        report = asyncio.run(measure(args.passes))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; redis-server stopped", file=sys.stderr)
        return 130
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(
        f"{stamp}  redis-server {report.redis_version} (appendonly yes)  "
        f"python {sys.version.split()[0]}  redis-py {metadata.version('redis')}  "
        f"passes={args.passes}"
    )
    return 0 if render(report, sys.stdout) else 1


if __name__ == "__main__":
    sys.exit(main())
