"""Text messages and voice calls through Twilio, with its official package's async client.

A text message is one `POST .../Messages.json`, a call one `POST .../Calls.json` whose
TwiML reads the message's speech, one `<Say>` per utterance with a pause between them.
Neither is ever repeated once it may have reached Twilio: only a refused connection and a
429 answer are tried again (by the RetryPolicy), because Twilio certainly took nothing.

The package's aiohttp client is used with corrections, all in `_Transport`: it forgets its
own `timeout` on async requests (so a request could wait forever), it has no way to add a
CA, it logs in with aiohttp's deprecated BasicAuth, and the Retry-After of a 429 does not
survive into TwilioRestException.
Importing this module holds Twilio's HTTP loggers at WARNING for the whole process: at
INFO they log every request's URL and headers.
"""

import base64
import json
import logging
import math
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal, Self
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from adapters.addresses import protected_url_problem
from adapters.delivery.base import DeliveryFailed, DeliveryUnavailable, Message, Receipt
from adapters.delivery.retry import RetryPolicy, TryAgain
from adapters.delivery.trust import trusting

# Twilio's own names for the secrets, as its tools and documentation use them.
AUTH_TOKEN_VARIABLE = "TWILIO_AUTH_TOKEN"  # noqa: S105 - the variable's name
API_SECRET_VARIABLE = "TWILIO_API_SECRET"  # noqa: S105 - the variable's name

DEFAULT_API_BASE = "https://api.twilio.com"
E164 = r"^\+[1-9][0-9]{6,14}$"

_HTTP_LOG = logging.getLogger("twilio.async_http_client")
_HTTP_LOG.setLevel(logging.WARNING)
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

# The languages Twilio's <Say> voices (Amazon Polly's and Google's) speak, as the
# `language` attribute writes them.
SAY_LANGUAGES = frozenset(
    {
        "af-ZA", "ar-AE", "bg-BG", "ca-ES", "cmn-CN", "cmn-TW", "cs-CZ", "cy-GB", "da-DK",
        "de-AT", "de-CH", "de-DE", "el-GR", "en-AU", "en-CA", "en-GB", "en-IE", "en-IN",
        "en-NZ", "en-US", "en-ZA", "es-ES", "es-MX", "es-US", "eu-ES", "fi-FI", "fil-PH",
        "fr-BE", "fr-CA", "fr-FR", "gl-ES", "he-IL", "hi-IN", "hu-HU", "id-ID", "is-IS",
        "it-IT", "ja-JP", "ko-KR", "lt-LT", "lv-LV", "ms-MY", "nb-NO", "nl-BE", "nl-NL",
        "pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "sk-SK", "sr-RS", "sv-SE", "th-TH",
        "tr-TR", "uk-UA", "vi-VN", "yue-HK",
    }
)  # fmt: skip
# What a bare language (or a region Twilio has no voice for) is spoken as.
_LANGUAGE_DEFAULTS: Mapping[str, str] = {
    "af": "af-ZA", "ar": "ar-AE", "bg": "bg-BG", "ca": "ca-ES", "cmn": "cmn-CN",
    "cs": "cs-CZ", "cy": "cy-GB", "da": "da-DK", "de": "de-DE", "el": "el-GR",
    "en": "en-US", "es": "es-ES", "eu": "eu-ES", "fi": "fi-FI", "fil": "fil-PH",
    "fr": "fr-FR", "gl": "gl-ES", "he": "he-IL", "hi": "hi-IN", "hu": "hu-HU",
    "id": "id-ID", "is": "is-IS", "it": "it-IT", "ja": "ja-JP", "ko": "ko-KR",
    "lt": "lt-LT", "lv": "lv-LV", "ms": "ms-MY", "nb": "nb-NO", "nl": "nl-NL",
    "no": "nb-NO", "pl": "pl-PL", "pt": "pt-BR", "ro": "ro-RO", "ru": "ru-RU",
    "sk": "sk-SK", "sr": "sr-RS", "sv": "sv-SE", "th": "th-TH", "tr": "tr-TR",
    "uk": "uk-UA", "vi": "vi-VN", "yue": "yue-HK", "zh": "cmn-CN",
}  # fmt: skip
# Chinese locales as chat clients write them, and the spoken language Twilio names.
_CHINESE: Mapping[str, str] = {"zh-CN": "cmn-CN", "zh-TW": "cmn-TW", "zh-HK": "yue-HK"}
FALLBACK_LANGUAGE = "en-US"


