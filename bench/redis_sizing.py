"""Redis memory for a deployment's state at scale, measured the way an admin sizes a Redis.

A real redis-server (`production_redis.py`: the append-only file on) is filled with what the
bot keeps there for N enrolled people and S conversations in progress, in steps, and after
each step its own figures are read: `used_memory`, `used_memory_dataset`, the number of
keys and the process's resident size. Bytes per person and per conversation are deltas of
`used_memory` over the count added, so they include everything Redis spends on a key (the
dictionary entry, the expiry table, the allocator's rounding), which is what a `maxmemory`
has to hold. An "on paper" line sums `MEMORY USAGE` of every record written, to compare.
The steps are 10 %, 50 % and 100 % of the people, then the conversations on top.

What is written is the bot's own, from its own code on the Redis backend, built by the
tests' harness (`running_bot`) as `sspr-bot serve` builds it:

- a person is the method registry's record (`MethodRegistry`): an authenticator secret
  encrypted with the bot's `EncryptionKey` (the demo directory's, a Fernet key like any
  other: every token has the same length), three security questions with argon2id answer
  hashes (one hash made once and reused: the hash is what is stored, its length is real),
  and the email contact confirmed; under a UUID account id, as Entra ID names people. The
  first person is written by the registry itself (three updates, each a read and a
  conditional write). The store does not pipeline, and six round trips a person from one
  Python process write under a thousand people a second, so the others are written with
  redis-py pipelines in exactly the layout the store's `put` leaves for a new record without
  a TTL (a hash of `v`, the JSON as the store dumps it, and `e`, a random etag): the first
  person's value with a secret of its own, sealed by the registry. The run checks that a
  copied person's hash has the registry-written one's fields, field lengths, TTL (none) and
  MEMORY USAGE, and that the registry reads the last one back (methods, secret decrypted).
- a conversation is copied from a real one: alice, signed in, asks for a reset, picks
  email and types a wrong code, so her session waits for a code (mid-reset) and the turns
  left a failure count and an email send budget. Each copy is written through the real
  API, concurrent tasks in bounded batches: the same record written with
  `Conversations.write` (the bot's TTL, `session.kept_for`) under its own conversation id
  for its own person, and that person's counters taken with `store.take` as many times as
  alice's were.

The benchmark's own connection (not the store's pool) writes those pipelines and makes the
inspection (INFO, MEMORY USAGE of every key written, pipelined as well).

Usage: python -m bench.redis_sizing [--people N] [--sessions S]
"""

import argparse
import asyncio
import copy
import json
import logging
import os
import secrets
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pyotp
import pytest
import redis.asyncio

from adapters.directory import SecurityQuestion
from adapters.directory.answers import hash_answer
from bench.production_redis import PERSISTENCE, production_redis
from bot.conversations import bot_framework_conversation
from bot.conversations import record_key as conversation_key
from dialogs.registry import MethodRegistry
from dialogs.settings import LimitSettings, Window
from state import FrozenClock, RedisStore
from state.redis_store import counter_key, record_key
from tests.support.harness import ANSWERS, Bot, running_bot
from tests.support.ports import HOST
from tests.support.redis import RedisServer, redis_server_binary

BATCH = 128  # conversations written at once (the store's pool has 64 connections)
COPY_BATCH = 1000  # people per pipeline
STEPS = (0.1, 0.5, 1.0)  # fractions of N, then S conversations on top
INSPECT_BATCH = 1000  # MEMORY USAGE commands per pipeline of the benchmark's own
SETTLE_TIMEOUT = 60.0  # seconds to wait for an append-only file rewrite to finish
SETTLE_POLL = 0.2
MIB = 1 << 20
ALICE = "alice"  # the demo directory's user whose conversation is copied
# alice's questions from the tests' harness: realistic texts of realistic lengths.
QUESTIONS = tuple(ANSWERS[ALICE])[:3]
EXPECTED_METHODS = {"authenticator", "questions", "email"}


