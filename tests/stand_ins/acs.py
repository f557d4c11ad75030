"""A local HTTPS stand-in for the Azure Communication Services SMS API (2021-03-07).

It answers `POST /sms?api-version=2021-03-07` as the service does, so the real
azure-communication-sms client talks to it unchanged: it verifies the HMAC-SHA256 access
key signature (over the verb, the path and query, x-ms-date, the Host header and
x-ms-content-sha256, which must be the body's SHA-256), refuses a wrong one with 401 and
the service's error body, checks the request body's fields, and answers 202 with one
result per recipient: a messageId, or for a number that is not E.164 a 400 result with
`successful: false`.

Like the service, it remembers each recipient's repeatabilityRequestId: a repeated
request is answered with the first one's result and sends nothing again, so `messages`
holds one entry per text that "left", however often the client retried.

`stand_in.fail_next(status, times, retry_after)` answers the next request(s) with an
error (429, 500, 503...) before taking the text, or with `after_taking=True` takes it and
then answers the error (an answer lost on the way back); `hold_next()` takes the next
request and never answers it, until the stand-in stops; `garble_next(body)` takes it and
answers 202 with a body of the wrong shape.

`async with running_acs_stand_in(directory) as stand_in:` serves it on a free port with a
certificate from a throwaway CA (`stand_in.tls.ca`); `stand_in.access_key` is the
resource's key and `stand_in.connection_string` the matching connection string.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import ssl
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.serving import serving
from tests.support.tls import TlsFiles, write_tls_files

API_VERSION = "2021-03-07"
SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
# How far x-ms-date may be from the stand-in's clock, as the service allows.
CLOCK_SKEW = timedelta(minutes=15)

_AUTHORIZATION = re.compile(
    r"HMAC-SHA256 SignedHeaders=(?P<headers>[^&]+)&Signature=(?P<signature>[A-Za-z0-9+/=]+)"
)
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_INVALID_TO = "Invalid To phone number format."


@dataclass(frozen=True)
class AcsRequest:
    """One request as received, and the status it was answered with (None: never)."""

    path_qs: str
    headers: dict[str, str]
    body: Any
    authorized: bool
    status: int | None

    @property
    def repeatability_ids(self) -> list[str]:
        recipients = self.body.get("smsRecipients", []) if isinstance(self.body, dict) else []
        return [recipient.get("repeatabilityRequestId") for recipient in recipients]


@dataclass(frozen=True)
class SentSms:
    """A text the service took: what a phone would receive, and its id."""

    message_id: str
    sender: str
    to: str
    text: str
    options: dict[str, Any]


@dataclass
class _Failure:
    status: int
    retry_after: float | None
    after_taking: bool


def new_access_key() -> str:
    """An access key as the service issues them: 32 random bytes in base64."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class AcsStandIn:
    """One Communication Services resource: its access key, what it received, and the
    texts it sent."""

    tls: TlsFiles
    access_key: str = field(default_factory=new_access_key)
    url: str = ""
    requests: list[AcsRequest] = field(default_factory=list)
    messages: list[SentSms] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _results: dict[str, dict[str, Any]] = field(default_factory=dict)
    _failures: deque[_Failure] = field(default_factory=deque)
    _holds: int = 0
    _garbled: deque[bytes] = field(default_factory=deque)

    @property
    def connection_string(self) -> str:
        return f"endpoint={self.url}/;accesskey={self.access_key}"

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        *,
        after_taking: bool = False,
    ) -> None:
        """Answer the next `times` authorized requests with `status` (and Retry-After)."""
        self._failures.extend(_Failure(status, retry_after, after_taking) for _ in range(times))

    def hold_next(self) -> None:
        """Take the next authorized request's text and never answer it."""
        self._holds += 1

    def garble_next(self, body: bytes) -> None:
        """Take the next authorized request's text and answer 202 with `body`."""
        self._garbled.append(body)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        problem = self._authentication_problem(request, body)
        if problem is not None:
            self._record(request, headers, body, authorized=False, status=401)
            return _error(401, "Denied", problem)
        if request.query.get("api-version") != API_VERSION:
            self._record(request, headers, body, authorized=True, status=400)
            return _error(400, "UnsupportedApiVersion", "The api-version is not supported.")
        try:
            payload = json.loads(body)
            recipients = _recipients(payload)
        except (ValueError, TypeError, KeyError) as problem:
            self._record(request, headers, body, authorized=True, status=400)
            return _error(400, "InvalidInput", f"The request body is invalid: {problem}")
        failure = self._failures.popleft() if self._failures else None
        if failure is not None and not failure.after_taking:
            self._record(request, headers, payload, authorized=True, status=failure.status)
            return _error(failure.status, "ServiceError", "Try again.", failure.retry_after)
        results = [self._take(payload, recipient) for recipient in recipients]
        if self._holds:
            self._holds -= 1
            self._record(request, headers, payload, authorized=True, status=None)
            await self.release.wait()
            raise web.HTTPServiceUnavailable
        if failure is not None:
            self._record(request, headers, payload, authorized=True, status=failure.status)
            return _error(failure.status, "ServiceError", "Try again.", failure.retry_after)
        self._record(request, headers, payload, authorized=True, status=202)
        if self._garbled:
            garbled = self._garbled.popleft()
            return web.Response(body=garbled, status=202, content_type="application/json")
        return web.json_response({"value": results}, status=202)

    def _take(self, payload: dict[str, Any], recipient: dict[str, str]) -> dict[str, Any]:
        """The recipient's result: the first one for a repeated id, else a new one."""
        request_id = recipient["repeatabilityRequestId"]
        if request_id in self._results:
            return self._results[request_id]
        to = recipient["to"]
        result: dict[str, Any]
        if not _E164.fullmatch(to):
            result = {
                "to": to,
                "httpStatusCode": 400,
                "repeatabilityResult": "accepted",
                "successful": False,
                "errorMessage": _INVALID_TO,
            }
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            message_id = f"Outgoing_{stamp}{uuid.uuid4()}_noam"
            self.messages.append(
                SentSms(
                    message_id,
                    payload["from"],
                    to,
                    payload["message"],
                    dict(payload.get("smsSendOptions") or {}),
                )
            )
            result = {
                "to": to,
                "messageId": message_id,
                "httpStatusCode": 202,
                "repeatabilityResult": "accepted",
                "successful": True,
            }
        self._results[request_id] = result
        return result

    def _authentication_problem(self, request: web.Request, body: bytes) -> str | None:
        """Why the request's HMAC-SHA256 signature is not the access key's, or None."""
        match = _AUTHORIZATION.fullmatch(request.headers.get("Authorization", ""))
        if match is None or match["headers"] != SIGNED_HEADERS:
            return "The Authorization header is not an HMAC-SHA256 signature."
        date = request.headers.get("x-ms-date", "")
        try:
            sent_at = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return "The x-ms-date header is missing or not an HTTP date."
        if abs(datetime.now(UTC) - sent_at) > CLOCK_SKEW:
            return "The x-ms-date header is too far from the current time."
        content_hash = request.headers.get("x-ms-content-sha256", "")
        if content_hash != base64.b64encode(hashlib.sha256(body).digest()).decode():
            return "The x-ms-content-sha256 header is not the hash of the body."
        host = request.headers.get("Host", "")
        string_to_sign = f"{request.method}\n{request.raw_path}\n{date};{host};{content_hash}"
        digest = hmac.new(
            base64.b64decode(self.access_key), string_to_sign.encode(), hashlib.sha256
        ).digest()
        if not hmac.compare_digest(match["signature"], base64.b64encode(digest).decode()):
            return "Denied by the resource provider."
        return None

    def _record(
        self,
        request: web.Request,
        headers: dict[str, str],
        body: Any,
        *,
        authorized: bool,
        status: int | None,
    ) -> None:
        self.requests.append(AcsRequest(request.raw_path, headers, body, authorized, status))


