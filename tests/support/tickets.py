"""What the ticket systems' tests share: a ticket to open, a retry's sleep that records
instead of waiting (the Twilio tests' too; a pytest plugin, tests/conftest.py, so every
module gets the `sleep` fixture), and the failure a call ends in."""

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import pytest
from pydantic import TypeAdapter

from adapters.tickets.base import NewTicket, TicketSystem, TicketUnavailable
from adapters.tickets.opening import open_ticket_system
from adapters.tickets.settings import TicketSettings

NEW = NewTicket(
    "Password reset needs a person",
    "The reset flow is locked after too many failed checks.",
    "alice@contoso.example",
    "locked",
)

OpenTickets = Callable[..., TicketSystem]
"""A fixture's factory: a ticket system pointed at its stand-in, closed after the test."""


class RecordingSleep:
    """A retry's sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(name="sleep")
def sleep_fixture() -> RecordingSleep:
    return RecordingSleep()


async def unavailable(call: Awaitable[Any]) -> TicketUnavailable:
    with pytest.raises(TicketUnavailable) as raised:
        await call
    return raised.value


class TicketStandIn(Protocol):
    """What every ticket system's stand-in offers: its settings section and secrets."""

    def settings(self, **overrides: Any) -> dict[str, Any]: ...

    def environ(self) -> dict[str, str]: ...


@asynccontextmanager
async def ticket_systems(
    stand_in: TicketStandIn, sleep: RecordingSleep, base_dir: Path
) -> AsyncIterator[OpenTickets]:
    """Opens ticket systems pointed at `stand_in` (its settings overridable, its secrets
    replaceable), each closed at the end."""
    opened: list[TicketSystem] = []
    section: TypeAdapter[TicketSettings] = TypeAdapter(TicketSettings)

    def make(environ: Mapping[str, str] | None = None, **overrides: Any) -> TicketSystem:
        settings = section.validate_python(stand_in.settings(**overrides))
        secrets = stand_in.environ() if environ is None else environ
        tickets = open_ticket_system(settings, secrets, base_dir=base_dir, sleep=sleep)
        opened.append(tickets)
        return tickets

    try:
        yield make
    finally:
        for tickets in opened:
            await tickets.close()
