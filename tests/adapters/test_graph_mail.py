"""Email through Microsoft Graph sendMail: the real msal and aiohttp against the local
HTTPS stand-in for the identity platform and Graph (tests/stand_ins/graph.py)."""

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.delivery import DeliveryFailed, DeliveryUnavailable, Message, Receipt, RetryPolicy
from adapters.delivery.graph_mail import GraphMailSender, GraphMailSettings, open_graph_mail_sender
from adapters.microsoft_graph import GraphAppSettings
from tests.stand_ins.graph import (
    GraphApp,
    GraphStandIn,
    User,
    graph_app,
    hang,
    internal_error,
    running_graph_stand_in,
    throttled,
    unavailable,
)

CODE = "483920"
MAILBOX = "sspr@contoso.com"


class Sleeps:
    """The retry waits the policy asked for, recorded instead of slept."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


MakeSender = Callable[..., Awaitable[GraphMailSender]]


def code_mail(to: str = "megan@contoso.com", **details: Any) -> Message:
    return Message(
        medium="email",
        to=to,
        subject="Your password reset code",
        body=f"Your code is {CODE}. It expires in 5 minutes.",
        **details,
    )


@pytest.fixture(scope="session")
def app_files(tmp_path_factory: pytest.TempPathFactory) -> GraphApp:
    return graph_app(tmp_path_factory.mktemp("graph-mail"))


@pytest.fixture
async def stand_in(app_files: GraphApp) -> AsyncIterator[GraphStandIn]:
    async with running_graph_stand_in(app_files) as running:
        yield running


@pytest.fixture
def mailbox(stand_in: GraphStandIn) -> User:
    return stand_in.add_user(MAILBOX, "Password reset", mail=MAILBOX)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_sender(
    stand_in: GraphStandIn, mailbox: User, sleeps: Sleeps
) -> AsyncIterator[MakeSender]:
    """`await make_sender(timeout=0.3)`: a sender for the stand-in with these app settings
    overridden; `mail=` overrides the mail section, `tries=` the retry policy's tries,
    `environ=` replaces the client secret's environment."""
    opened: list[GraphMailSender] = []

    async def make(
        environ: dict[str, str] | None = None,
        *,
        mail: dict[str, Any] | None = None,
        tries: int = 3,
        **app_overrides: Any,
    ) -> GraphMailSender:
        settings = GraphMailSettings(**{"kind": "graph", "mailbox": MAILBOX, **(mail or {})})
        app = GraphAppSettings(**stand_in.settings(**app_overrides))
        sender = await open_graph_mail_sender(
            settings,
            app,
            stand_in.environ() if environ is None else environ,
            retry=RetryPolicy(tries=tries, max_wait=10.0, sleep=sleeps),
        )
        opened.append(sender)
        return sender

    yield make
    for sender in opened:
        await sender.close()


@pytest.fixture
async def sender(make_sender: MakeSender) -> GraphMailSender:
    return await make_sender()


def posts(stand_in: GraphStandIn) -> int:
    return len(stand_in.graph_requests("POST", f"/users/{MAILBOX}/sendMail"))


async def test_a_mail_arrives_as_plain_text_and_the_receipt_is_the_request_id(
    sender: GraphMailSender, stand_in: GraphStandIn, mailbox: User
) -> None:
    receipt = await sender.send(code_mail())
    [sent] = stand_in.sent_mail
    assert sent.mailbox == mailbox.id
    assert sent.message == {
        "subject": "Your password reset code",
        "body": {
            "contentType": "Text",
            "content": f"Your code is {CODE}. It expires in 5 minutes.",
        },
        "toRecipients": [{"emailAddress": {"address": "megan@contoso.com"}}],
        "internetMessageHeaders": [{"name": "X-Auto-Response-Suppress", "value": "OOF, AutoReply"}],
    }
    assert sent.save_to_sent_items is False
    assert receipt == Receipt("graph", sent.request_id)
    [request] = stand_in.graph_requests("POST")
    assert request.body["saveToSentItems"] is False
    assert request.headers["Content-Type"].startswith("application/json")
    assert uuid.UUID(request.headers["client-request-id"])
    assert "%40" in request.raw_path  # the mailbox is one path segment, percent-encoded


async def test_an_html_mail_is_sent_as_html(
    sender: GraphMailSender, stand_in: GraphStandIn
) -> None:
    html = f"<p>Your code is <b>{CODE}</b>.</p>"
    await sender.send(code_mail(html=html))
    assert stand_in.sent_mail[0].message["body"] == {"contentType": "HTML", "content": html}


