"""Email over SMTP: one connection per message, so a phase that failed is always known.

The session is driven step by step (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA)
rather than with `send_message`, because whether a failed message may be repeated depends
on where it failed: before DATA the server holds nothing, so a lost connection or a 4xx
reply is tried again; once the message is on its way only the server's reply says whether
it took it, and without one the message counts as maybe sent and is never repeated.

TLS is never optional once asked for: `starttls` refuses a server that does not offer it
rather than falling back to clear text, and a login over `none` is refused unless the
server is on this machine, so the password never crosses the network unencrypted.
"""

import contextlib
import logging
import os
import socket
import ssl
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.errors import NonASCIILocalPartDefect
from email.headerregistry import Address, AddressHeader, BaseHeader
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Literal, Self, TypeVar

import aiosmtplib
from aiosmtplib.email import flatten_message
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.addresses import is_loopback
from adapters.delivery.base import DeliveryFailed, DeliveryUnavailable, Message, Receipt
from adapters.delivery.retry import RetryPolicy, TryAgain
from adapters.delivery.trust import trusting

PASSWORD_VARIABLE = "SSPR_SMTP_PASSWORD"  # noqa: S105 - the variable's name

Security = Literal["none", "starttls", "tls"]
DEFAULT_PORTS: Mapping[Security, int] = {"none": 25, "starttls": 587, "tls": 465}

Phase = Literal["connect", "ehlo", "starttls", "login", "mail", "rcpt", "data"]

# The command each phase sends, and what a refusal of it is called in a failure reason.
_COMMAND: Mapping[Phase, str] = {
    "connect": "connect",
    "ehlo": "EHLO",
    "starttls": "STARTTLS",
    "login": "AUTH",
    "mail": "MAIL FROM",
    "rcpt": "RCPT TO",
    "data": "DATA",
}
_REFUSED: Mapping[Phase, str] = {
    "connect": "session refused",
    "ehlo": "EHLO refused",
    "starttls": "STARTTLS refused",
    "login": "login refused",
    "mail": "sender refused",
    "rcpt": "recipient refused",
    "data": "message refused",
}

log = logging.getLogger(__name__)

_E = TypeVar("_E", bound=BaseException)


class AddressProblem(ValueError):
    """Text that is not exactly one usable email address; the message never quotes it."""


def parse_one_address(text: str, *, ascii_only: bool = False) -> Address:
    """The single address in `text` ("Name <user@example.com>" or a bare address).

    Control characters are refused before parsing, so a CR/LF can never start a new
    header or SMTP command; a list, a group or an address with parse defects is refused.
    `ascii_only` refuses international (SMTPUTF8) addresses.
    """
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in text):
        raise AddressProblem("contains a control character (CR, LF or the like)")
    try:
        header = default_policy.header_factory("To", text)
    except (ValueError, IndexError):
        raise AddressProblem("is not an email address") from None
    if not isinstance(header, AddressHeader) or not isinstance(header, BaseHeader):
        raise AddressProblem("is not an email address")
    groups = header.groups
    if len(groups) != 1 or groups[0].display_name is not None or len(groups[0].addresses) != 1:
        raise AddressProblem("must be exactly one email address")
    address = groups[0].addresses[0]
    tolerated = () if ascii_only else (NonASCIILocalPartDefect,)
    if any(not isinstance(defect, tolerated) for defect in header.defects):
        raise AddressProblem("is not a valid email address")
    if not address.username or not address.domain:
        raise AddressProblem("needs a local part and a domain")
    if ascii_only and not address.addr_spec.isascii():
        raise AddressProblem("must be ASCII (write an international domain in its xn-- form)")
    return address


