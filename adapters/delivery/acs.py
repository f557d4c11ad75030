"""Text messages through Azure Communication Services, with the official SMS package.

A repeated send is safe here, unlike with other carriers: the package gives every
recipient a repeatability id and first-sent time in the request body, and azure-core's
retry sends that same body again, so Communication Services answers a repeat with the
outcome of the first request instead of sending a second text. That is why 429 and 5xx
answers are repeated inside the client's pipeline (bounded by our RetryPolicy: its tries,
its wait budget, its sleep) and not by RetryPolicy.run, whose every attempt would be a new
request with new ids. Connection failures are not repeated at all: a new request would
carry new ids, and the exception does not say whether an earlier attempt of the same send
already reached the service.

Two things keep the code and the key out of the logs: azure-core's network trace (the
only place a request body is logged) stays off, and its HTTP logging policy, which lists
headers and URLs, is held at WARNING.
"""

import base64
import binascii
import logging
import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import aiohttp
from azure.communication.sms import SmsSendResult
from azure.communication.sms.aio import SmsClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    AzureError,
    DeserializationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import AsyncRetryPolicy
from azure.core.pipeline.transport import AioHttpTransport, AsyncHttpResponse, HttpRequest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.addresses import protected_url_problem
from adapters.delivery.base import DeliveryFailed, DeliveryUnavailable, Message, Receipt
from adapters.delivery.retry import RetryPolicy, Sleep
from adapters.delivery.trust import trusting

ACCESS_KEY_VARIABLE = "SSPR_ACS_ACCESS_KEY"
CONNECTION_STRING_VARIABLE = "SSPR_ACS_CONNECTION_STRING"

# azure-core's logger for request URLs and headers.
HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"

# What Communication Services accepts as a sender: a phone number in E.164 form, a short
# code (5 or 6 digits, no "+"), or an alphanumeric sender id (up to 11 letters, digits
# and spaces, at least one letter).
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SHORT_CODE = re.compile(r"[0-9]{5,6}")
_ALPHANUMERIC = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9 ]{0,9}[A-Za-z0-9])?")

# Answers a repeat of the same request may turn into a success.
_REPEATED_STATUSES = frozenset({429, 500, 502, 503, 504})

# As RetryPolicy: the first pause without a Retry-After, doubled after each.
_FIRST_BACKOFF = 0.5

# A provider error code worth quoting in a reason: a short token, never free text.
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")

_E = TypeVar("_E", bound=BaseException)


def resource_origin(url: str) -> str:
    """The endpoint as the access key signs it: scheme and lower-case host, a port only
    when not the scheme's default, no path. ValueError says what is wrong (never quoting
    the URL: one from a connection string sits next to the key)."""
    problem = protected_url_problem(url, "the one-time code")
    if problem is not None:
        raise ValueError(problem)
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError("must be the resource's address only, with no path or query")
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if port is not None and port != (443 if parts.scheme == "https" else 80):
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