def say_language(locale: str) -> str:
    """The <Say> language for a message locale: "de" -> "de-DE", "en_GB" -> "en-GB" (a
    region Twilio speaks passes through), "de-LU" -> "de-DE", anything unknown -> en-US."""
    parts = [part for part in re.split(r"[-_]", locale.strip()) if part]
    if not parts:
        return FALLBACK_LANGUAGE
    language = parts[0].lower()
    region = next((part.upper() for part in parts[1:] if len(part) == 2), None)
    if region is not None:
        tag = f"{language}-{region}"
        tag = _CHINESE.get(tag, tag)
        if tag in SAY_LANGUAGES:
            return tag
    return _LANGUAGE_DEFAULTS.get(language, FALLBACK_LANGUAGE)


def dialable(number: str) -> str:
    """An international number as Twilio wants it (E.164): "+1 (425) 555-0101" ->
    "+14255550101". A number without a country code is passed on unchanged: only Twilio
    can say whether it is valid."""
    number = number.strip()
    if number.startswith("+"):
        return "+" + re.sub(r"[\s().-]", "", number[1:])
    return number


class TwilioSettings(BaseModel):
    """The `twilio` section of delivery.sms or delivery.voice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["twilio"] = Field(description="Selects Twilio for text messages or calls.")
    account_sid: str = Field(
        pattern=r"^AC[0-9a-fA-F]{32}$",
        description="The Twilio account (AC followed by 32 hexadecimal digits).",
    )
    from_number: str | None = Field(
        default=None,
        pattern=E164,
        description=(
            "The Twilio number messages and calls come from, in E.164 (+14255550100). "
            "Voice calls need it; text messages use messaging_service_sid instead when set."
        ),
    )
    messaging_service_sid: str | None = Field(
        default=None,
        pattern=r"^MG[0-9a-fA-F]{32}$",
        description=(
            "A Messaging Service (MG...) that picks the sender of text messages from its pool; "
            "used for text messages instead of from_number when set."
        ),
    )
    api_key_sid: str | None = Field(
        default=None,
        pattern=r"^SK[0-9a-fA-F]{32}$",
        description=(
            f"An API key (SK...) to log in with; its secret is read from the environment "
            f"variable {API_SECRET_VARIABLE}. When unset the bot logs in with the account's "
            f"auth token, read from {AUTH_TOKEN_VARIABLE}."
        ),
    )
    api_base: str = Field(
        default=DEFAULT_API_BASE,
        description=(
            "Base URL of Twilio's REST API; for a region or edge name its host, for example "
            "https://api.dublin.ie1.twilio.com. Must be https (http only to this machine)."
        ),
    )
    timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for Twilio's answer to one request, connecting included.",
    )
    voice: str | None = Field(
        default=None,
        min_length=1,
        pattern=r"^[A-Za-z0-9._-]+$",
        description=(
            'The <Say> voice calls speak with, such as "Polly.Joanna" or '
            '"Google.en-US-Standard-C"; a voice speaks its own language, so set one only '
            "when every user shares it. Unset: Twilio's default voice for the user's language."
        ),
    )
    ca_file: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "PEM file of extra certificate authorities to trust besides the system's, for a "
            "proxy with an internal CA. A relative path is taken from the data directory."
        ),
    )

    @field_validator("api_base")
    @classmethod
    def _protected(cls, value: str) -> str:
        problem = protected_url_problem(value, "the auth token or API secret")
        if problem is not None:
            raise ValueError(problem)
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials (they come from the environment)")
        if parts.query or parts.fragment:
            raise ValueError("must have no query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _has_a_sender(self) -> Self:
        if self.from_number is None and self.messaging_service_sid is None:
            raise ValueError("set from_number or messaging_service_sid (calls need from_number)")
        return self


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


class _Transport(AsyncTwilioHttpClient):  # type: ignore[misc]
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
                _http_reason(429, _error_code(response.text)),
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


class TwilioSender:
    """A CodeSender for text messages (Messages) and voice calls (Calls) through Twilio."""

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        secret: str,
        tls_context: ssl.SSLContext,
        retry: RetryPolicy,
    ) -> None:
        self._settings = settings
        self._retry = retry
        host = urlsplit(settings.api_base).hostname or settings.api_base
        self._transport = _Transport(timeout=settings.timeout, tls_context=tls_context, host=host)
        self._client = Client(
            username=settings.api_key_sid or settings.account_sid,
            password=secret,
            account_sid=settings.account_sid,
            http_client=self._transport,
            # Never empty: an empty mapping makes the package read os.environ, whose
            # TWILIO_EDGE or TWILIO_REGION would rewrite the host of api_base.
            environment={"TWILIO_ACCOUNT_SID": settings.account_sid},
        )
        # Messages and Calls both belong to the api domain; the others are never used.
        self._client.api.base_url = settings.api_base

    async def send(self, message: Message) -> Receipt:
        """Create the message or call; DeliveryFailed (maybe_sent when Twilio may have
        created it) when it could not be, refused connections and 429 tried again."""
        create = self._creation(message)

        async def attempt() -> Receipt:
            try:
                resource = await create()
            except (TwilioRestException, TwilioServiceException) as error:
                raise _refusal(error) from None
            except ValueError:
                raise DeliveryFailed("twilio: unreadable answer", maybe_sent=True) from None
            sid = getattr(resource, "sid", None)
            if not isinstance(sid, str) or not sid:
                raise DeliveryFailed("twilio: answer without a sid", maybe_sent=True)
            return Receipt("twilio", sid)

        return await self._retry.run(attempt)

    async def close(self) -> None:
        """Close the HTTP session (if one was opened); safe to call twice."""
        await self._transport.close()

    def _creation(self, message: Message) -> Callable[[], Awaitable[Any]]:
        settings = self._settings
        to = dialable(message.to)
        if message.medium == "sms":
            sender: dict[str, str | None]
            if settings.messaging_service_sid is not None:
                sender = {"messaging_service_sid": settings.messaging_service_sid}
            else:
                sender = {"from_": settings.from_number}
            return lambda: self._client.messages.create_async(to=to, body=message.body, **sender)
        if message.medium == "voice":
            if settings.from_number is None:
                raise DeliveryFailed("twilio: voice calls need from_number in the settings")
            twiml = spoken(message, settings.voice)
            return lambda: self._client.calls.create_async(
                to=to, from_=settings.from_number, twiml=twiml
            )
        raise DeliveryFailed(f"twilio: carries sms and voice, not {message.medium}")


def spoken(message: Message, voice: str | None) -> str:
    """The TwiML of a call: each utterance of the message's speech (its body when it has
    none) in its own <Say>, in the message's language, with a second's pause between."""
    language = say_language(message.locale)
    response = VoiceResponse()
    for number, utterance in enumerate(message.speech or (message.body,)):
        if number:
            response.pause(length=1)
        response.say(utterance, voice=voice, language=language)
    return str(response.to_xml())


def _refusal(error: TwilioRestException | TwilioServiceException) -> DeliveryFailed:
    """Twilio's error answer as a safe reason (status and Twilio's code, never its text,
    which may quote the number). A 5xx may have come after Twilio created the resource."""
    status = int(error.status)
    code = error.code if isinstance(error.code, int) and error.code != status else None
    return DeliveryFailed(_http_reason(status, code), maybe_sent=status >= 500)


def _basic_authorization(username: str, password: str) -> str:
    """The Authorization header of HTTP Basic auth (RFC 7617, UTF-8)."""
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {credentials}"


def _http_reason(status: int, code: int | None) -> str:
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


def open_twilio_sender(
    settings: TwilioSettings,
    environ: Mapping[str, str],
    *,
    retry: RetryPolicy,
    base_dir: Path | None = None,
) -> TwilioSender:
    """The sender for `settings`; DeliveryUnavailable when the secret's variable is not set
    or the CA file cannot be loaded, so the bot refuses to start rather than fail later."""
    variable = API_SECRET_VARIABLE if settings.api_key_sid is not None else AUTH_TOKEN_VARIABLE
    secret = environ.get(variable) or None
    if secret is None:
        holds = (
            "the secret of the configured api_key_sid"
            if settings.api_key_sid is not None
            else "the account's auth token"
        )
        raise DeliveryUnavailable(
            f"twilio: the environment variable {variable} is not set (it holds {holds})"
        )
    return TwilioSender(
        settings,
        secret=secret,
        tls_context=trusting(settings.ca_file, base_dir, "twilio"),
        retry=retry,
    )
