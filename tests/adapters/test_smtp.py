"""Email over SMTP, against a real aiosmtpd server in each of the three security modes."""

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.delivery import DeliveryFailed, DeliveryUnavailable, Message, RetryPolicy
from adapters.delivery.smtp import (
    PASSWORD_VARIABLE,
    SmtpSender,
    SmtpSettings,
    open_smtp_sender,
    parse_one_address,
)
from tests.support.ports import free_port
from tests.support.smtp import Security, SmtpServer, running_smtp_server
from tests.support.tls import write_unrelated_ca

USERNAME = "sspr-bot"
PASSWORD = "correct horse battery staple"
CODE = "482913"
SENDER = "Password reset <sspr@contoso.com>"
CLIENT_NAME = "bot.contoso.com"

CODE_MAIL = Message(
    "email",
    "alice@contoso.com",
    "Ihr Code für das Zurücksetzen",
    f"Ihr Code lautet {CODE}.\nEr gilt fünf Minuten.\n",
    html=f"<p>Ihr Code lautet <b>{CODE}</b>.</p>",
    locale="de",
)

MakeServer = Callable[..., AbstractAsyncContextManager[SmtpServer]]


class RecordedWaits:
    """The `sleep` of a RetryPolicy that records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def waits() -> RecordedWaits:
    return RecordedWaits()


@pytest.fixture
def retry(waits: RecordedWaits) -> RetryPolicy:
    return RetryPolicy(tries=3, max_wait=5.0, sleep=waits)


@pytest.fixture
def make_server(tmp_path: Path) -> MakeServer:
    """Starts servers (`make_server("starttls", login=(user, password))`) in directories
    of their own; the context manager stops each one."""
    count = 0

    def make(
        security: Security = "none", **options: Any
    ) -> AbstractAsyncContextManager[SmtpServer]:
        nonlocal count
        count += 1
        return running_smtp_server(tmp_path / f"smtp-{count}", security, **options)

    return make


def settings_for(server: SmtpServer, **overrides: Any) -> SmtpSettings:
    fields: dict[str, Any] = {
        "kind": "smtp",
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "sender": SENDER,
        "local_hostname": CLIENT_NAME,
    }
    if server.tls is not None:
        fields["ca_file"] = str(server.ca)
    return SmtpSettings.model_validate(fields | overrides)


def sender_for(
    server: SmtpServer,
    retry: RetryPolicy,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> SmtpSender:
    return open_smtp_sender(settings_for(server, **overrides), environ or {}, retry=retry)


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
async def test_a_code_mail_arrives_whole(
    make_server: MakeServer, retry: RetryPolicy, security: Security
) -> None:
    async with make_server(security) as server:
        sender = sender_for(server, retry, reply_to="Helpdesk <helpdesk@contoso.com>")
        before = datetime.now(UTC).replace(microsecond=0)
        receipt = await sender.send(CODE_MAIL)
        await sender.close()
        await sender.close()

    [received] = server.mailbox.received
    assert received.encrypted == (security != "none")
    assert received.client_name == CLIENT_NAME
    assert received.mail_from == "sspr@contoso.com"
    assert received.rcpt_tos == ("alice@contoso.com",)
    mail = received.message
    assert mail["From"] == SENDER
    assert mail["To"] == "alice@contoso.com"
    assert mail["Reply-To"] == "Helpdesk <helpdesk@contoso.com>"
    assert mail["Subject"] == CODE_MAIL.subject
    assert before <= parsedate_to_datetime(mail["Date"]) <= datetime.now(UTC)
    assert parsedate_to_datetime(mail["Date"]).utcoffset() == timedelta(0)
    assert mail["Message-ID"].endswith("@contoso.com>")
    assert receipt.provider == "smtp"
    assert f"<{receipt.id}>" == mail["Message-ID"]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Content-Language"] == "de"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = (part for part in mail.iter_parts())
    assert text.get_content_type() == "text/plain"
    assert text.get_content().replace("\r\n", "\n") == CODE_MAIL.body
    assert html.get_content_type() == "text/html"
    assert html.get_content().rstrip("\r\n") == CODE_MAIL.html


async def test_a_mail_without_html_is_plain_text(
    make_server: MakeServer, retry: RetryPolicy
) -> None:
    async with make_server() as server:
        await sender_for(server, retry).send(Message("email", "bob@contoso.com", "Code", "1234"))
    [received] = server.mailbox.received
    assert received.message.get_content_type() == "text/plain"
    assert received.message.get_content().rstrip("\r\n") == "1234"
    assert received.message["Reply-To"] is None


async def test_an_international_address_uses_smtputf8(
    make_server: MakeServer, retry: RetryPolicy
) -> None:
    async with make_server() as server:
        await sender_for(server, retry).send(Message("email", "jörg@müller.example", "Code", "1"))
    [received] = server.mailbox.received
    assert received.rcpt_tos == ("jörg@müller.example",)
    assert received.message["To"] == "jörg@müller.example"


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
async def test_the_bot_logs_in_with_its_account(
    make_server: MakeServer, retry: RetryPolicy, security: Security
) -> None:
    async with make_server(security, login=(USERNAME, PASSWORD)) as server:
        sender = sender_for(server, retry, {PASSWORD_VARIABLE: PASSWORD}, username=USERNAME)
        await sender.send(CODE_MAIL)
    assert server.account is not None
    [attempt] = server.account.attempts
    assert (attempt.username, attempt.password) == (USERNAME, PASSWORD)
    assert attempt.encrypted == (security != "none")  # none only to 127.0.0.1
    assert len(server.mailbox.received) == 1


async def test_a_wrong_password_fails_at_once(
    make_server: MakeServer, retry: RetryPolicy, waits: RecordedWaits
) -> None:
    async with make_server("starttls", login=(USERNAME, PASSWORD)) as server:
        sender = sender_for(server, retry, {PASSWORD_VARIABLE: "wrong"}, username=USERNAME)
        with pytest.raises(DeliveryFailed) as failed:
            await sender.send(CODE_MAIL)
    assert failed.value.maybe_sent is False
    assert failed.value.reason == f"smtp 127.0.0.1:{server.port}: login refused (535)"
    assert waits.waits == []
    assert server.mailbox.senders == []
    assert server.mailbox.received == []


async def test_a_refused_recipient_fails_at_once(
    make_server: MakeServer, retry: RetryPolicy, waits: RecordedWaits
) -> None:
    async with make_server("starttls") as server:
        server.mailbox.refused.add("nobody@contoso.com")
        with pytest.raises(DeliveryFailed) as failed:
            await sender_for(server, retry).send(
                Message("email", "nobody@contoso.com", "Code", CODE)
            )
    assert failed.value.maybe_sent is False
    assert failed.value.reason == f"smtp 127.0.0.1:{server.port}: recipient refused (550)"
    assert waits.waits == []
    assert server.mailbox.received == []


@pytest.mark.parametrize("step", ["MAIL", "RCPT", "DATA"])
async def test_a_451_is_tried_again(
    make_server: MakeServer, retry: RetryPolicy, waits: RecordedWaits, step: Any
) -> None:
    async with make_server("starttls") as server:
        server.mailbox.defer(1, at=step)
        receipt = await sender_for(server, retry).send(CODE_MAIL)
    assert waits.waits == [0.5]
    assert len(server.sessions) == 2  # a new connection for the second try
    [received] = server.mailbox.received
    assert f"<{receipt.id}>" == received.message["Message-ID"]


async def test_a_server_that_keeps_deferring_is_given_up(
    make_server: MakeServer, retry: RetryPolicy, waits: RecordedWaits
) -> None:
    async with make_server() as server:
        server.mailbox.defer(3)
        with pytest.raises(DeliveryFailed) as failed:
            await sender_for(server, retry).send(CODE_MAIL)
    assert failed.value.maybe_sent is False
    assert failed.value.reason == (
        f"smtp 127.0.0.1:{server.port}: sender refused (451); gave up after 3 tries"
    )
    assert waits.waits == [0.5, 1.0]
    assert server.mailbox.received == []


async def test_a_dead_server_fails_after_the_retries(
    retry: RetryPolicy, waits: RecordedWaits
) -> None:
    port = free_port()
    settings = SmtpSettings(
        kind="smtp",
        host="127.0.0.1",
        port=port,
        security="none",
        sender=SENDER,
        local_hostname=CLIENT_NAME,
    )
    sender = open_smtp_sender(settings, {}, retry=retry)
    with pytest.raises(DeliveryFailed) as failed:
        await sender.send(CODE_MAIL)
    assert failed.value.maybe_sent is False
    assert failed.value.reason == (
        f"smtp 127.0.0.1:{port}: cannot connect (Connection refused); gave up after 3 tries"
    )
    assert waits.waits == [0.5, 1.0]


async def test_starttls_is_never_skipped(
    make_server: MakeServer, retry: RetryPolicy, waits: RecordedWaits
) -> None:
    # A clear-text server that would take the login and the message without TLS.
    async with make_server("none", login=(USERNAME, PASSWORD)) as server:
        sender = sender_for(
            server, retry, {PASSWORD_VARIABLE: PASSWORD}, security="starttls", username=USERNAME
        )
        with pytest.raises(DeliveryFailed) as failed:
            await sender.send(CODE_MAIL)
    assert failed.value.maybe_sent is False
    assert failed.value.reason == (
        f"smtp 127.0.0.1:{server.port}: the server does not offer STARTTLS"
    )
    assert waits.waits == []
    assert server.account is not None
    assert server.account.attempts == []
    assert server.mailbox.senders == []
    assert server.mailbox.received == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_an_untrusted_certificate_fails_at_once(
    make_server: MakeServer,
    retry: RetryPolicy,
    waits: RecordedWaits,
    tmp_path: Path,
    security: Security,
) -> None:
    async with make_server(security, login=(USERNAME, PASSWORD)) as server:
        sender = sender_for(
            server,
            retry,
            {PASSWORD_VARIABLE: PASSWORD},
            username=USERNAME,
            ca_file=str(write_unrelated_ca(tmp_path / "other-ca.pem")),
        )
        with pytest.raises(DeliveryFailed) as failed:
            await sender.send(CODE_MAIL)
    assert failed.value.maybe_sent is False
    assert failed.value.reason.startswith(
        f"smtp 127.0.0.1:{server.port}: TLS certificate not trusted ("
    )
    assert waits.waits == []
    assert server.account is not None
    assert server.account.attempts == []
    assert server.mailbox.received == []


async def test_the_certificate_must_name_the_host(
    make_server: MakeServer, retry: RetryPolicy
) -> None:
    async with make_server("tls") as server:
        # "127.1" reaches 127.0.0.1, but the certificate names only 127.0.0.1 and localhost.
        sender = sender_for(server, retry, host="127.1")
        with pytest.raises(DeliveryFailed) as failed:
            await sender.send(CODE_MAIL)
    assert failed.value.maybe_sent is False
    assert failed.value.reason.startswith(f"smtp 127.1:{server.port}: TLS certificate not trusted")
    assert "mismatch" in failed.value.reason


async def test_the_ca_file_is_taken_from_the_data_directory(
    make_server: MakeServer, retry: RetryPolicy
) -> None:
    async with make_server("tls") as server:
        settings = settings_for(server, ca_file=server.ca.name)
        sender = open_smtp_sender(settings, {}, retry=retry, base_dir=server.ca.parent)
        await sender.send(CODE_MAIL)
    assert len(server.mailbox.received) == 1


@pytest.mark.parametrize(
    ("after_data", "lost"),
    [("drop", "connection lost"), ("stall", "no answer within 0.2 s")],
)
async def test_no_answer_to_the_message_counts_as_maybe_sent(
    make_server: MakeServer,
    retry: RetryPolicy,
    waits: RecordedWaits,
    after_data: Any,
    lost: str,
) -> None:
    async with make_server("starttls") as server:
        server.mailbox.after_data = after_data
        with pytest.raises(DeliveryFailed) as failed:
            await sender_for(server, retry, timeout=0.2).send(CODE_MAIL)
    assert failed.value.maybe_sent is True
    assert failed.value.reason == (
        f"smtp 127.0.0.1:{server.port}: {lost} after the message was handed over"
    )
    assert waits.waits == []  # never repeated
    assert len(server.sessions) == 1
    assert len(server.mailbox.received) == 1


@pytest.mark.parametrize(
    "to",
    [
        "alice@contoso.com\r\nBcc: eve@evil.example",
        "alice@contoso.com\nBcc: eve@evil.example",
        "alice@contoso.com\r",
        "alice@contoso.com, eve@evil.example",
        "friends: alice@contoso.com;",
        "alice",
        "alice@",
        "",
    ],
)
async def test_a_bad_recipient_is_refused_without_connecting(
    make_server: MakeServer, retry: RetryPolicy, to: str
) -> None:
    async with make_server() as server:
        with pytest.raises(DeliveryFailed) as failed:
            await sender_for(server, retry).send(Message("email", to, "Code", CODE))
    assert failed.value.maybe_sent is False
    assert failed.value.reason.startswith(f"smtp 127.0.0.1:{server.port}: recipient address ")
    assert "evil" not in failed.value.reason
    assert server.sessions == []
    assert server.mailbox.received == []


async def test_a_header_with_a_line_break_is_refused_without_connecting(
    make_server: MakeServer, retry: RetryPolicy
) -> None:
    async with make_server() as server:
        message = Message("email", "alice@contoso.com", "Code\r\nBcc: eve@evil.example", CODE)
        with pytest.raises(DeliveryFailed):
            await sender_for(server, retry).send(message)
    assert server.sessions == []


@pytest.mark.parametrize("environ", [{}, {PASSWORD_VARIABLE: ""}])
def test_a_missing_password_is_named(retry: RetryPolicy, environ: dict[str, str]) -> None:
    settings = SmtpSettings(kind="smtp", host="smtp.contoso.com", sender=SENDER, username=USERNAME)
    with pytest.raises(DeliveryUnavailable, match=PASSWORD_VARIABLE):
        open_smtp_sender(settings, environ, retry=retry)


async def test_a_password_without_a_username_is_ignored(
    make_server: MakeServer, retry: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_server("starttls", login=(USERNAME, PASSWORD)) as server:
        sender = sender_for(server, retry, {PASSWORD_VARIABLE: PASSWORD})
        await sender.send(CODE_MAIL)
    assert server.account is not None
    assert server.account.attempts == []
    assert len(server.mailbox.received) == 1
    [warning] = [r for r in caplog.records if r.name == "adapters.delivery.smtp"]
    assert warning.levelno == logging.WARNING
    assert PASSWORD_VARIABLE in warning.getMessage()
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("ca_file", ["missing.pem", "not-pem.pem"])
def test_an_unusable_ca_file_is_named(retry: RetryPolicy, tmp_path: Path, ca_file: str) -> None:
    (tmp_path / "not-pem.pem").write_text("not a certificate\n")
    settings = SmtpSettings(kind="smtp", host="smtp.contoso.com", sender=SENDER, ca_file=ca_file)
    with pytest.raises(DeliveryUnavailable, match=ca_file):
        open_smtp_sender(settings, {}, retry=retry, base_dir=tmp_path)


async def test_no_password_or_message_in_reasons_or_logs(
    make_server: MakeServer,
    retry: RetryPolicy,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters")
    reasons: list[str] = []
    environ = {PASSWORD_VARIABLE: PASSWORD}
    async with make_server("starttls", login=(USERNAME, "another password")) as server:
        senders = [
            sender_for(server, retry, environ, username=USERNAME),
            sender_for(server, retry, environ, username=USERNAME, port=free_port()),
            sender_for(
                server,
                retry,
                environ,
                username=USERNAME,
                ca_file=str(write_unrelated_ca(tmp_path / "ca.pem")),
            ),
        ]
        for sender in senders:
            with pytest.raises(DeliveryFailed) as failed:
                await sender.send(CODE_MAIL)
            reasons.append(failed.value.reason)
            reasons.append(repr(failed.value))
    written = "\n".join([*reasons, caplog.text])
    for secret in (PASSWORD, CODE, CODE_MAIL.subject):
        assert secret not in written


def test_settings_defaults_and_ports() -> None:
    settings = SmtpSettings(kind="smtp", host="smtp.contoso.com", sender=SENDER)
    assert settings.security == "starttls"
    assert settings.effective_port == 587
    assert (settings.username, settings.reply_to, settings.ca_file) == (None, None, None)
    assert (settings.timeout, settings.local_hostname) == (10.0, None)
    assert settings.sender_address.addr_spec == "sspr@contoso.com"
    ports = {
        security: SmtpSettings(
            kind="smtp", host="smtp.contoso.com", sender=SENDER, security=security
        ).effective_port
        for security in ("none", "starttls", "tls")
    }
    assert ports == {"none": 25, "starttls": 587, "tls": 465}
    assert SmtpSettings(kind="smtp", host="h", sender=SENDER, port=2525).effective_port == 2525
    assert all(field.description for field in SmtpSettings.model_fields.values())
    assert next(iter(SmtpSettings.model_fields)) == "kind"


def test_no_login_in_clear_text_across_the_network() -> None:
    with pytest.raises(ValueError, match="clear text"):
        SmtpSettings(
            kind="smtp",
            host="smtp.contoso.com",
            security="none",
            sender=SENDER,
            username=USERNAME,
        )
    for host in ("127.0.0.1", "localhost", "::1"):
        SmtpSettings(kind="smtp", host=host, security="none", sender=SENDER, username=USERNAME)
    SmtpSettings(kind="smtp", host="smtp.contoso.com", security="none", sender=SENDER)


@pytest.mark.parametrize(
    "fields",
    [
        {"sender": "sspr@contoso.com, eve@evil.example"},
        {"sender": "Reset <sspr@contoso.com>\r\nBcc: eve@evil.example"},
        {"sender": "sspr"},
        {"sender": "sspr@müller.example"},
        {"reply_to": "a@contoso.com, b@contoso.com"},
        {"security": "none", "ca_file": "ca.pem"},
        {"local_hostname": "bad name"},
        {"port": 0},
        {"timeout": 0},
        {"host": ""},
        {"password": PASSWORD},
    ],
)
def test_settings_refuse(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic's ValidationError is one
        SmtpSettings.model_validate(
            {"kind": "smtp", "host": "smtp.contoso.com", "sender": SENDER} | fields
        )


def test_one_address_parsing() -> None:
    named = parse_one_address("Password reset <sspr@contoso.com>")
    assert (named.display_name, named.addr_spec) == ("Password reset", "sspr@contoso.com")
    assert parse_one_address('"Doe, Jane" <jane@contoso.com>').display_name == "Doe, Jane"
    assert parse_one_address("jörg@müller.example").addr_spec == "jörg@müller.example"
    with pytest.raises(ValueError, match="ASCII"):
        parse_one_address("sspr@müller.example", ascii_only=True)