class AcsSettings(BaseModel):
    """The `acs` SMS delivery section: a Communication Services resource that sends texts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["acs"] = Field(description="Selects Azure Communication Services for SMS.")
    endpoint: str | None = Field(
        default=None,
        description=(
            "The resource's https address, e.g. https://contoso.communication.azure.com. "
            f"Needed with {ACCESS_KEY_VARIABLE}; with {CONNECTION_STRING_VARIABLE} it may "
            "be left out, and when set must be the connection string's endpoint."
        ),
    )
    from_number: str = Field(
        description=(
            "Sender the resource owns: a phone number in E.164 form (+14255550123), a "
            "short code (5 or 6 digits), or an enabled alphanumeric sender id (up to 11 "
            "letters, digits and spaces, with at least one letter)."
        ),
    )
    ca_file: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "PEM file of extra certificate authorities to trust besides the system's, for "
            "a TLS-inspecting proxy. A relative path is taken from the data directory."
        ),
    )
    timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for the connection and for each read of the answer.",
    )
    enable_delivery_report: bool = Field(
        default=False,
        description="Ask for a delivery report on the resource's Event Grid for every text.",
    )
    tag: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Text Communication Services returns in delivery reports, to tell the bot's "
            "texts apart."
        ),
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_a_resource(cls, value: str | None) -> str | None:
        return None if value is None else resource_origin(value)

    @field_validator("from_number")
    @classmethod
    def _sender_is_usable(cls, value: str) -> str:
        if not any(form.fullmatch(value) for form in (_E164, _SHORT_CODE, _ALPHANUMERIC)):
            raise ValueError(
                "must be an E.164 phone number (+14255550123), a 5 or 6 digit short code, "
                "or an alphanumeric sender id of up to 11 letters, digits and spaces"
            )
        return value


class AcsSender:
    """A CodeSender that hands each text to Communication Services in one request.

    The SDK client and its HTTP session are made at the first send, inside the running
    event loop that aiohttp needs, and dropped by `close`.
    """

    def __init__(
        self,
        settings: AcsSettings,
        *,
        endpoint: str,
        credential: AzureKeyCredential,
        tls_context: ssl.SSLContext,
        retry: RetryPolicy,
    ) -> None:
        self._settings = settings
        self._endpoint = endpoint
        self._credential = credential
        self._tls_context = tls_context
        self._retry = retry
        self._client: SmsClient | None = None
        self._where = f"acs {urlsplit(endpoint).netloc}"

    async def send(self, message: Message) -> Receipt:
        """Send the text; DeliveryFailed (maybe_sent when the service may have taken it)
        when it could not be."""
        if message.medium != "sms":
            raise DeliveryFailed(f"{self._where}: sends only sms, not {message.medium}")
        settings = self._settings
        try:
            results = await self._sms_client().send(
                from_=settings.from_number,
                to=message.to,
                message=message.body,
                enable_delivery_report=settings.enable_delivery_report,
                tag=settings.tag,
            )
        except AzureError as error:
            raise self._failure(error) from None
        except (DeserializationError, TypeError, AttributeError):
            # A 202 whose body lacks what the SDK reads: it fails while building results.
            raise self._unreadable() from None
        return self._receipt(results)

    async def close(self) -> None:
        """Close the client and its HTTP session; a later send opens new ones."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def _sms_client(self) -> SmsClient:
        if self._client is None:
            settings = self._settings
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._tls_context),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=True,  # HTTPS_PROXY / NO_PROXY, as azure-core's own session
            )
            transport = AioHttpTransport(
                session=session,
                session_owner=True,
                connection_timeout=settings.timeout,
                read_timeout=settings.timeout,
            )
            self._client = SmsClient(
                self._endpoint,
                self._credential,
                transport=transport,
                retry_policy=_RepeatableSendRetry(self._retry),
                logging_enable=False,
            )
        return self._client

    def _receipt(self, results: list[SmsSendResult]) -> Receipt:
        if len(results) != 1:
            raise DeliveryFailed(
                f"{self._where}: {len(results)} results for one recipient", maybe_sent=True
            )
        result = results[0]
        message_id = result.message_id
        if result.successful and isinstance(message_id, str) and message_id:
            return Receipt("acs", message_id)
        status = result.http_status_code
        detail = f"{status}" if isinstance(status, int) else "no status"
        error_message = _printable(result.error_message)
        if error_message:
            detail = f"{detail}: {error_message}"
        if result.successful:
            raise DeliveryFailed(f"{self._where}: accepted without a message id", maybe_sent=True)
        maybe_sent = not isinstance(status, int) or status >= 500
        raise DeliveryFailed(f"{self._where}: text refused ({detail})", maybe_sent=maybe_sent)

    def _failure(self, error: AzureError) -> DeliveryFailed:
        """What the pipeline's error means for the text; never quotes the service's
        answer beyond its status and error code."""
        where = self._where
        if isinstance(error, HttpResponseError):
            return self._refusal(error)
        if isinstance(error, ServiceRequestError):
            certificate = _chained(error, aiohttp.ClientConnectorCertificateError)
            if certificate is not None:
                verify = certificate.certificate_error
                detail = getattr(verify, "verify_message", None) or "not verified"
                return DeliveryFailed(f"{where}: TLS certificate not trusted ({detail})")
            if _chained(error, aiohttp.ClientSSLError) is not None:
                return DeliveryFailed(f"{where}: TLS handshake failed")
            if isinstance(error, ServiceRequestTimeoutError):
                return DeliveryFailed(
                    f"{where}: cannot connect within {self._settings.timeout:g} s"
                )
            if _chained(error, aiohttp.ClientConnectorError) is not None:
                return DeliveryFailed(f"{where}: cannot connect")
            return DeliveryFailed(
                f"{where}: connection lost after the text was handed over", maybe_sent=True
            )
        if isinstance(error, ServiceResponseTimeoutError):
            return DeliveryFailed(
                f"{where}: no answer within {self._settings.timeout:g} s after the text was "
                "handed over",
                maybe_sent=True,
            )
        return DeliveryFailed(
            f"{where}: the answer was lost ({type(error).__name__})", maybe_sent=True
        )

    def _refusal(self, error: HttpResponseError) -> DeliveryFailed:
        status = error.status_code
        if status is None or status < 400:  # a 202 that is not JSON, or was cut short
            return self._unreadable()
        code = _error_code(error)
        detail = f"{status} {code}" if code else f"{status}"
        if status in {401, 403}:
            return DeliveryFailed(f"{self._where}: access key refused ({detail})")
        if status == 429:
            return DeliveryFailed(f"{self._where}: too many requests ({detail})")
        if status < 500:
            return DeliveryFailed(f"{self._where}: request refused ({detail})")
        return DeliveryFailed(f"{self._where}: service error ({detail})", maybe_sent=True)

    def _unreadable(self) -> DeliveryFailed:
        return DeliveryFailed(f"{self._where}: the answer could not be read", maybe_sent=True)