async def test_sent_items_and_an_object_id_mailbox_are_configurable(
    make_sender: MakeSender, stand_in: GraphStandIn, mailbox: User
) -> None:
    sender = await make_sender(mail={"mailbox": mailbox.id, "save_to_sent_items": True})
    await sender.send(code_mail())
    [sent] = stand_in.sent_mail
    assert (sent.mailbox, sent.save_to_sent_items) == (mailbox.id, True)
    assert stand_in.graph_requests("POST", f"/users/{mailbox.id}/sendMail")


async def test_a_429_is_tried_again_after_its_retry_after(
    sender: GraphMailSender, stand_in: GraphStandIn, sleeps: Sleeps
) -> None:
    stand_in.fail_next(throttled(retry_after="3"))
    receipt = await sender.send(code_mail())
    assert len(stand_in.sent_mail) == 1
    assert receipt.id == stand_in.sent_mail[0].request_id
    assert sleeps.calls == [3.0]
    assert posts(stand_in) == 2


async def test_a_503_with_retry_after_is_tried_again(
    sender: GraphMailSender, stand_in: GraphStandIn, sleeps: Sleeps
) -> None:
    stand_in.fail_next(unavailable(retry_after="2"))
    await sender.send(code_mail())
    assert len(stand_in.sent_mail) == 1
    assert sleeps.calls == [2.0]


async def test_throttling_past_the_policy_is_not_sent_and_not_retried_further(
    make_sender: MakeSender, stand_in: GraphStandIn, sleeps: Sleeps
) -> None:
    sender = await make_sender(tries=2)
    stand_in.fail_next(throttled("1"), throttled("1"), throttled("1"))
    with pytest.raises(DeliveryFailed, match="TooManyRequests") as failed:
        await sender.send(code_mail())
    assert failed.value.maybe_sent is False
    assert posts(stand_in) == 2  # the policy's tries, none of the client's own
    assert sleeps.calls == [1.0]
    assert stand_in.sent_mail == []


async def test_a_wait_longer_than_the_policy_allows_fails_at_once(
    sender: GraphMailSender, stand_in: GraphStandIn, sleeps: Sleeps
) -> None:
    stand_in.fail_next(throttled("120"))
    with pytest.raises(DeliveryFailed) as failed:
        await sender.send(code_mail())
    assert failed.value.maybe_sent is False
    assert sleeps.calls == []
    assert posts(stand_in) == 1


@pytest.mark.parametrize("fault", [internal_error(), unavailable(retry_after=None)])
async def test_a_server_error_may_have_sent_and_is_not_repeated(
    sender: GraphMailSender, stand_in: GraphStandIn, sleeps: Sleeps, fault: Any
) -> None:
    stand_in.fail_next(fault)
    with pytest.raises(DeliveryFailed, match=str(fault.status)) as failed:
        await sender.send(code_mail())
    assert failed.value.maybe_sent is True
    assert posts(stand_in) == 1
    assert sleeps.calls == []


async def test_a_time_out_after_sending_may_have_sent(
    make_sender: MakeSender, stand_in: GraphStandIn, sleeps: Sleeps
) -> None:
    sender = await make_sender(timeout=0.3)
    stand_in.fail_next(hang())
    with pytest.raises(DeliveryFailed, match="did not answer") as failed:
        await sender.send(code_mail())
    assert failed.value.maybe_sent is True
    assert posts(stand_in) == 1
    assert sleeps.calls == []


async def test_without_mail_send_the_refusal_names_the_permission(
    sender: GraphMailSender, stand_in: GraphStandIn
) -> None:
    stand_in.mail_send = False
    with pytest.raises(DeliveryFailed) as failed:
        await sender.send(code_mail())
    assert failed.value.maybe_sent is False
    assert "403 ErrorAccessDenied" in failed.value.reason
    assert "Mail.Send" in failed.value.reason
    assert posts(stand_in) == 1