def _recipients(payload: Any) -> list[dict[str, str]]:
    """The body's recipients, after the checks the service makes on the request."""
    if not isinstance(payload, dict):
        raise TypeError("not an object")
    for name in ("from", "message"):
        if not isinstance(payload.get(name), str) or not payload[name]:
            raise KeyError(name)
    options = payload.get("smsSendOptions")
    if not isinstance(options, dict) or not isinstance(options.get("enableDeliveryReport"), bool):
        raise KeyError("smsSendOptions.enableDeliveryReport")
    recipients = payload.get("smsRecipients")
    if not isinstance(recipients, list) or not recipients:
        raise KeyError("smsRecipients")
    for recipient in recipients:
        if not isinstance(recipient, dict) or not isinstance(recipient.get("to"), str):
            raise KeyError("smsRecipients.to")
        if not re.fullmatch(r"[0-9a-fA-F-]{36}", recipient.get("repeatabilityRequestId", "")):
            raise KeyError("smsRecipients.repeatabilityRequestId")
        parsedate_to_datetime(recipient.get("repeatabilityFirstSent", ""))
    return recipients


def _error(status: int, code: str, message: str, retry_after: float | None = None) -> web.Response:
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


@asynccontextmanager
async def running_acs_stand_in(directory: Path) -> AsyncIterator[AcsStandIn]:
    """A stand-in on a free 127.0.0.1 port, speaking only TLS with a certificate from a
    new throwaway CA written into `directory`."""
    stand_in = AcsStandIn(write_tls_files(directory / "tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(stand_in.tls.certificate, stand_in.tls.key)
    app = web.Application()
    app.router.add_post("/sms", stand_in.handle)
    async with serving(app, ssl_context=context) as url:
        stand_in.url = url
        try:
            yield stand_in
        finally:
            stand_in.release.set()