class _RepeatableSendRetry(AsyncRetryPolicy[HttpRequest, AsyncHttpResponse]):
    """azure-core's retry with our bounds: `tries` requests at most, pauses (Retry-After,
    else 0.5 s doubling) through RetryPolicy's sleep and `max_wait` seconds in all.

    Only 429 and 5xx answers are repeated: the same body goes again, so the service
    de-duplicates it by its repeatability ids. A Retry-After longer than what is left of
    the budget ends the retries at once, as RetryPolicy does.
    """

    def __init__(self, retry: RetryPolicy) -> None:
        repeats = max(retry.tries - 1, 0)
        super().__init__(retry_total=repeats, retry_status=repeats)
        self._max_wait = retry.max_wait
        self._pause: Sleep = retry.sleep

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings["waited"] = 0.0
        settings["next_pause"] = 0.0
        return settings

    def is_retry(
        self,
        settings: dict[str, Any],
        response: PipelineResponse[Any, Any],
    ) -> bool:
        if response.http_response.status_code not in _REPEATED_STATUSES or not settings["total"]:
            return False
        asked = self.get_retry_after(response)
        pause = asked if asked is not None else _FIRST_BACKOFF * 2 ** len(settings["history"])
        if settings["waited"] + pause > self._max_wait:
            return False
        settings["next_pause"] = pause
        return True

    async def sleep(
        self,
        settings: dict[str, Any],
        transport: Any,
        response: PipelineResponse[Any, Any] | None = None,
    ) -> None:
        pause: float = settings["next_pause"]
        settings["waited"] += pause
        if pause > 0:
            await self._pause(pause)


