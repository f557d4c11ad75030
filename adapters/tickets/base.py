"""The ticket-system port: what the bot tells the helpdesk's tool about a ticket, and the
ticket it opens when it cannot help. One implementation per system, none knowing another."""

from dataclasses import dataclass, field
from typing import Literal, Protocol

Event = Literal["reset", "unlock", "locked", "escalated", "timed_out"]


class TicketUnavailable(Exception):
    """The ticket system did not take the update or the new ticket (it could not be
    reached, refused the request, answered something unreadable, or the ticket does not
    exist). `reason` is safe to log and show an operator: it never quotes a credential,
    a note or a callback address."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TicketUpdate:
    """What became of a handed-off ticket.

    `resolved` True: the bot solved it and the ticket is closed; False: it goes back to
    the people of the helpdesk (reassigned). `note` is the internal note written on the
    ticket; `callback` is where the hand-off's caller asked to hear back, when it did.
    """

    ticket: str
    resolved: bool
    event: Event
    note: str = field(repr=False)
    callback: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class NewTicket:
    """A ticket the bot opens for a person it could not help, so a human picks it up."""

    summary: str
    description: str = field(repr=False)
    user: str
    event: Event


class TicketSystem(Protocol):
    """A helpdesk's ticket tool. Every method raises TicketUnavailable on any failure."""

    kind: str

    async def update(self, update: TicketUpdate) -> None:
        """Write the note on the ticket, then close it or hand it back to humans."""
        ...

    async def create(self, ticket: NewTicket) -> str:
        """Open the ticket; its number as the user is shown it (INC0010001, HD-12)."""
        ...

    async def close(self) -> None:
        """Release the connections; a later request opens new ones."""
        ...
