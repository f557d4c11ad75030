"""The shared Store: Redis, so several bot instances keep one truth.

Every guarantee of the embedded store holds across instances because every
check-then-write is one Lua script, and Redis runs a script as one step: a conditional
`put` or `delete` compares the etag and writes in the same script, and `take` prunes,
counts and records an event in the same script. Plain reads (`get`, `count`) are one
command each. A turn therefore costs one round trip to read its session and one to write
it back.

Layout. A record is one hash (`v` the JSON value, `e` its etag, `x` its expiry on the
store's clock); a counter is one sorted set of events (score: the time of the event,
member: a random token, so events at the same instant stay distinct). The contract key
`kind:subject` becomes `<prefix><kind>:{<subject>}` for a record and
`<prefix><kind>:{<subject>}:events` for a counter, where `{...}` is a Redis Cluster hash
tag: every key of one subject (`fail:acct-1`, `lock:acct-1`, `totp:acct-1`) lands in one
hash slot. `{`, `}` and `%` are percent-encoded in kind and subject, so the mapping is
injective and the tag is always the whole subject; an empty subject is written `{%}`, which
escaping never produces, so it still has a tag. A key without a colon is all subject:
`<prefix>{<key>}`. Every script touches exactly one key, so the same code runs unchanged
on Redis Cluster (with a cluster client), and a future script that touches several keys
of one subject stays in one slot.

Expiry. A record expires on the store's clock (the contract's tests freeze it): its
`expires_at` is stored with it, passed-in `now` is compared with it (expired when
`now >= expires_at`, like the other backends), and an expired record reads as absent. Redis
is also given a real TTL (the record's ttl plus a margin) so it frees the memory itself;
a counter's TTL is raised on every event taken to that event's window plus the margin, and
never lowered, so each event outlives its window and a counter nobody takes from any more is
gone a margin after its last event left its window.

Failures. Redis-py's own retries are off: a write whose reply was lost (a timeout, a
dropped connection) must not run twice, since a second `take` would count twice and a
second conditional `put` would fail on its own etag. Every error from Redis or the
network becomes StoreUnavailable, whose message names the server (host, port, database)
but never a password. A connection broken by a Redis restart is noticed when it is taken
from the pool and replaced, so the first command after a restart succeeds.

Deployments. The same store runs on one server, on Redis Cluster and on a primary that
Sentinel names (`mode`); state/redis_clients.py builds the client for each. In a cluster
each command and script goes to the primary that owns its key's slot, `ping` asks every
primary, and the persistence warning names each primary that has none.
"""

import math
from collections.abc import Awaitable
from typing import Any, Self, TypeVar, Unpack

from state import codec
from state.base import EtagMismatch, Record, StoreUnavailable
from state.clock import Clock
from state.lua import LuaScript
from state.redis_clients import (
    ERRORS,
    ConnectionOptions,
    Mode,
    Persistence,
    RedisClient,
    connect,
    describe_error,
)
from state.tokens import UniqueTokens

T = TypeVar("T")

DEFAULT_PREFIX = "sspr:"

# Redis drops a key this long after its logical expiry, never before: the logical expiry
# (on the store's clock) decides what is live, the real TTL only frees the memory.
_TTL_MARGIN_MS = 1000

_ESCAPES = str.maketrans({"%": "%25", "{": "%7B", "}": "%7D"})

_PUT = LuaScript("""
-- KEYS[1] record hash. ARGV: condition ('any' | 'match' | 'absent'), expected etag, now,
-- value, new etag, expires_at ('' = never), real TTL in ms.
if ARGV[1] ~= 'any' then
    local current = redis.call('HMGET', KEYS[1], 'e', 'x')
    local etag = current[1]
    if etag and current[2] and tonumber(current[2]) <= tonumber(ARGV[3]) then
        etag = false
    end
    if ARGV[1] == 'match' then
        if etag ~= ARGV[2] then return 0 end
    elseif etag then
        return 0
    end
end
if ARGV[6] == '' then
    redis.call('HSET', KEYS[1], 'v', ARGV[4], 'e', ARGV[5])
    redis.call('HDEL', KEYS[1], 'x')
    redis.call('PERSIST', KEYS[1])
else
    redis.call('HSET', KEYS[1], 'v', ARGV[4], 'e', ARGV[5], 'x', ARGV[6])
    redis.call('PEXPIRE', KEYS[1], ARGV[7])
end
return 1
""")

