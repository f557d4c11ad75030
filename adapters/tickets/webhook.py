"""The generic ticket system: signed JSON posts to the helpdesk's own receiver.

Both directions carry the same signature (adapters/tickets/signature.py), so a receiver
checks the bot's calls exactly as the bot checks its hand-offs. An update for a hand-off
whose caller named a callback goes to that callback, but only when it is https (or http to
this machine); any other goes to the configured URL, so a hand-off cannot send the note
in clear over the network.
"""

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from yarl import URL

from adapters.addresses import protected_url_problem
from adapters.tickets.base import NewTicket, TicketUnavailable, TicketUpdate
from adapters.tickets.http import Reply, TicketHttp
from adapters.tickets.signature import signature_headers

log = logging.getLogger(__name__)

MAX_TICKET = 64


class WebhookTickets:
    """A TicketSystem that posts `ticket.updated` and `ticket.create` events to `url`."""

    kind = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        http: TicketHttp,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._url = URL(url)
        self._secret = secret
        self._http = http
        self._now = now

    async def update(self, update: TicketUpdate) -> None:
        """Post the outcome to the hand-off's callback when it may carry it, else to `url`."""
        body = {
            "type": "ticket.updated",
            "ticket": update.ticket,
            "resolved": update.resolved,
            "event": update.event,
            "note": update.note,
        }
        callback = update.callback
        if callback is not None and not self._protected(callback):
            callback = None
        target = self._url if callback is None else URL(callback)
        where = f"webhook: update of {update.ticket}"
        if callback is not None:
            where += " to its callback"
        reply = await self._post(target, body, where)
        if not reply.ok:
            raise reply.refused()
        log.info(
            "ticket updated",
            extra={
                "kind": self.kind,
                "ticket": update.ticket,
                "event": update.event,
                "resolved": update.resolved,
                "callback": callback is not None,
            },
        )

    async def create(self, ticket: NewTicket) -> str:
        """Post the new ticket; the receiver answers its number as `{"ticket": ...}`."""
        body = {
            "type": "ticket.create",
            "summary": ticket.summary,
            "description": ticket.description,
            "user": ticket.user,
            "event": ticket.event,
        }
        where = "webhook: new ticket"
        reply = await self._post(self._url, body, where)
        if reply.status not in {200, 201}:
            raise reply.refused()
        number = _ticket_number(reply.json())
        if number is None:
            raise TicketUnavailable(
                f"{where}: the answer has no ticket (a printable string of at most "
                f"{MAX_TICKET} characters)"
            )
        log.info(
            "ticket created", extra={"kind": self.kind, "ticket": number, "event": ticket.event}
        )
        return number

    async def close(self) -> None:
        await self._http.close()

    async def _post(self, url: URL, body: dict[str, Any], where: str) -> Reply:
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            **signature_headers(self._secret, int(self._now()), data),
        }
        return await self._http.send("POST", url, where=where, data=data, headers=headers)

    def _protected(self, callback: str) -> bool:
        if protected_url_problem(callback, "the ticket's note") is None:
            return True
        log.warning(
            "a hand-off's callback is not https; the update goes to the configured url",
            extra={"kind": self.kind},
        )
        return False


def _ticket_number(answer: Any) -> str | None:
    number = answer.get("ticket") if isinstance(answer, dict) else None
    if not isinstance(number, str) or not number or len(number) > MAX_TICKET:
        return None
    if not number.isprintable() or number != number.strip():
        return None
    return number
