"""The audit trail counted for Prometheus: an observer of each event as it is written.

Every step the bot takes is already an audit event with its outcome, written in one place
(`AuditTrail`), so counting there needs nothing of the dialogs and counts only what was
stored: a turn that lost a race wrote no event and counts nothing. Label values come from
the events' own fields, which the bot's code names (events, outcomes, methods, providers),
never from what a person typed, so the series stay few.
"""

from collections.abc import Callable, Mapping
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter

# What a failed send's provider reads as: only a receipt names the carrier that took it.
UNKNOWN_PROVIDER: Final = "unknown"


def _label(value: Any) -> str:
    return "none" if value is None or value == "" else str(value)


class AuditCounters:
    """An AuditObserver whose events become counters on `registry` (the runtime's own)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "sspr_audit_events",
            "Audit events written, by event name and outcome.",
            ["event", "outcome"],
            registry=registry,
        )
        self.resets = Counter(
            "sspr_resets",
            "Password changes: done, or refused by the directory's own policy.",
            ["outcome"],
            registry=registry,
        )
        self.unlocks = Counter(
            "sspr_unlocks",
            "Accounts unlocked, keeping their password.",
            ["outcome"],
            registry=registry,
        )
        self.verifications = Counter(
            "sspr_verifications",
            "Identity checks answered, by method and outcome (passed, failed).",
            ["method", "outcome"],
            registry=registry,
        )
        self.lockouts = Counter(
            "sspr_lockouts",
            "Conversations locked: by their own failures (locked) or by a lock already set "
            "(already_locked).",
            ["kind"],
            registry=registry,
        )
        self.sends = Counter(
            "sspr_sends",
            "Codes and notices handed to a carrier, by kind, medium, provider and result.",
            ["kind", "medium", "provider", "result"],
            registry=registry,
        )
        self._counted: Mapping[str, Callable[[Mapping[str, Any]], None]] = {
            "password.reset": lambda _: self.resets.labels("done").inc(),
            "password.refused_by_directory": lambda _: self.resets.labels("refused").inc(),
            "account.unlocked": lambda _: self.unlocks.labels("done").inc(),
            "challenge.passed": lambda event: self._verification(event, "passed"),
            "challenge.failed": lambda event: self._verification(event, "failed"),
            "reset.locked": self._lockout,
            "code.sent": lambda event: self._send(event, "code"),
            "code.send_failed": lambda event: self._send(event, "code"),
            "notice.sent": lambda event: self._send(event, "notice"),
            "notice.send_failed": lambda event: self._send(event, "notice"),
        }

    def observe(self, event: Mapping[str, Any]) -> None:
        name = str(event.get("event"))
        self.events.labels(name, _label(event.get("outcome"))).inc()
        if (count := self._counted.get(name)) is not None:
            count(event)

    def _verification(self, event: Mapping[str, Any], outcome: str) -> None:
        self.verifications.labels(_label(event.get("method")), outcome).inc()

    def _lockout(self, event: Mapping[str, Any]) -> None:
        self.lockouts.labels("already_locked" if event.get("already") else "locked").inc()

    def _send(self, event: Mapping[str, Any], kind: str) -> None:
        """A notice told in a person's chat has no medium of its own: the channel carried it."""
        chat = event.get("to") == "chat"
        medium = "chat" if chat else _label(event.get("method") if kind == "code" else "email")
        provider = "channel" if chat else event.get("provider") or UNKNOWN_PROVIDER
        self.sends.labels(kind, medium, provider, _label(event.get("outcome"))).inc()
