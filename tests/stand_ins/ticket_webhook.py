"""A local receiver of the bot's signed ticket webhook, as a helpdesk would run one.

It checks the signature with the same scheme the bot's hand-off route checks
(adapters.tickets.signature.is_signed, against its own clock) and answers 401 without it;
it records every request and, apart, every verified body with the path it came to (the
configured URL or a hand-off's callback); it answers an update with 204 and a new ticket
with 201 `{"ticket": "WH-N"}`.

`fail_next(status, times, retry_after, body=...)` answers the next signed requests with
`status` (and `body`, JSON, when given) instead; `hold_next()` leaves the next one
unanswered until the receiver stops, for a client's time-out.
"""

import asyncio
import json
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from adapters.tickets.signature import is_signed
from tests.support.serving import serving

PATH = "/tickets"
CALLBACK_PATH = "/callback"


@dataclass
class Received:
    """One request as it reached the receiver, and the status it was answered with."""

    path: str
    headers: dict[str, str]
    raw: bytes
    signed: bool
    status: int = 0


@dataclass(frozen=True)
class Verified:
    path: str
    body: Any


@dataclass(frozen=True)
class Fault:
    status: int
    body: Any
    retry_after: str | None = None
    hold: bool = False


_NO_BODY = object()


@dataclass
class TicketWebhookStandIn:
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    verified: list[Verified] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    created: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return self.base_url + PATH

    @property
    def callback(self) -> str:
        return self.base_url + CALLBACK_PATH

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: str | float | None = None,
        *,
        body: Any = _NO_BODY,
    ) -> None:
        """Answer the next `times` signed requests with `status`, and `body` as JSON when
        given (else `{"error": ...}`), with Retry-After when given."""
        answer = {"error": "not taken"} if body is _NO_BODY else body
        after = None if retry_after is None else str(retry_after)
        self.faults.extend(Fault(status, answer, after) for _ in range(times))

    def hold_next(self) -> None:
        """Leave the next signed request unanswered until the receiver stops."""
        self.faults.append(Fault(0, None, hold=True))

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The `webhook` settings section that points the adapter here."""
        return {"kind": "webhook", "url": self.url, **overrides}

    def environ(self) -> dict[str, str]:
        return {"SSPR_TICKET_WEBHOOK_SECRET": self.secret}


def _app(stand_in: TicketWebhookStandIn) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        raw = await request.read()
        signed = is_signed(stand_in.secret, request.headers, raw, now=time.time())
        received = Received(request.path, dict(request.headers), raw, signed)
        stand_in.requests.append(received)
        answer = await respond(received)
        received.status = answer.status
        return answer

    async def respond(received: Received) -> web.Response:
        if not received.signed:
            return web.json_response({"error": "missing, invalid or expired signature"}, status=401)
        if stand_in.faults:
            fault = stand_in.faults.popleft()
            if fault.hold:
                await stand_in.release.wait()
                return web.Response(status=503)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return web.json_response(fault.body, status=fault.status, headers=headers)
        try:
            body = json.loads(received.raw)
        except ValueError:
            return web.json_response({"error": "not JSON"}, status=400)
        stand_in.verified.append(Verified(received.path, body))
        if isinstance(body, dict) and body.get("type") == "ticket.create":
            stand_in.created += 1
            return web.json_response({"ticket": f"WH-{stand_in.created}"}, status=201)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post(PATH, receive)
    app.router.add_post(CALLBACK_PATH, receive)
    return app


@asynccontextmanager
async def running_ticket_webhook_stand_in() -> AsyncIterator[TicketWebhookStandIn]:
    """A receiver on a free 127.0.0.1 port; `url` is where the bot posts, `callback` a
    second address a hand-off may name."""
    stand_in = TicketWebhookStandIn()
    async with serving(_app(stand_in)) as url:
        stand_in.base_url = url
        try:
            yield stand_in
        finally:
            stand_in.release.set()
