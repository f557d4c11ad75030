"""A real aiosmtpd server on the test's own event loop, for the SMTP delivery tests.

`running_smtp_server(directory, security)` listens on a free 127.0.0.1 port in one of the
three ways a mail server is reached: `none` (clear text), `starttls` (STARTTLS offered and
required before any mail command) and `tls` (TLS from the first byte). Its certificate
comes from a throwaway CA (`write_tls_files`), whose certificate `server.ca` the client
must trust. With `login=(username, password)` it accepts that one account and records
every AUTH attempt; its `Mailbox` records every message it accepted, and can refuse a
recipient, answer 451 for a number of transactions, or drop the connection or fall silent
once it has the message.

The server runs in the test's loop, not in a thread, so what it recorded is in place as
soon as the client's call returns, with nothing to wait for.
"""

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal

from tests.support.ports import HOST
from tests.support.tls import TlsFiles, write_tls_files

try:
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
except ImportError as missing:
    raise ImportError(f"aiosmtpd is not installed: pip install aiosmtpd ({missing})") from None

Security = Literal["none", "starttls", "tls"]
Step = Literal["MAIL", "RCPT", "DATA"]
# What the server does once it has stored a message: answer 250, drop the connection, or
# never answer.
AfterData = Literal["answer", "drop", "stall"]

# The name the server gives in its greeting and EHLO reply.
SERVER_NAME = "mail.test"

REFUSED_RECIPIENT = "550 5.1.1 no such user"
DEFERRED = "451 4.3.0 try again later"


def _encrypted(server: SMTP) -> bool:
    """Whether the session is under TLS: implicit TLS is the transport's own, STARTTLS the
    protocol's (aiosmtpd swaps the transport), and both answer `sslcontext`."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("sslcontext") is not None


@dataclass(frozen=True)
class Received:
    """One message the server accepted: its envelope, the parsed message, the name the
    client gave in EHLO, and whether the session that carried it was encrypted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    client_name: str | None
    encrypted: bool


@dataclass(frozen=True)
class LoginAttempt:
    mechanism: str
    username: str
    password: str
    encrypted: bool


class Account:
    """An aiosmtpd authenticator that accepts one username and password, and records
    every attempt (right or wrong) in `attempts`."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.attempts: list[LoginAttempt] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        attempt = LoginAttempt(
            mechanism, data.login.decode(), data.password.decode(), _encrypted(server)
        )
        self.attempts.append(attempt)
        accepted = (attempt.username, attempt.password) == (self.username, self.password)
        return AuthResult(success=accepted, handled=False)


@dataclass
class Mailbox:
    """The aiosmtpd handler: records envelopes and messages, refuses the recipients in
    `refused` with 550, answers 451 while `defer` has transactions left to refuse, and
    once it has stored a message does what `after_data` says."""

    received: list[Received] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    after_data: AfterData = "answer"
    _deferred: dict[Step, int] = field(default_factory=dict)

    def defer(self, transactions: int = 1, *, at: Step = "MAIL") -> None:
        """Answer 451 at step `at` of the next `transactions` transactions."""
        self._deferred[at] = transactions

    def _deferring(self, step: Step) -> bool:
        left = self._deferred.get(step, 0)
        if left > 0:
            self._deferred[step] = left - 1
        return left > 0

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        self.senders.append(address)
        if self._deferring("MAIL"):
            return DEFERRED
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refused:
            return REFUSED_RECIPIENT
        if self._deferring("RCPT"):
            return DEFERRED
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._deferring("DATA"):
            return DEFERRED
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        assert envelope.mail_from is not None
        self.received.append(
            Received(
                envelope.mail_from,
                tuple(envelope.rcpt_tos),
                message,
                session.host_name,
                _encrypted(server),
            )
        )
        # The message is stored either way; with "drop" or "stall" the client never hears so.
        if self.after_data == "drop":
            assert isinstance(server.transport, asyncio.WriteTransport)
            server.transport.abort()
        elif self.after_data == "stall":
            await asyncio.get_running_loop().create_future()  # cancelled when the server stops
        return "250 OK: queued"


@dataclass(frozen=True)
class SmtpServer:
    """A running server: where it listens, what it recorded, and every session (one per
    client connection) it has had."""

    host: str
    port: int
    security: Security
    mailbox: Mailbox
    account: Account | None
    tls: TlsFiles | None
    sessions: list[SMTP]

    @property
    def ca(self) -> Path:
        """The CA certificate a client must trust to reach this server over TLS."""
        assert self.tls is not None, "a server in mode none has no certificate"
        return self.tls.ca


def _server_context(tls: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.certificate, tls.key)
    return context


@asynccontextmanager
async def running_smtp_server(
    directory: Path,
    security: Security = "none",
    *,
    login: tuple[str, str] | None = None,
) -> AsyncIterator[SmtpServer]:
    """An aiosmtpd server on a free 127.0.0.1 port, stopped (its sessions closed) on exit.

    In `starttls` mode it offers STARTTLS and refuses mail and AUTH before it. In `none`
    and `tls` modes it accepts AUTH without STARTTLS: in `tls` the whole connection is
    encrypted, in `none` only the client can refuse to log in in clear text.
    """
    loop = asyncio.get_running_loop()
    mailbox = Mailbox()
    account = Account(*login) if login is not None else None
    tls = write_tls_files(directory) if security != "none" else None
    options: dict[str, Any] = {"auth_require_tls": False}
    if security == "starttls":
        assert tls is not None
        options = {"tls_context": _server_context(tls), "require_starttls": True}
    implicit = _server_context(tls) if security == "tls" and tls is not None else None
    sessions: list[SMTP] = []

    def session() -> SMTP:
        smtp = SMTP(
            mailbox,
            hostname=SERVER_NAME,
            enable_SMTPUTF8=True,
            authenticator=account,
            loop=loop,
            **options,
        )
        sessions.append(smtp)
        return smtp

    server = await loop.create_server(session, host=HOST, port=0, ssl=implicit)
    port: int = server.sockets[0].getsockname()[1]
    try:
        yield SmtpServer(HOST, port, security, mailbox, account, tls, sessions)
    finally:
        server.close()
        # A session whose TLS handshake the client broke off never sees its connection
        # close, so each session's task is cancelled rather than waited for.
        handlers = [smtp._handler_coroutine for smtp in sessions if smtp._handler_coroutine]
        for smtp in sessions:
            for transport in (smtp.transport, smtp._original_transport):
                if transport is not None:
                    transport.close()
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()