class SmtpSettings(BaseModel):
    """The `smtp` email delivery section: a mail server the bot submits code mails to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["smtp"] = Field(description="Selects SMTP submission for email.")
    host: str = Field(
        min_length=1,
        pattern=r"^[^\s/]+$",
        description="Name or address of the mail server; its certificate must carry this name.",
    )
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="TCP port; by default 25 for none, 587 for starttls, 465 for tls.",
    )
    security: Security = Field(
        default="starttls",
        description=(
            "starttls: upgrade with STARTTLS and refuse a server that does not offer it; "
            "tls: TLS from the first byte (port 465); none: clear text, for a relay on "
            "this machine or a trusted network (no login unless the host is loopback)."
        ),
    )
    username: str | None = Field(
        default=None,
        min_length=1,
        description=(
            f"Account to log in as; no login when unset. The password is read from the "
            f"environment variable {PASSWORD_VARIABLE}."
        ),
    )
    sender: str = Field(
        description=(
            'From address, with an optional display name: "Password reset '
            '<sspr@contoso.com>". Its domain names the Message-ID.'
        ),
    )
    reply_to: str | None = Field(
        default=None,
        description="Reply-To address, for example the helpdesk's mailbox; none when unset.",
    )
    ca_file: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "PEM file of extra certificate authorities to trust besides the system's, for "
            "a server with an internal CA. A relative path is taken from the data directory."
        ),
    )
    timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for the connection and for each server reply.",
    )
    local_hostname: str | None = Field(
        default=None,
        pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$",
        description="Name the bot gives in EHLO; by default this machine's fully qualified name.",
    )

    @field_validator("sender", "reply_to")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_one_address(value, ascii_only=True)
            except AddressProblem as problem:
                raise ValueError(f"{value!r} {problem}") from None
        return value

    @model_validator(mode="after")
    def _password_stays_encrypted(self) -> Self:
        if self.security == "none" and self.username is not None and not is_loopback(self.host):
            raise ValueError(
                "a login over security none would send the password in clear text: use "
                "starttls or tls (none with a username is allowed only to a loopback host)"
            )
        if self.security == "none" and self.ca_file is not None:
            raise ValueError("ca_file applies only to security starttls or tls")
        return self

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    @property
    def sender_address(self) -> Address:
        return parse_one_address(self.sender, ascii_only=True)


class SmtpSender:
    """A CodeSender that submits each message over a new SMTP connection."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        password: str | None,
        tls_context: ssl.SSLContext | None,
        retry: RetryPolicy,
    ) -> None:
        self._settings = settings
        self._password = password
        self._tls_context = tls_context
        self._retry = retry
        self._where = f"smtp {settings.host}:{settings.effective_port}"

    async def send(self, message: Message) -> Receipt:
        """Submit the message; DeliveryFailed (maybe_sent when the server may have taken
        it) when it could not be, TryAgain-worthy failures retried by the policy."""
        try:
            recipient = parse_one_address(message.to)
        except AddressProblem as problem:
            raise DeliveryFailed(f"{self._where}: recipient address {problem}") from None
        mail = self._compose(message, recipient)
        receipt = Receipt("smtp", str(mail["Message-ID"]).strip().strip("<>"))

        async def attempt() -> Receipt:
            await self._submit(mail, recipient)
            return receipt

        return await self._retry.run(attempt)

    async def close(self) -> None:
        """Nothing to release: every message has its own connection, closed after it."""

    def _compose(self, message: Message, recipient: Address) -> EmailMessage:
        settings = self._settings
        sender = settings.sender_address
        mail = EmailMessage()
        try:
            mail["From"] = str(sender)
            mail["To"] = str(recipient)
            mail["Subject"] = message.subject
            if settings.reply_to is not None:
                mail["Reply-To"] = settings.reply_to
            mail["Date"] = format_datetime(datetime.now(UTC))
            mail["Message-ID"] = make_msgid(domain=sender.domain)
            mail["Auto-Submitted"] = "auto-generated"
            mail["X-Auto-Response-Suppress"] = "All"
            # Quoted-printable keeps every part 7-bit, so no server needs 8BITMIME.
            mail.set_content(message.body, charset="utf-8", cte="quoted-printable")
            if message.html is not None:
                mail.add_alternative(
                    message.html, subtype="html", charset="utf-8", cte="quoted-printable"
                )
            # Last: set_content and add_alternative move or drop every Content- header.
            mail["Content-Language"] = message.locale
        except ValueError:
            raise DeliveryFailed(
                f"{self._where}: the subject or language cannot be put in a mail header"
            ) from None
        return mail

    async def _submit(self, mail: EmailMessage, recipient: Address) -> None:
        """One SMTP session; raises TryAgain or DeliveryFailed naming the failed phase."""
        settings = self._settings
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.effective_port,
            use_tls=settings.security == "tls",
            start_tls=False,
            tls_context=self._tls_context,
            timeout=settings.timeout,
            local_hostname=settings.local_hostname,
        )
        phase: Phase = "connect"
        try:
            await client.connect()
            phase = "ehlo"
            await client.ehlo()
            if settings.security == "starttls":
                phase = "starttls"
                if not client.supports_extension("starttls"):
                    raise DeliveryFailed(f"{self._where}: the server does not offer STARTTLS")
                await client.starttls()
                phase = "ehlo"
                await client.ehlo()
            if settings.username is not None and self._password is not None:
                phase = "login"
                if not client.supports_extension("auth"):
                    raise DeliveryFailed(f"{self._where}: the server does not offer a login")
                await client.login(settings.username, self._password)
            international = not recipient.addr_spec.isascii()
            if international and not client.supports_extension("smtputf8"):
                raise DeliveryFailed(
                    f"{self._where}: the server does not accept international addresses"
                )
            encoding = "utf-8" if international else "ascii"
            options = ["SMTPUTF8"] if international else []
            phase = "mail"
            await client.mail(settings.sender_address.addr_spec, options=options)
            phase = "rcpt"
            await client.rcpt(recipient.addr_spec, encoding=encoding)
            phase = "data"
            await client.data(flatten_message(mail, utf8=international, cte_type="7bit"))
        except DeliveryFailed:
            raise
        except Exception as error:
            raise self._failure(error, phase) from None
        finally:
            await _end(client)

    def _failure(self, error: Exception, phase: Phase) -> TryAgain | DeliveryFailed:
        """What a failure at `phase` means for the message; never quotes the server's text."""
        where = self._where
        if phase in ("connect", "starttls"):
            certificate = _chained(error, ssl.SSLCertVerificationError)
            if certificate is not None:
                detail = certificate.verify_message or "not verified"
                return DeliveryFailed(f"{where}: TLS certificate not trusted ({detail})")
            if _chained(error, ssl.SSLError) is not None:
                return DeliveryFailed(f"{where}: TLS handshake failed")
        if isinstance(error, aiosmtplib.SMTPResponseException):
            reason = f"{where}: {_REFUSED[phase]} ({error.code})"
            if 400 <= error.code < 500:
                return TryAgain(reason)
            return DeliveryFailed(reason)
        # SMTPTimeoutError is a TimeoutError, SMTPServerDisconnected and SMTPConnectError
        # are ConnectionErrors: both are OSErrors, so the time-out is told apart first.
        if isinstance(error, TimeoutError):
            lost = f"no answer within {self._settings.timeout:g} s"
        elif isinstance(error, OSError) and phase == "connect":
            lost = f"cannot connect ({_network_problem(error)})"
        elif isinstance(error, OSError):
            lost = "connection lost"
        else:
            return DeliveryFailed(f"{where}: {_COMMAND[phase]} failed ({type(error).__name__})")
        if phase == "data":
            return DeliveryFailed(
                f"{where}: {lost} after the message was handed over", maybe_sent=True
            )
        if phase == "connect":
            return TryAgain(f"{where}: {lost}")
        return TryAgain(f"{where}: {lost} after {_COMMAND[phase]}")


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and its causes: aiosmtplib wraps the errors of the connection, the TLS
    handshake's included, in SMTPConnectError."""
    link: BaseException | None = error
    while link is not None:
        yield link
        link = link.__cause__ or link.__context__


