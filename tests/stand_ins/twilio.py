"""A local Twilio REST API: the Messages and Calls resources, in Twilio's wire format.

The real `twilio` client talks to it unchanged once its api domain's base URL (the
settings' `api_base`) points here. Like Twilio it takes HTTP Basic auth (the account SID
with its auth token, or an API key SID with its secret) and answers 401 with Twilio's
error 20003 otherwise; it reads the form-encoded fields Twilio documents (To, From or
MessagingServiceSid, Body for a message; To, From, Twiml or Url for a call), refuses what
Twilio refuses with Twilio's JSON error body (`code`, `message`, `more_info`, `status`),
and answers 201 with the created resource (`SM...` or `CA...` sid, status queued). Every
request is recorded, so tests assert on what reached Twilio.

`fail_next(status, times, retry_after)` answers the next authenticated requests with an
error (429 with Retry-After, 500, ...); `hold_next()` leaves the next one unanswered until
the stand-in stops, for a client's time-out.
"""

import asyncio
import base64
import binascii
import json
import re
import secrets
import ssl
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from tests.support.serving import serving
from tests.support.tls import TlsFiles

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
BODY_LIMIT = 1600  # characters of one message body, concatenated segments included

# Twilio's own message for the error codes it answers with by default.
_ERRORS: dict[int, tuple[int, str]] = {
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
    503: (20503, "Service Unavailable"),
}


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class Received:
    """One request as it reached the stand-in, and what it was answered (status 0 while
    it is held unanswered)."""

    resource: str  # "Messages" or "Calls"
    account_sid: str  # from the path
    username: str | None
    password: str | None
    content_type: str
    form: dict[str, str]
    status: int = 0
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """How one request is answered instead of normally."""

    status: int
    code: int | None
    retry_after: str | None
    hold: bool = False