_DELETE = LuaScript("""
-- KEYS[1] record hash. ARGV: conditional ('1' | '0'), expected etag, now.
-- Returns 1 (a live record removed), 0 (none was live), -1 (etag mismatch).
local current = redis.call('HMGET', KEYS[1], 'e', 'x')
local etag = current[1]
if etag and current[2] and tonumber(current[2]) <= tonumber(ARGV[3]) then
    etag = false
end
if ARGV[1] == '1' and etag ~= ARGV[2] then return -1 end
redis.call('DEL', KEYS[1])
if etag then return 1 end
return 0
""")

_TAKE = LuaScript("""
-- KEYS[1] events sorted set. ARGV: horizon (events at or before it have left the window),
-- limit, now, a unique member, real TTL in ms (PTTL is -1 for a key without one).
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return 1
""")


def record_key(key: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The Redis key of the record stored under the contract key `key`."""
    kind, colon, subject = key.partition(":")
    if not colon:
        return f"{prefix}{_tag(key)}"
    return f"{prefix}{kind.translate(_ESCAPES)}:{_tag(subject)}"


def counter_key(key: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The Redis key of the counter kept under the contract key `key` (same slot as the record)."""
    return record_key(key, prefix) + ":events"


def _tag(subject: str) -> str:
    return "{" + (subject.translate(_ESCAPES) or "%") + "}"


class RedisStore:
    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        key_prefix: str = DEFAULT_PREFIX,
        **connection: Unpack[ConnectionOptions],
    ) -> None:
        """One client and its connections, connected lazily; use `open` to fail fast at
        start-up. `url` and `connection` say how to reach Redis, as for
        `state.redis_clients.connect` (the deployment mode, credentials, TLS, timeout)."""
        if "{" in key_prefix or "}" in key_prefix:
            raise ValueError("the Redis key prefix must not contain { or }")
        self._client: RedisClient = connect(url, **connection)
        self._clock = clock
        self._prefix = key_prefix
        self._tokens = UniqueTokens()
        self._closed = False

    @classmethod
    async def open(
        cls,
        url: str,
        clock: Clock,
        *,
        key_prefix: str = DEFAULT_PREFIX,
        **connection: Unpack[ConnectionOptions],
    ) -> Self:
        """A store whose servers have answered a PING, or StoreUnavailable."""
        store = cls(url, clock, key_prefix=key_prefix, **connection)
        try:
            await store.ping()
        except BaseException:
            await store.close()
            raise
        return store

    @property
    def key_prefix(self) -> str:
        return self._prefix

    async def get(self, key: str) -> Record | None:
        now = self._clock.now()
        value, etag, expires_at = await self._call(
            self._client.execute("HMGET", record_key(key, self._prefix), "v", "e", "x")
        )
        if value is None or etag is None:
            return None
        if expires_at is not None and float(expires_at) <= now:
            return None
        return Record(value=codec.loads(value), etag=_text(etag))

    async def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        ttl: float | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        if if_match is not None and if_none_match:
            raise ValueError("if_match and if_none_match exclude each other")
        if ttl is not None and not math.isfinite(ttl):
            raise ValueError("ttl must be a finite number of seconds")
        text = codec.dumps(value)
        now = self._clock.now()
        etag = self._tokens.next()
        condition = "match" if if_match is not None else "absent" if if_none_match else "any"
        expires_at = "" if ttl is None else repr(now + ttl)
        real_ttl = 0 if ttl is None else _milliseconds(ttl)
        written = await self._call(
            self._client.evalsha(
                _PUT,
                [record_key(key, self._prefix)],
                [condition, if_match or "", repr(now), text, etag, expires_at, real_ttl],
            )
        )
        if not written:
            raise EtagMismatch(key)
        return etag

    async def delete(self, key: str, *, if_match: str | None = None) -> bool:
        outcome = await self._call(
            self._client.evalsha(
                _DELETE,
                [record_key(key, self._prefix)],
                ["0" if if_match is None else "1", if_match or "", repr(self._clock.now())],
            )
        )
        if outcome < 0:
            raise EtagMismatch(key)
        return bool(outcome)

    async def take(self, key: str, *, limit: int, window: float) -> bool:
        now = self._clock.now()
        taken = await self._call(
            self._client.evalsha(
                _TAKE,
                [counter_key(key, self._prefix)],
                [repr(now - window), limit, repr(now), self._tokens.next(), _milliseconds(window)],
            )
        )
        return bool(taken)

    async def count(self, key: str, *, window: float) -> int:
        horizon = self._clock.now() - window
        events = await self._call(
            self._client.execute("ZCOUNT", counter_key(key, self._prefix), f"({horizon!r}", "+inf")
        )
        return int(events)

    async def give_back(self, key: str) -> None:
        await self._call(self._client.execute("ZPOPMAX", counter_key(key, self._prefix)))

    async def clear(self, *keys: str) -> None:
        if keys:
            await self._call(self._client.delete(*(counter_key(key, self._prefix) for key in keys)))

    @property
    def mode(self) -> Mode:
        return self._client.mode

    async def ping(self) -> None:
        """Return when every server that holds data answers (each primary of a cluster)."""
        await self._call(self._client.ping())

    async def persistence_warning(self) -> str | None:
        """A sentence for the start-up log when this Redis forgets everything on restart.

        Decided by `CONFIG GET appendonly` and `CONFIG GET save` on every server that holds
        data (the server, the primary Sentinel names, or each cluster primary): neither an
        append-only file nor snapshots means a restart loses every session, code, lockout
        and enrolment; the sentence names each such server. None when all have either, and
        None for a server that refuses CONFIG (managed services disable it): `INFO
        persistence` would tell whether the append-only file is on, but not whether
        snapshots are scheduled, so without CONFIG persistence can be confirmed but never
        ruled out, and a warning would be a guess. StoreUnavailable when Redis does not
        answer at all.
        """
        servers = await self._call(self._client.persistence())
        forgetful = [each.server for each in servers if _forgets_everything(each)]
        if not forgetful:
            return None
        if self.mode == "cluster":
            subject = f"{self._client.where}: {', '.join(forgetful)}"
        else:
            subject = forgetful[0]
        verb = "has" if len(forgetful) == 1 else "have"
        return (
            f"{subject} {verb} neither an append-only file nor snapshots, so a Redis restart "
            "loses every conversation, code, lockout and enrolment: turn on "
            "`appendonly yes` there."
        )

    async def close(self) -> None:
        """Disconnect every connection; later calls raise StoreUnavailable."""
        if self._closed:
            return
        self._closed = True
        await self._client.aclose()

    async def _call(self, command: Awaitable[T]) -> T:
        try:
            if self._closed:
                raise StoreUnavailable(f"the Redis store for {self._client.where} is closed")
            return await command
        except ERRORS as exc:
            raise StoreUnavailable(self._unavailable(exc)) from exc
        finally:
            _discard(command)  # when it never ran; closing a finished coroutine does nothing

    def _unavailable(self, exc: BaseException) -> str:
        detail = describe_error(exc)
        if self._client.secret:
            detail = detail.replace(self._client.secret, "***")
        return f"{self._client.where} unavailable: {detail}"


def _milliseconds(seconds: float) -> int:
    """The real TTL Redis is given for something that lives `seconds` on the store's clock."""
    return math.ceil(seconds * 1000) + _TTL_MARGIN_MS


def _forgets_everything(server: Persistence) -> bool:
    """True when the server reported both settings and neither keeps data across restarts."""
    if server.appendonly is None or server.save is None:
        return False
    return server.appendonly.strip().lower() != "yes" and not server.save.strip()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _discard(command: Awaitable[Any]) -> None:
    """Close a coroutine that will never be awaited, so it leaves no warning behind."""
    close = getattr(command, "close", None)
    if close is not None:
        close()