def open_acs_sender(
    settings: AcsSettings,
    environ: Mapping[str, str],
    *,
    retry: RetryPolicy,
    base_dir: Path | None = None,
) -> AcsSender:
    """The sender for `settings`; DeliveryUnavailable when no credential is set, it is
    malformed, or the CA file cannot be loaded, so the bot refuses to start rather than
    fail at the first code.

    Credentials come from either SSPR_ACS_ACCESS_KEY (with `endpoint` in the settings)
    or SSPR_ACS_CONNECTION_STRING ("endpoint=https://...;accesskey=..."), never both.
    """
    endpoint, access_key = _credentials(settings, environ)
    tls_context = trusting(settings.ca_file, base_dir, "acs")
    http_logger = logging.getLogger(HTTP_LOGGER)
    if http_logger.getEffectiveLevel() < logging.WARNING:
        http_logger.setLevel(logging.WARNING)
    return AcsSender(
        settings,
        endpoint=endpoint,
        credential=AzureKeyCredential(access_key),
        tls_context=tls_context,
        retry=retry,
    )


def _credentials(settings: AcsSettings, environ: Mapping[str, str]) -> tuple[str, str]:
    """The endpoint and the access key; the messages name variables, never values."""
    access_key = environ.get(ACCESS_KEY_VARIABLE) or None
    connection_string = environ.get(CONNECTION_STRING_VARIABLE) or None
    if access_key is not None and connection_string is not None:
        raise DeliveryUnavailable(
            f"acs: both {ACCESS_KEY_VARIABLE} and {CONNECTION_STRING_VARIABLE} are set; "
            "set only one"
        )
    if connection_string is not None:
        endpoint, access_key = _parse_connection_string(connection_string)
        if settings.endpoint is not None and settings.endpoint != endpoint:
            raise DeliveryUnavailable(
                f"acs: the endpoint in {CONNECTION_STRING_VARIABLE} is not the configured "
                "endpoint; correct one of them, or leave endpoint out of the settings"
            )
        variable = CONNECTION_STRING_VARIABLE
    elif access_key is not None:
        if settings.endpoint is None:
            raise DeliveryUnavailable(
                f"acs: endpoint is not configured (it is needed with {ACCESS_KEY_VARIABLE})"
            )
        endpoint = settings.endpoint
        variable = ACCESS_KEY_VARIABLE
    else:
        raise DeliveryUnavailable(
            f"acs: neither {ACCESS_KEY_VARIABLE} nor {CONNECTION_STRING_VARIABLE} is set "
            "(one of them holds the resource's access key)"
        )
    try:
        base64.b64decode(access_key, validate=True)
    except binascii.Error:
        raise DeliveryUnavailable(
            f"acs: the access key in {variable} is not base64 (copy it from the resource's Keys)"
        ) from None
    return endpoint, access_key


def _parse_connection_string(text: str) -> tuple[str, str]:
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, _, value = part.partition("=")
        fields[name.strip().lower()] = value.strip()
    endpoint = fields.get("endpoint")
    access_key = fields.get("accesskey")
    if not endpoint or not access_key:
        raise DeliveryUnavailable(
            f"acs: {CONNECTION_STRING_VARIABLE} must read "
            "endpoint=https://<resource>.communication.azure.com/;accesskey=<key>"
        )
    try:
        return resource_origin(endpoint), access_key
    except ValueError as problem:
        raise DeliveryUnavailable(
            f"acs: the endpoint in {CONNECTION_STRING_VARIABLE} {problem}"
        ) from None


def _error_code(error: HttpResponseError) -> str | None:
    """The service's error code from its JSON error body, when it is a plain token."""
    code = getattr(error.error, "code", None)
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else None


def _printable(text: object, limit: int = 120) -> str:
    """A per-recipient error message as one short line (the service's fixed wording,
    such as "Invalid To phone number format.")."""
    if not isinstance(text, str):
        return ""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line[:limit]


def _chained(error: BaseException, kind: type[_E]) -> _E | None:
    """The first exception of `kind` in `error`'s chain of causes (azure-core wraps
    aiohttp's errors)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
