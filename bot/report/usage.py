"""The usage report's numbers, counted from audit events (one JSON object a line, as the
trail records them) and nothing else: no channel, no web framework, no store.

A conversation is the events that share a `correlation_id` and that include its
`reset.started` within the period. It succeeded when it reached `password.reset` or
`account.unlocked`; every other one dropped out at its last step, the name of its last
event that is a step of the conversation (notices and ticket updates that follow a step are
not). So `succeeded` plus the drop-outs is always `started`. Resets, unlocks, lockouts,
hand-offs and methods count events of the period, whichever conversation they belong to.
"""

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dialogs.durations import parse_duration

STARTED = "reset.started"
RESET = "password.reset"
UNLOCKED = "account.unlocked"
PASSED = "challenge.passed"
LOCKED = "reset.locked"
ESCALATED = "reset.escalated"
_FINISHED = frozenset({RESET, UNLOCKED})
# Events recorded after a step, about it: they are never where someone stopped.
_AFTERMATH = ("notice.", "ticket.")


@dataclass(frozen=True)
class Day:
    day: date
    resets: int
    unlocks: int


@dataclass(frozen=True)
class Usage:
    since: datetime
    until: datetime
    days: tuple[Day, ...]
    started: int
    succeeded: int
    dropouts: tuple[tuple[str, int], ...]
    """(last step, conversations), most first."""
    methods: tuple[tuple[str, int], ...]
    """(method, challenges passed), most first."""
    lockouts: int
    locked_accounts: int
    handoff_reasons: tuple[tuple[str, int], ...]
    """(reason, hand-offs), most first."""
    cost_per_ticket: float
    currency: str

    @property
    def resets(self) -> int:
        return sum(day.resets for day in self.days)

    @property
    def unlocks(self) -> int:
        return sum(day.unlocks for day in self.days)

    @property
    def handoffs(self) -> int:
        return sum(count for _, count in self.handoff_reasons)

    @property
    def tickets_saved(self) -> int:
        """Each reset or unlock someone did themselves is a ticket the helpdesk did not get."""
        return self.resets + self.unlocks

    @property
    def amount_saved(self) -> float:
        return round(self.tickets_saved * self.cost_per_ticket, 2)

    @property
    def success_rate(self) -> float | None:
        """Succeeded over started; None when nobody started."""
        return self.succeeded / self.started if self.started else None


@dataclass
class _Conversation:
    started: bool = False
    finished: bool = False
    last_step: str = ""


@dataclass
class _Tally:
    resets: Counter[date] = field(default_factory=Counter)
    unlocks: Counter[date] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    lockouts: int = 0
    locked: set[str] = field(default_factory=set)
    conversations: dict[str, _Conversation] = field(default_factory=dict)

    def add(self, name: str, event: dict[str, Any], day: date) -> None:
        if name == RESET:
            self.resets[day] += 1
        elif name == UNLOCKED:
            self.unlocks[day] += 1
        elif name == PASSED:
            self.methods[str(event.get("method") or "unknown")] += 1
        elif name == ESCALATED:
            self.reasons[str(event.get("reason") or "unknown")] += 1
        elif name == LOCKED:
            self.lockouts += 1
            if event.get("account"):
                self.locked.add(str(event["account"]))
        self._follow(name, event)

    def _follow(self, name: str, event: dict[str, Any]) -> None:
        correlation = event.get("correlation_id")
        if not isinstance(correlation, str) or name.startswith(_AFTERMATH):
            return
        conversation = self.conversations.setdefault(correlation, _Conversation())
        conversation.started |= name == STARTED
        conversation.finished |= name in _FINISHED
        conversation.last_step = name


def count_usage(
    lines: Iterable[str],
    *,
    since: datetime,
    until: datetime,
    cost_per_ticket: float = 0.0,
    currency: str = "USD",
) -> Usage:
    """The report over the events of `lines` recorded from `since` to `until` (aware
    datetimes), in the order given (the trail's); lines that are not events are skipped."""
    tally = _Tally()
    for line in lines:
        found = _event(line)
        if found is None:
            continue
        name, event, at = found
        if since <= at <= until:
            tally.add(name, event, at.astimezone(UTC).date())
    started = [c for c in tally.conversations.values() if c.started]
    dropped = Counter(c.last_step for c in started if not c.finished)
    return Usage(
        since=since,
        until=until,
        days=_days(since, until, tally),
        started=len(started),
        succeeded=sum(c.finished for c in started),
        dropouts=_most_first(dropped),
        methods=_most_first(tally.methods),
        lockouts=tally.lockouts,
        locked_accounts=len(tally.locked),
        handoff_reasons=_most_first(tally.reasons),
        cost_per_ticket=cost_per_ticket,
        currency=currency,
    )


def window_start(text: str, now: datetime) -> datetime:
    """Where a period given as `30d`, `12h`, `90m` (before `now`) or as a date or time
    (`2024-05-01`, ISO 8601, UTC when it names no zone) begins; ValueError otherwise."""
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (30d, 12h, 90m) nor a date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _event(line: str) -> tuple[str, dict[str, Any], datetime] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return None
    try:
        at = datetime.fromisoformat(str(event.get("at")))
    except ValueError:
        return None
    return event["event"], event, at if at.tzinfo else at.replace(tzinfo=UTC)


def _days(since: datetime, until: datetime, tally: _Tally) -> tuple[Day, ...]:
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    span = range((last - first).days + 1)
    days = (first + timedelta(days=offset) for offset in span)
    return tuple(Day(day, tally.resets[day], tally.unlocks[day]) for day in days)


def _most_first(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