async def test_an_unknown_mailbox_or_one_without_exchange_is_refused(
    make_sender: MakeSender, stand_in: GraphStandIn
) -> None:
    nobody = await make_sender(mail={"mailbox": "nobody@contoso.com"})
    with pytest.raises(DeliveryFailed, match="404 ErrorInvalidUser") as failed:
        await nobody.send(code_mail())
    assert failed.value.maybe_sent is False
    stand_in.add_user("robot@contoso.com", "No mailbox")
    unlicensed = await make_sender(mail={"mailbox": "robot@contoso.com"})
    with pytest.raises(DeliveryFailed, match="MailboxNotEnabledForRESTAPI"):
        await unlicensed.send(code_mail())
    assert stand_in.sent_mail == []


async def test_a_bad_recipient_is_refused_not_retried(
    sender: GraphMailSender, stand_in: GraphStandIn, sleeps: Sleeps
) -> None:
    with pytest.raises(DeliveryFailed, match="400 ErrorInvalidRecipients") as failed:
        await sender.send(code_mail(to="not-an-address"))
    assert failed.value.maybe_sent is False
    assert posts(stand_in) == 1
    assert sleeps.calls == []


async def test_only_email_is_carried(sender: GraphMailSender, stand_in: GraphStandIn) -> None:
    with pytest.raises(DeliveryFailed, match="email only") as failed:
        await sender.send(Message(medium="sms", to="+14255550100", subject="", body=CODE))
    assert failed.value.maybe_sent is False
    assert stand_in.requests == []
    assert stand_in.token_requests == []


async def test_a_missing_secret_is_refused_at_open(make_sender: MakeSender) -> None:
    with pytest.raises(DeliveryUnavailable, match="SSPR_GRAPH_CLIENT_SECRET"):
        await make_sender(environ={})


async def test_a_token_failure_is_not_sent(
    make_sender: MakeSender, stand_in: GraphStandIn, sleeps: Sleeps
) -> None:
    sender = await make_sender(environ={"SSPR_GRAPH_CLIENT_SECRET": "wrong-secret-value"})
    with pytest.raises(DeliveryFailed, match="invalid_client") as failed:
        await sender.send(code_mail())
    assert failed.value.maybe_sent is False
    assert "wrong-secret-value" not in str(failed.value)
    assert stand_in.requests == []
    assert sleeps.calls == []


async def test_the_certificate_credential_sends_too(
    make_sender: MakeSender, stand_in: GraphStandIn
) -> None:
    sender = await make_sender(environ={}, certificate_file=str(stand_in.app.certificate_file))
    await sender.send(code_mail())
    assert len(stand_in.sent_mail) == 1
    assert "client_assertion" in stand_in.token_requests[0]


async def test_the_token_is_reused_and_close_is_safe_twice(
    sender: GraphMailSender, stand_in: GraphStandIn
) -> None:
    await sender.send(code_mail())
    await sender.send(code_mail(to="adele@contoso.com"))
    assert len(stand_in.sent_mail) == 2
    assert len(stand_in.token_requests) == 1
    await sender.close()
    await sender.close()


async def test_no_code_or_secret_reaches_logs_or_errors(
    make_sender: MakeSender, stand_in: GraphStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    sender = await make_sender(timeout=0.3, tries=1)
    await sender.send(code_mail(html=f"<b>{CODE}</b>"))
    for fault in (internal_error(), throttled("1"), hang()):
        stand_in.fail_next(fault)
        try:
            await sender.send(code_mail())
        except DeliveryFailed as error:
            errors.append(f"{error!s} {error!r}")
    stand_in.mail_send = False
    try:
        await sender.send(code_mail())
    except DeliveryFailed as error:
        errors.append(f"{error!s} {error!r}")
    assert len(errors) == 4
    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    for secret in (CODE, stand_in.app.client_secret, *stand_in.tokens):
        assert secret not in logged
        assert all(secret not in error for error in errors)


def test_settings_name_one_mailbox_and_describe_every_field() -> None:
    settings = GraphMailSettings(kind="graph", mailbox=MAILBOX)
    assert settings.save_to_sent_items is False
    GraphMailSettings(kind="graph", mailbox="0b1c2d3e-4f50-4617-8899-aabbccddeeff")
    for wrong in (
        {"mailbox": MAILBOX},
        {"kind": "graph"},
        {"kind": "graph", "mailbox": "sspr@contoso.com/../x"},
        {"kind": "graph", "mailbox": "two words@contoso.com"},
        {"kind": "graph", "mailbox": MAILBOX, "client_id": "x"},
    ):
        with pytest.raises(ValidationError):
            GraphMailSettings(**wrong)
    for name, field in GraphMailSettings.model_fields.items():
        assert field.description, name
