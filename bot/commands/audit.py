"""`sspr-bot audit tail` and `audit search`: the audit trail as the helpdesk and auditors
read it, from where the bot writes it: the Redis stream every instance shares when Redis is
the store (and the stream is a configured sink), else the JSON-lines file.

`search --user` takes what a person calling the helpdesk can say: an account id, a
username or an email (resolved through the directory to the account's id), or a requester
id from the trail itself (a chat user id, a client address). Text output is one readable
line per event; `--json` prints each event as the one JSON object it was recorded as.
Reading changes nothing and is not itself audited.
"""

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.commands.configured import configured_settings
from bot.commands.errors import OperatorError

if TYPE_CHECKING:
    from bot.settings import Settings

# The fields every event may carry, shown first and in this order; the rest follow by name.
_LEADING = ("outcome", "account", "requester", "channel", "method", "correlation_id")


class TrailReader(Protocol):
    async def last(self, count: int) -> list[str]: ...

    def since(self, at: float | None) -> AsyncIterator[str]: ...

    def follow(self) -> AsyncIterator[str]: ...


def tail_audit(args: argparse.Namespace) -> int:
    settings = configured_settings(args, interactive=True)
    asyncio.run(_tail(settings, count=args.lines, follow=args.follow, as_json=args.json))
    return 0


def search_audit(args: argparse.Namespace) -> int:
    settings = configured_settings(args, interactive=True)
    since = None if args.since is None else _since(args.since)
    found = asyncio.run(_search(settings, args.user, since, as_json=args.json))
    return 0 if found else 1


async def _tail(settings: "Settings", *, count: int, follow: bool, as_json: bool) -> None:
    async with _reading(settings) as reader:
        for line in await reader.last(count):
            _show(line, as_json=as_json)
        if follow:
            async for line in reader.follow():
                _show(line, as_json=as_json)


async def _search(settings: "Settings", user: str, since: float | None, *, as_json: bool) -> int:
    names = await _names_of(settings, user)
    found = 0
    async with _reading(settings) as reader:
        async for line in reader.since(since):
            event = _event(line)
            if event is not None and _concerns(event, names):
                found += 1
                _show(line, as_json=as_json)
    return found


async def _names_of(settings: "Settings", user: str) -> frozenset[str]:
    """What `user` may appear as in the trail: as given (a requester id, or an account id)
    and, when the directory knows it, as the account's id."""
    from adapters.directory import DirectoryUnavailable
    from bot.runtime import open_directory
    from bot.secrets import Secrets

    try:
        directory = await open_directory(settings, Secrets.from_environment())
    except DirectoryUnavailable as error:
        print(
            f"sspr-bot audit: directory not asked ({error}); matching {user!r} as given",
            file=sys.stderr,
        )
        return frozenset({user})
    try:
        account = await directory.find(user)
    except DirectoryUnavailable as error:
        print(
            f"sspr-bot audit: directory not asked ({error}); matching {user!r} as given",
            file=sys.stderr,
        )
        account = None
    finally:
        await directory.close()
    return frozenset({user} if account is None else {user, account.id})


def _concerns(event: dict[str, Any], names: frozenset[str]) -> bool:
    return event.get("account") in names or event.get("requester") in names


@asynccontextmanager
async def _reading(settings: "Settings") -> AsyncIterator[TrailReader]:
    """The configured trail's reader, open for the block; a Redis failure while reading
    is an operator's problem, said in one line."""
    from adapters.audit import JsonlReader
    from bot.audit_streams import configured_stream
    from bot.secrets import Secrets
    from state.redis_clients import ERRORS

    section = settings.audit
    if "stream" not in section.sinks or settings.state.backend != "redis":
        if "file" not in section.sinks:
            raise OperatorError(
                "audit: the trail goes to stdout only (audit.sinks); read it where your log "
                "collector keeps it"
            )
        yield JsonlReader(settings.local_path(section.path))
        return
    stream = configured_stream(settings, Secrets.from_environment())
    try:
        yield stream
    except ERRORS as error:
        raise OperatorError(
            f"audit: cannot read the stream {section.stream}: {type(error).__name__}: {error}"
        ) from None
    finally:
        await stream.close()


def _since(text: str) -> float:
    """`7d`, `12h`, `30m`, `90s` ago, or a date or time (`2024-05-01`, ISO 8601, UTC when
    it names no zone), as epoch seconds."""
    from dialogs.durations import parse_duration

    try:
        return datetime.now(UTC).timestamp() - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise OperatorError(
            f"audit search: --since {text!r} is neither a duration (7d, 12h, 30m) nor a date"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _event(line: str) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _show(line: str, *, as_json: bool) -> None:
    if as_json:
        print(line, flush=True)
        return
    event = _event(line)
    print(line if event is None else readable(event), flush=True)


def readable(event: dict[str, Any]) -> str:
    """One event on one line: when, what, then its fields as `name=value` (those every
    event may carry first), leaving out the empty ones."""
    at, name = str(event.get("at", "?")), str(event.get("event", "?"))
    rest = [key for key in sorted(event) if key not in ("at", "event", *_LEADING)]
    pairs = _pairs(event, [*(key for key in _LEADING if key in event), *rest])
    return f"{at}  {name:<28} {' '.join(pairs)}".rstrip()


def _pairs(event: dict[str, Any], keys: Iterable[str]) -> list[str]:
    shown = []
    for key in keys:
        value = event[key]
        if value is None or value == "":
            continue
        text = json.dumps(value) if not isinstance(value, str) or " " in value else value
        shown.append(f"{key}={text}")
    return shown
