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

import logging
import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar
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
from azure.core.pipeline.transport import AioHttpTransport

from adapters.delivery.acs_retry import RepeatableSendRetry
from adapters.delivery.acs_settings import (
    ACCESS_KEY_VARIABLE,
    CONNECTION_STRING_VARIABLE,
    AcsSettings,
    acs_credentials,
    resource_origin,
)
from adapters.delivery.base import DeliveryFailed, Message, Receipt
from adapters.delivery.retry import RetryPolicy
from adapters.delivery.trust import trusting

__all__ = [
    "ACCESS_KEY_VARIABLE",
    "CONNECTION_STRING_VARIABLE",
    "HTTP_LOGGER",
    "AcsSender",
    "AcsSettings",
    "open_acs_sender",
    "resource_origin",
]

# azure-core's logger for request URLs and headers.
HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"

# A provider error code worth quoting in a reason: a short token, never free text.
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")

_E = TypeVar("_E", bound=BaseException)


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
                retry_policy=RepeatableSendRetry(self._retry),
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
    endpoint, access_key = acs_credentials(settings, environ)
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