def _chained(error: BaseException, kind: type[_E]) -> _E | None:
    return next((link for link in _chain(error) if isinstance(link, kind)), None)


def _network_problem(error: BaseException) -> str:
    """The operating system's words for why the connection failed ("Connection refused",
    "Name or service not known"), without the addresses asyncio adds to its messages."""
    for link in _chain(error):
        if isinstance(link, socket.gaierror) and link.strerror:
            return link.strerror
        if isinstance(link, OSError) and link.errno:
            return os.strerror(link.errno)
    return "no connection"


async def _end(client: aiosmtplib.SMTP) -> None:
    """QUIT politely when the session is still up, then drop the connection regardless:
    the outcome is already decided, so a failure here changes nothing."""
    if client.is_connected:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
    client.close()


def open_smtp_sender(
    settings: SmtpSettings,
    environ: Mapping[str, str],
    *,
    retry: RetryPolicy,
    base_dir: Path | None = None,
) -> SmtpSender:
    """The sender for `settings`; DeliveryUnavailable when the password is missing or the
    CA file cannot be loaded, so the bot refuses to start rather than fail at the first code."""
    password = environ.get(PASSWORD_VARIABLE) or None
    if settings.username is not None and password is None:
        raise DeliveryUnavailable(
            f"smtp: the environment variable {PASSWORD_VARIABLE} is not set "
            "(it holds the password for the configured username)"
        )
    if settings.username is None and password is not None:
        log.warning(
            "smtp: %s is set but no username is configured; sending without login",
            PASSWORD_VARIABLE,
        )
        password = None
    tls_context = (
        None if settings.security == "none" else trusting(settings.ca_file, base_dir, "smtp")
    )
    return SmtpSender(settings, password=password, tls_context=tls_context, retry=retry)