async def command(client: "redis.asyncio.Redis", *args: str | int | float) -> Any:
    """One command and its reply (redis-py leaves execute_command untyped)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


async def in_batches(count: int, start: int, write: Callable[[int], Awaitable[None]]) -> float:
    """`write(i)` for i in [start, start + count), BATCH at a time; the seconds it took."""
    began = time.perf_counter()
    for first in range(start, start + count, BATCH):
        last = min(first + BATCH, start + count)
        await asyncio.gather(*(write(i) for i in range(first, last)))
    return time.perf_counter() - began


# --- what the server says -----------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    used: int
    dataset: int
    rss: int
    keys: int


async def settled_memory(probe: "redis.asyncio.Redis") -> Memory:
    """INFO memory once no append-only file rewrite runs (a rewrite's fork and buffers are
    not the data's cost)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        persistence: dict[str, Any] = await command(probe, "INFO", "persistence")
        busy = int(persistence["aof_rewrite_in_progress"]) or int(
            persistence["aof_rewrite_scheduled"]
        )
        if not busy or time.monotonic() > deadline:
            break
        await asyncio.sleep(SETTLE_POLL)
    info: dict[str, Any] = await command(probe, "INFO", "memory")
    keys = int(await command(probe, "DBSIZE"))
    return Memory(
        int(info["used_memory"]),
        int(info["used_memory_dataset"]),
        int(info["used_memory_rss"]),
        keys,
    )


async def memory_usage(probe: "redis.asyncio.Redis", keys: Sequence[str]) -> list[int]:
    """MEMORY USAGE (SAMPLES 0: every field counted) of each key, pipelined."""
    sizes: list[int] = []
    for first in range(0, len(keys), INSPECT_BATCH):
        async with probe.pipeline(transaction=False) as pipe:
            for key in keys[first : first + INSPECT_BATCH]:
                pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
            replies = await pipe.execute()
        sizes.extend(int(reply or 0) for reply in replies)
    return sizes


async def server_line(probe: "redis.asyncio.Redis") -> str:
    server: dict[str, Any] = await command(probe, "INFO", "server")
    memory: dict[str, Any] = await command(probe, "INFO", "memory")
    settings: dict[str, Any] = await command(probe, "CONFIG", "GET", "maxmemory*")
    return (
        f"redis-server {server['redis_version']} ({PERSISTENCE}), "
        f"maxmemory {settings.get('maxmemory', '?')} "
        f"({settings.get('maxmemory-policy', '?')}), {memory['mem_allocator']}"
    )


# --- the model conversation ---------------------------------------------------------------


@dataclass(frozen=True)
class Counted:
    """One per-account counter the model conversation left: its kind, events and window."""

    kind: str
    events: int
    window: Window


@dataclass(frozen=True)
class Model:
    """The real mid-reset conversation the copies are made of."""

    conversation: str
    session: dict[str, Any]
    deliveries: tuple[str, ...]
    reference: dict[str, Any] | None
    account_id: str
    counters: tuple[Counted, ...]
    global_keys: tuple[str, ...]  # keys shared by every conversation (the phone budget)


def window_of(limits: LimitSettings, kind: str) -> Window:
    """The window a counter kind is taken with (dialogs/limits.py names them so)."""
    if kind == "fail":
        return limits.failures
    medium = kind.removeprefix("send-")
    if kind.startswith("send-") and isinstance(getattr(limits, medium, None), Window):
        window: Window = getattr(limits, medium)
        return window
    raise RuntimeError(f"a conversation left a counter of unknown kind: {kind}")


async def model_conversation(bot: Bot, probe: "redis.asyncio.Redis", prefix: str) -> Model:
    """alice: reset, email, a wrong code; the bot waits for the right one."""
    chat = bot.chat(ALICE)
    for said, expect in (("reset", "Hi Alice Wilber"), ("email", "I've emailed")):
        answer = await chat.text(said)
        if expect not in answer:
            raise RuntimeError(f"{said!r}: expected {expect!r}, got {answer[:120]!r}")
        await bot.runtime.background.drain()
    wrong = "000000" if bot.outbox.last_code() != "000000" else "000001"
    answer = await chat.text(wrong)
    if "isn't right" not in answer:
        raise RuntimeError(f"a wrong code: got {answer[:120]!r}")
    reference = chat.adapter.conversation
    conversation = bot_framework_conversation(
        str(reference.channel_id), str(reference.conversation.id), chat.user
    )
    record = await bot.runtime.conversations.read(conversation)
    session = record.session
    if record.etag is None or session is None or session.get("state") != "challenged":
        raise RuntimeError(f"the model conversation is not waiting for a code: {session}")
    account_id = str(session["account_id"])
    limits = bot.runtime.settings.dialog().limits
    counters: list[Counted] = []
    shared: list[str] = []
    async for key in probe.scan_iter(match=f"{prefix}*:events", count=1000):
        kind = key.removeprefix(prefix).split(":{", 1)[0]
        subject_key = f"{kind}:{account_id}"
        if key == counter_key(subject_key, prefix):
            events = int(await command(probe, "ZCARD", key))
            counters.append(Counted(kind, events, window_of(limits, kind)))
        else:
            shared.append(key.removeprefix(prefix))
    return Model(
        conversation,
        session,
        record.deliveries,
        dict(record.reference) if record.reference else None,
        account_id,
        tuple(sorted(counters, key=lambda counted: counted.kind)),
        tuple(sorted(shared)),
    )


# --- the population -----------------------------------------------------------------------


class Population:
    """Writes the people (the first through the registry, the others in its layout) and the
    conversations (through the bot's own code); remembers their keys."""

    def __init__(
        self,
        bot: Bot,
        model: Model,
        answer_hash: str,
        prefix: str,
        writer: "redis.asyncio.Redis",
    ) -> None:
        self._bot = bot
        self._writer = writer
        self._model = model
        self._registry: MethodRegistry = bot.runtime.registry
        self._store = bot.runtime.store
        self._prefix = prefix
        self._questions = [
            SecurityQuestion(f"q{number}", text, answer_hash)
            for number, text in enumerate(QUESTIONS, 1)
        ]
        self.people: list[str] = []  # account ids, in the order written

    def person(self, number: int) -> str:
        while len(self.people) <= number:
            self.people.append(str(uuid.uuid4()))
        return self.people[number]

    async def enrol(self) -> dict[str, Any]:
        """Person 0 through the registry's own writes; their record's value, the template."""
        account = self.person(0)
        await self._registry.add_authenticator(account, pyotp.random_base32())
        await self._registry.set_questions(account, self._questions)
        await self._registry.confirm(account, "email")
        record = await self._store.get(f"methods:{account}")
        if record is None:
            raise RuntimeError("the registry wrote no record")
        return record.value

    async def enrol_copies(self, template: dict[str, Any], start: int, count: int) -> float:
        """People [start, start + count) as the store's `put` of a new record without a TTL
        leaves them (HSET v, e), each with a secret of their own sealed by the registry;
        pipelined, COPY_BATCH at a time. The seconds it took."""
        began = time.perf_counter()
        for first in range(start, start + count, COPY_BATCH):
            async with self._writer.pipeline(transaction=False) as pipe:
                for number in range(first, min(first + COPY_BATCH, start + count)):
                    value = copy.deepcopy(template)
                    value["authenticator"]["sealed"] = self._registry.seal(pyotp.random_base32())
                    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
                    key = record_key(f"methods:{self.person(number)}", self._prefix)
                    pipe.hset(key, mapping={"v": text, "e": secrets.token_hex(16)})
                await pipe.execute()
        return time.perf_counter() - began

    async def same_layout(self, probe: "redis.asyncio.Redis") -> list[str]:
        """A copied person's hash against the registry's own: fields, lengths, TTL, bytes."""
        if len(self.people) < 2:
            return []
        shapes = []
        for account in (self.people[0], self.people[-1]):
            key = record_key(f"methods:{account}", self._prefix)
            fields = sorted(await command(probe, "HKEYS", key))
            lengths = [int(await command(probe, "HSTRLEN", key, name)) for name in fields]
            ttl = int(await command(probe, "PTTL", key))
            memory = int(await command(probe, "MEMORY", "USAGE", key, "SAMPLES", "0"))
            shapes.append((fields, lengths, ttl, memory))
        if shapes[0] != shapes[1]:
            return [f"a copied person differs from the registry's own: {shapes[1]} {shapes[0]}"]
        return []

    async def converse(self, number: int) -> None:
        """Conversation `number`, of person `number`: the model's record and counters."""
        model = self._model
        account = self.person(number)
        session = {
            name: account if value == model.account_id else value
            for name, value in model.session.items()
        }
        channel = model.conversation.split(":", 1)[0]
        conversation = bot_framework_conversation(channel, f"sizing-{number:07d}", account)
        record = await self._bot.runtime.conversations.read(conversation)
        await self._bot.runtime.conversations.write(
            replace(
                record,
                session=session,
                deliveries=model.deliveries,
                reference=model.reference,
            )
        )
        for counted in model.counters:
            for _ in range(counted.events):
                await self._store.take(
                    f"{counted.kind}:{account}",
                    limit=counted.window.count,
                    window=counted.window.window,
                )

    def person_keys(self, count: int) -> list[str]:
        return [record_key(f"methods:{account}", self._prefix) for account in self.people[:count]]

    def conversation_keys(self, count: int) -> tuple[list[str], list[str]]:
        """(session record keys, counter keys) of the first `count` conversations."""
        channel = self._model.conversation.split(":", 1)[0]
        sessions = [
            record_key(
                conversation_key(
                    bot_framework_conversation(channel, f"sizing-{n:07d}", self.people[n])
                ),
                self._prefix,
            )
            for n in range(count)
        ]
        counters = [
            counter_key(f"{counted.kind}:{self.people[n]}", self._prefix)
            for n in range(count)
            for counted in self._model.counters
        ]
        return sessions, counters

    async def check(self, people: int, sessions: int) -> list[str]:
        """What reads back wrong through the bot's own code (the last person and session)."""
        problems: list[str] = []
        if people:
            account = self.people[people - 1]
            registered = await self._registry.read(account)
            if registered.names() != EXPECTED_METHODS:
                problems.append(f"a person reads back with {sorted(registered.names())}")
            if await self._registry.authenticator_secret(account) is None:
                problems.append("a person's authenticator secret does not decrypt")
        if sessions:
            channel = self._model.conversation.split(":", 1)[0]
            number = sessions - 1
            conversation = bot_framework_conversation(
                channel, f"sizing-{number:07d}", self.people[number]
            )
            record = await self._bot.runtime.conversations.read(conversation)
            if record.session is None or record.session.get("state") != "challenged":
                problems.append("a conversation copy reads back without its session")
        return problems


# --- one run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    people: int
    sessions: int
    memory: Memory
    seconds: float  # writing this step


@dataclass(frozen=True)
class Paper:
    """MEMORY USAGE summed over the keys of one kind of thing."""

    label: str
    keys: int
    total: int
    smallest: int
    largest: int


@dataclass
class Report:
    server: str
    model: Model
    rows: list[Row]
    papers: list[Paper]
    json_sizes: dict[str, int]
    problems: list[str]


def paper(label: str, sizes: Sequence[int]) -> Paper:
    return Paper(label, len(sizes), sum(sizes), min(sizes, default=0), max(sizes, default=0))


async def measure(people: int, sessions: int) -> Report:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with tempfile.TemporaryDirectory(prefix="sspr-redis-sizing-") as folder:
        scratch = Path(folder)
        with production_redis(scratch / "redis") as server:
            return await measure_on(server, scratch / "data", people, sessions)


async def measure_on(server: RedisServer, data_dir: Path, people: int, sessions: int) -> Report:
    probe = redis.asyncio.Redis(host=HOST, port=server.port, decode_responses=True)
    environ = {"SSPR_REDIS_URL": server.url}
    clock = FrozenClock(start=float(int(time.time())))
    try:
        async with running_bot(
            data_dir,
            clock,
            environ,
            state={"backend": "redis", "url": server.url},
            delivery={"outbox": {"console": False}},
        ) as bot:
            store = bot.runtime.store
            if not isinstance(store, RedisStore):
                raise RuntimeError(f"the bot runs on {type(store).__name__}, not Redis")
            model = await model_conversation(bot, probe, store.key_prefix)
            answer_hash = await asyncio.to_thread(hash_answer, ANSWERS[ALICE][QUESTIONS[0]])
            population = Population(bot, model, answer_hash, store.key_prefix, probe)
            # Every connection of the store's pool open before the start: clients cost memory.
            await asyncio.gather(*(store.ping() for _ in range(BATCH)))
            rows = [Row("start: one real conversation", 0, 0, await settled_memory(probe), 0.0)]
            began = time.perf_counter()
            template = await population.enrol()
            written = 1
            seconds = time.perf_counter() - began
            for fraction in STEPS:
                target = max(round(people * fraction), 1)
                seconds += await population.enrol_copies(template, written, target - written)
                written = target
                memory = await settled_memory(probe)
                rows.append(Row(f"{fraction:.0%} of people", written, 0, memory, seconds))
                seconds = 0.0
            seconds = await in_batches(sessions, 0, population.converse)
            memory = await settled_memory(probe)
            rows.append(Row(f"+ {sessions} conversations", written, sessions, memory, seconds))
            problems = await population.check(written, sessions)
            problems += await population.same_layout(probe)
            session_keys, counter_keys = population.conversation_keys(sessions)
            person_keys = population.person_keys(written)
            papers = [
                paper("methods record", await memory_usage(probe, person_keys)),
                paper("session record", await memory_usage(probe, session_keys)),
                paper("counters", await memory_usage(probe, counter_keys)),
            ]
            json_sizes = {
                "methods": int(await command(probe, "HSTRLEN", person_keys[0], "v"))
                if person_keys
                else 0,
                "session": int(await command(probe, "HSTRLEN", session_keys[0], "v"))
                if session_keys
                else 0,
            }
            return Report(await server_line(probe), model, rows, papers, json_sizes, problems)
    finally:
        await probe.aclose()


# --- output -------------------------------------------------------------------------------


def mib(value: int) -> str:
    return f"{value / MIB:.1f}"


def render(report: Report) -> None:
    print(report.server)
    model = report.model
    counted = ", ".join(f"{c.kind} x {c.events}" for c in model.counters) or "none"
    print(
        f"a conversation: alice's, mid-reset (state {model.session.get('state')}), "
        f"counters per account: {counted}; shared by all: {', '.join(model.global_keys) or 'none'}"
    )
    header = (
        f"{'step':<30} {'people':>7} {'sessions':>8} {'keys':>7} {'used MiB':>8} "
        f"{'data MiB':>8} {'rss MiB':>7} {'B/person':>8} {'B/session':>9} {'write s':>7} "
        f"{'rec/s':>6}"
    )
    print(header)
    print("-" * len(header))
    start = report.rows[0].memory
    people_done: Row | None = None
    for row in report.rows:
        per_person = per_session = "-"
        added = 0
        if row.sessions == 0 and row.people:
            per_person = f"{(row.memory.used - start.used) / row.people:.0f}"
            previous = people_done.people if people_done else 0
            added = row.people - previous
            people_done = row
        elif row.sessions and people_done is not None:
            per_session = f"{(row.memory.used - people_done.memory.used) / row.sessions:.0f}"
            added = row.sessions
        rate = f"{added / row.seconds:.0f}" if row.seconds > 0 else "-"
        print(
            f"{row.name:<30} {row.people:>7} {row.sessions:>8} {row.memory.keys:>7} "
            f"{mib(row.memory.used):>8} {mib(row.memory.dataset):>8} {mib(row.memory.rss):>7} "
            f"{per_person:>8} {per_session:>9} {row.seconds:>7.1f} {rate:>6}"
        )
    print(
        "B/person, B/session: the step's used_memory minus that before the people (the "
        "conversations), over the count; rss: used_memory_rss"
    )
    final = report.rows[-1]
    by_label = {each.label: each for each in report.papers}
    people = by_label["methods record"]
    if people.keys and people_done is not None:
        measured = people_done.memory.used - start.used
        print(
            f"on paper, people: MEMORY USAGE of every methods record, {people.smallest}.."
            f"{people.largest} B, mean {people.total / people.keys:.0f} B x {people.keys} = "
            f"{mib(people.total)} MiB; measured used_memory delta {mib(measured)} MiB "
            f"({measured / people.total:.2f} x); JSON value {report.json_sizes['methods']} B"
        )
    sessions = by_label["session record"]
    counters = by_label["counters"]
    if sessions.keys and people_done is not None:
        total = sessions.total + counters.total
        measured = final.memory.used - people_done.memory.used
        print(
            f"on paper, conversations: session record mean {sessions.total / sessions.keys:.0f} B"
            f" + counters {counters.total / sessions.keys:.0f} B ({counters.keys // sessions.keys}"
            f" zsets) = {total / sessions.keys:.0f} B x {sessions.keys} = {mib(total)} MiB; "
            f"measured used_memory delta {mib(measured)} MiB ({measured / total:.2f} x); "
            f"JSON value {report.json_sizes['session']} B"
        )
    for problem in report.problems:
        print(f"READ BACK WRONG: {problem}")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--people", type=positive, default=100_000, help="enrolled people")
    parser.add_argument(
        "--sessions", type=positive, default=10_000, help="conversations in progress"
    )
    args = parser.parse_args(argv)
    if args.sessions > args.people:
        parser.error("every conversation is one enrolled person's: --sessions <= --people")
    try:
        redis_server_binary()
    except pytest.fail.Exception as missing:  # the test suite's helper fails with the package
        print(missing.msg, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR)  # the demo set-up's start-up warnings are known
    began = time.perf_counter()
    try:
        report = asyncio.run(measure(args.people, args.sessions))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; redis-server stopped", file=sys.stderr)
        return 130
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(
        f"{stamp}  nproc={len(os.sched_getaffinity(0))}  python {sys.version.split()[0]}  "
        f"redis-py {metadata.version('redis')}  people={args.people} sessions={args.sessions}"
        f"  wall {time.perf_counter() - began:.0f} s"
    )
    render(report)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