@dataclass
class TwilioStandIn:
    account_sid: str = field(default_factory=lambda: _sid("AC"))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    api_key_sid: str = field(default_factory=lambda: _sid("SK"))
    api_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    messaging_service_sid: str = field(default_factory=lambda: _sid("MG"))
    from_number: str = "+15005550006"
    api_base: str = ""
    requests: list[Received] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: str | float | None = None,
        *,
        code: int | None = None,
    ) -> None:
        """Answer the next `times` authenticated requests with `status` and Twilio's error
        body (its usual code for the status, or `code`), with Retry-After when given."""
        after = None if retry_after is None else str(retry_after)
        self.faults.extend(Fault(status, code, after) for _ in range(times))

    def hold_next(self) -> None:
        """Leave the next authenticated request unanswered until the stand-in stops;
        `held` is set once it has arrived."""
        self.faults.append(Fault(0, None, None, hold=True))

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The `twilio` settings section that points the adapter here."""
        return {
            "kind": "twilio",
            "account_sid": self.account_sid,
            "from_number": self.from_number,
            "api_base": self.api_base,
            **overrides,
        }

    def environ(self, *, api_key: bool = False) -> dict[str, str]:
        """The adapter's environment: the auth token, or the API key's secret."""
        if api_key:
            return {"TWILIO_API_SECRET": self.api_secret}
        return {"TWILIO_AUTH_TOKEN": self.auth_token}

    def account_of(self, username: str | None, password: str | None) -> str | None:
        """The account whose credentials these are, or None."""
        if username == self.account_sid and password == self.auth_token:
            return self.account_sid
        if username == self.api_key_sid and password == self.api_secret:
            return self.account_sid
        return None


def _error(status: int, code: int | None = None, message: str | None = None) -> web.Response:
    known_code, known_message = _ERRORS.get(status, (None, "Error"))
    code = code if code is not None else known_code
    body: dict[str, Any] = {
        "code": code,
        "message": message if message is not None else known_message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return web.json_response(body, status=status, headers=headers)


def _basic_auth(request: web.Request) -> tuple[str | None, str | None]:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return username, password


def _now() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


def _message(account: str, form: dict[str, str]) -> web.Response:
    to = form.get("To", "")
    sender = form.get("From")
    service = form.get("MessagingServiceSid")
    body = form.get("Body")
    if not to:
        return _error(400, 21604, "A 'To' phone number is required.")
    if not E164.match(to):
        return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if not sender and not service:
        return _error(400, 21603, "A 'From' phone number is required.")
    if sender and not E164.match(sender):
        return _error(400, 21212, f"The 'From' number {sender} is not a valid phone number.")
    if service and not re.fullmatch(r"MG[0-9a-fA-F]{32}", service):
        return _error(400, 21701, f"The Messaging Service Sid {service} is invalid.")
    if not body:
        return _error(400, 21602, "Message body is required.")
    if len(body) > BODY_LIMIT:
        return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    sid = _sid("SM")
    now = _now()
    uri = f"/{API_VERSION}/Accounts/{account}/Messages/{sid}"
    resource = {
        "account_sid": account,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": sender or None,
        "messaging_service_sid": service or None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": None,
        "sid": sid,
        # A message through a Messaging Service is "accepted" until a sender is picked.
        "status": "accepted" if service else "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": to,
        "uri": f"{uri}.json",
    }
    return web.json_response(resource, status=201)


def _call(account: str, form: dict[str, str]) -> web.Response:
    to = form.get("To", "")
    sender = form.get("From", "")
    if not to:
        return _error(400, 21201, "No 'To' number is specified")
    if not E164.match(to):
        return _error(
            400, 21211, f"The phone number you are attempting to call, {to}, is not valid."
        )
    if not sender:
        return _error(400, 21213, "No 'From' number is specified")
    if not E164.match(sender):
        return _error(400, 21212, f"The 'From' number {sender} is not a valid phone number.")
    if not form.get("Twiml") and not form.get("Url"):
        return _error(400, 21205, "Url parameter is required.")
    sid = _sid("CA")
    now = _now()
    uri = f"/{API_VERSION}/Accounts/{account}/Calls/{sid}"
    resource = {
        "account_sid": account,
        "annotation": None,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": now,
        "date_updated": now,
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": sender,
        "from_formatted": sender,
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": None,
        "status": "queued",
        "subresource_uris": {
            "notifications": f"{uri}/Notifications.json",
            "recordings": f"{uri}/Recordings.json",
        },
        "to": to,
        "to_formatted": to,
        "trunk_sid": None,
        "uri": f"{uri}.json",
    }
    return web.json_response(resource, status=201)


def _app(stand_in: TwilioStandIn) -> web.Application:
    creators = {"Messages": _message, "Calls": _call}

    async def create(request: web.Request) -> web.Response:
        username, password = _basic_auth(request)
        form = {key: str(value) for key, value in (await request.post()).items()}
        received = Received(
            resource=request.match_info["resource"],
            account_sid=request.match_info["account"],
            username=username,
            password=password,
            content_type=request.content_type,
            form=form,
        )
        stand_in.requests.append(received)
        answer = await respond(received)
        received.status = answer.status
        received.answer = json.loads(answer.text or "{}")
        return answer

    async def respond(received: Received) -> web.Response:
        if stand_in.account_of(received.username, received.password) != received.account_sid:
            return _error(401)
        if stand_in.faults:
            fault = stand_in.faults.popleft()
            if fault.hold:
                stand_in.held.set()
                await stand_in.release.wait()
                return _error(503)
            answer = _error(fault.status, fault.code)
            if fault.retry_after is not None:
                answer.headers["Retry-After"] = fault.retry_after
            return answer
        return creators[received.resource](received.account_sid, received.form)

    app = web.Application()
    app.router.add_post(
        f"/{API_VERSION}/Accounts/{{account}}/{{resource:Messages|Calls}}.json", create
    )
    return app


@asynccontextmanager
async def running_twilio_stand_in(tls: TlsFiles | None = None) -> AsyncIterator[TwilioStandIn]:
    """A stand-in on a free 127.0.0.1 port (plain http, or TLS with `tls`'s certificate);
    `api_base` is its base URL."""
    stand_in = TwilioStandIn()
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.certificate, tls.key)
    async with serving(_app(stand_in), ssl_context=context) as url:
        stand_in.api_base = url
        try:
            yield stand_in
        finally:
            stand_in.release.set()
