"""Twilio's aiohttp client with corrections, as the Twilio sender's HTTP transport.

The package's client forgets its own `timeout` on async requests (so a request could wait
forever), it has no way to add a CA, it logs in with aiohttp's deprecated BasicAuth, and
the Retry-After of a 429 does not survive into TwilioRestException; `TwilioTransport`
corrects all four.
Importing this module holds Twilio's HTTP loggers at WARNING for the whole process: at
INFO they log every request's URL and headers.
"""

import base64
import json
import logging
import math
import ssl
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import SimpleNamespace

import aiohttp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response

from adapters.delivery.base import DeliveryFailed
from adapters.delivery.retry import TryAgain

_HTTP_LOG = logging.getLogger("twilio.async_http_client")
_HTTP_LOG.setLevel(logging.WARNING)
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class _Departure:
    """Whether the request under way has been handed to its connection (aiohttp reports
    its headers just before they are written), so a failure before it certainly sent
    nothing. One per request, found through `_DEPARTURE` by the trace callback."""

    left = False


_DEPARTURE: ContextVar[_Departure | None] = ContextVar("twilio_departure", default=None)


async def _leaving(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    departure = _DEPARTURE.get()
    if departure is not None:
        departure.left = True


class TwilioTransport(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's aiohttp client on a session of ours, with every request bounded.

    The package's client passes `timeout=None` to aiohttp for async requests, which turns
    aiohttp's own time-out off, so the configured one is passed here; the session (opened
    on first use, as aiohttp needs the running loop) trusts the given TLS context. The
    credentials go as an Authorization header, because the package's aiohttp.BasicAuth is
    deprecated in aiohttp 3.14 (its log of headers leaves Authorization out). It is never an
    aiohttp-retry client (`max_retries` unset), so a POST is sent once.

    Failures become the delivery port's answers here, where it is known whether the request
    had left: before it left, a refused or failed connection is TryAgain and a time-out (the
    time is spent) is not sent; after it, a time-out or a lost connection may have sent.
    A 429 is TryAgain with its Retry-After.
    """

    session: aiohttp.ClientSession | None

    def __init__(self, *, timeout: float, tls_context: ssl.SSLContext, host: str) -> None:
        super().__init__(pool_connections=False, timeout=timeout, logger=_HTTP_LOG)
        self._tls_context = tls_context
        self._host = host

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the package's HttpClient signature
        allow_redirects: bool = False,
    ) -> Response:
        if self.session is None:
            self.session = self._open_session()
        if auth is not None:
            headers = {**(headers or {}), "Authorization": _basic_authorization(*auth)}
        departure = _Departure()
        token = _DEPARTURE.set(departure)
        try:
            response: Response = await super().request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                auth=None,
                timeout=timeout or self.timeout,
                allow_redirects=allow_redirects,
            )
        except aiohttp.ClientConnectorCertificateError as error:
            detail = getattr(error.certificate_error, "verify_message", None) or "not verified"
            raise DeliveryFailed(f"twilio: TLS certificate not trusted ({detail})") from None
        except aiohttp.ClientSSLError:
            raise DeliveryFailed(f"twilio: TLS handshake with {self._host} failed") from None
        except aiohttp.ClientConnectorError:
            raise TryAgain(f"twilio: cannot connect to {self._host}") from None
        except TimeoutError:
            if not departure.left:
                raise DeliveryFailed(
                    f"twilio: no connection to {self._host} within {self.timeout:g} s"
                ) from None
            raise DeliveryFailed(
                f"twilio: no answer within {self.timeout:g} s", maybe_sent=True
            ) from None
        except aiohttp.ClientError:
            if not departure.left:
                raise TryAgain(f"twilio: connection to {self._host} failed") from None
            raise DeliveryFailed(
                "twilio: connection lost waiting for the answer", maybe_sent=True
            ) from None
        finally:
            _DEPARTURE.reset(token)
        if response.status_code == 429:
            raise TryAgain(
                http_reason(429, _error_code(response.text)),
                after=_retry_after(response.headers.get("Retry-After")),
            )
        return response

    def _open_session(self) -> aiohttp.ClientSession:
        tracing = aiohttp.TraceConfig()
        tracing.on_request_headers_sent.append(_leaving)
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._tls_context),
            cookie_jar=aiohttp.DummyCookieJar(),
            trace_configs=[tracing],
        )


def _basic_authorization(username: str, password: str) -> str:
    """The Authorization header of HTTP Basic auth (RFC 7617, UTF-8)."""
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {credentials}"


def http_reason(status: int, code: int | None) -> str:
    return f"twilio: HTTP {status}" + (f" (code {code})" if code is not None else "")


def _error_code(text: str) -> int | None:
    """The Twilio error code in an error body, if it has one."""
    try:
        code = json.loads(text).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None
