"""Text messages and voice calls through the real `twilio` package, against a local
stand-in that speaks Twilio's REST wire format (tests/stand_ins/twilio.py)."""

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from pydantic import ValidationError

from adapters.delivery import DeliveryFailed, DeliveryUnavailable, Message, Receipt, RetryPolicy
from adapters.delivery.twilio_sender import (
    TwilioSender,
    TwilioSettings,
    dialable,
    open_twilio_sender,
    say_language,
)
from tests.stand_ins.twilio import TwilioStandIn, running_twilio_stand_in
from tests.support.ports import free_port
from tests.support.tickets import RecordingSleep
from tests.support.tls import write_tls_files

ACCOUNT = "AC" + "0123456789abcdef" * 2
NUMBER = "+14255550100"
CODE = "481592"
DIGITS = ", ".join(CODE)
SMS = Message("sms", "+14255550101", "Your reset code", body=f"Your reset code is {CODE}.")
SPEECH = ("Your password reset code is", DIGITS, "Again:", DIGITS, "Goodbye.")
CALL = Message(
    "voice",
    "+494012345678",
    "Your reset code",
    body=" ".join(SPEECH),
    speech=SPEECH,
    locale="de",
)


OpenSender = Callable[..., TwilioSender]


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioStandIn]:
    async with running_twilio_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
async def make_sender(twilio: TwilioStandIn, sleep: RecordingSleep) -> AsyncIterator[OpenSender]:
    """Opens senders pointed at the stand-in (settings overridable), closed at the end."""
    opened: list[TwilioSender] = []

    def make(environ: Mapping[str, str] | None = None, **overrides: Any) -> TwilioSender:
        settings = TwilioSettings.model_validate(twilio.settings(**overrides))
        sender = open_twilio_sender(
            settings,
            twilio.environ() if environ is None else environ,
            retry=RetryPolicy(tries=3, max_wait=5.0, sleep=sleep),
        )
        opened.append(sender)
        return sender

    yield make
    for sender in opened:
        await sender.close()


async def failure(send: Awaitable[Receipt]) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as raised:
        await send
    return raised.value


async def test_a_text_message_logs_in_with_the_auth_token(
    twilio: TwilioStandIn, make_sender: OpenSender
) -> None:
    receipt = await make_sender().send(SMS)

    [request] = twilio.requests
    assert (request.resource, request.account_sid) == ("Messages", twilio.account_sid)
    assert (request.username, request.password) == (twilio.account_sid, twilio.auth_token)
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.form == {"To": SMS.to, "From": twilio.from_number, "Body": SMS.body}
    assert request.status == 201
    assert receipt == Receipt("twilio", request.answer["sid"])
    assert receipt.id.startswith("SM")


async def test_a_text_message_logs_in_with_an_api_key(
    twilio: TwilioStandIn, make_sender: OpenSender
) -> None:
    sender = make_sender(twilio.environ(api_key=True), api_key_sid=twilio.api_key_sid)
    receipt = await sender.send(SMS)

    [request] = twilio.requests
    assert request.account_sid == twilio.account_sid
    assert (request.username, request.password) == (twilio.api_key_sid, twilio.api_secret)
    assert request.form["Body"] == SMS.body
    assert receipt.id == request.answer["sid"]


async def test_a_messaging_service_picks_the_sender(
    twilio: TwilioStandIn, make_sender: OpenSender
) -> None:
    sender = make_sender(from_number=None, messaging_service_sid=twilio.messaging_service_sid)
    receipt = await sender.send(SMS)

    [request] = twilio.requests
    assert request.form == {
        "To": SMS.to,
        "MessagingServiceSid": twilio.messaging_service_sid,
        "Body": SMS.body,
    }
    assert request.answer["status"] == "accepted"
    assert receipt.id == request.answer["sid"]


async def test_a_formatted_international_number_is_sent_as_e164(
    twilio: TwilioStandIn, make_sender: OpenSender
) -> None:
    await make_sender().send(Message("sms", " +1 (425) 555-0101 ", "", body="hello"))
    assert twilio.requests[0].form["To"] == "+14255550101"
    assert dialable("0425 5550101") == "0425 5550101"


async def test_a_call_reads_the_code_twice_with_pauses_in_the_users_language(
    twilio: TwilioStandIn, make_sender: OpenSender
) -> None:
    receipt = await make_sender().send(CALL)

    [request] = twilio.requests
    assert request.resource == "Calls"
    assert set(request.form) == {"To", "From", "Twiml"}
    assert (request.form["To"], request.form["From"]) == (CALL.to, twilio.from_number)
    assert receipt == Receipt("twilio", request.answer["sid"])
    assert receipt.id.startswith("CA")

    response = ElementTree.fromstring(request.form["Twiml"])  # noqa: S314 - our own TwiML
    assert response.tag == "Response"
    assert [element.tag for element in response] == [
        "Say", "Pause", "Say", "Pause", "Say", "Pause", "Say", "Pause", "Say",
    ]  # fmt: skip
    says = response.findall("Say")
    assert [say.text for say in says] == list(SPEECH)
    assert [say.text for say in says].count(DIGITS) == 2
    assert [say.text.split(", ") for say in says if say.text == DIGITS] == [list(CODE)] * 2
    assert {say.get("language") for say in says} == {"de-DE"}
    assert all(say.get("voice") is None for say in says)
    assert {pause.get("length") for pause in response.findall("Pause")} == {"1"}


async def test_a_configured_voice_speaks_every_utterance(
    twilio: TwilioStandIn, make_sender: OpenSender
) -> None:
    await make_sender(voice="Polly.Vicki").send(CALL)
    response = ElementTree.fromstring(twilio.requests[0].form["Twiml"])  # noqa: S314
    assert {say.get("voice") for say in response.findall("Say")} == {"Polly.Vicki"}


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("en", "en-US"),
        ("de", "de-DE"),
        ("fr", "fr-FR"),
        ("es", "es-ES"),
        ("en-GB", "en-GB"),
        ("en_gb", "en-GB"),
        ("de-AT", "de-AT"),
        ("fr-CA", "fr-CA"),
        ("pt-PT", "pt-PT"),
        ("de-LU", "de-DE"),
        ("zh-TW", "cmn-TW"),
        ("zh", "cmn-CN"),
        ("nb", "nb-NO"),
        ("xx", "en-US"),
        ("", "en-US"),
    ],
)
def test_say_language(locale: str, language: str) -> None:
    assert say_language(locale) == language


async def test_429_then_success_is_delivered_after_one_retry(
    twilio: TwilioStandIn, make_sender: OpenSender, sleep: RecordingSleep
) -> None:
    twilio.fail_next(429, retry_after=2)
    receipt = await make_sender().send(SMS)

    assert [request.status for request in twilio.requests] == [429, 201]
    assert sleep.waits == [2.0]
    assert receipt.id == twilio.requests[1].answer["sid"]


async def test_429_without_retry_after_backs_off(
    twilio: TwilioStandIn, make_sender: OpenSender, sleep: RecordingSleep
) -> None:
    twilio.fail_next(429)
    await make_sender().send(CALL)
    assert [request.status for request in twilio.requests] == [429, 201]
    assert sleep.waits == [0.5]


async def test_429_on_every_try_is_not_sent(
    twilio: TwilioStandIn, make_sender: OpenSender, sleep: RecordingSleep
) -> None:
    twilio.fail_next(429, times=5)
    failed = await failure(make_sender().send(SMS))

    assert not failed.maybe_sent
    assert failed.reason == "twilio: HTTP 429 (code 20429); gave up after 3 tries"
    assert len(twilio.requests) == 3
    assert sleep.waits == [0.5, 1.0]


async def test_a_server_error_may_have_sent_and_is_never_repeated(
    twilio: TwilioStandIn, make_sender: OpenSender, sleep: RecordingSleep
) -> None:
    twilio.fail_next(500, times=3)
    failed = await failure(make_sender().send(SMS))

    assert failed.maybe_sent
    assert failed.reason == "twilio: HTTP 500 (code 20500)"
    assert len(twilio.requests) == 1
    assert sleep.waits == []


async def test_an_invalid_number_is_refused_and_not_sent(
    twilio: TwilioStandIn, make_sender: OpenSender
) -> None:
    failed = await failure(make_sender().send(Message("sms", "12345", "", body=SMS.body)))

    assert not failed.maybe_sent
    assert failed.reason == "twilio: HTTP 400 (code 21211)"
    assert "12345" not in failed.reason
    assert len(twilio.requests) == 1


async def test_a_wrong_auth_token_is_refused_once(
    twilio: TwilioStandIn, make_sender: OpenSender
) -> None:
    failed = await failure(make_sender({"TWILIO_AUTH_TOKEN": "not-the-token"}).send(CALL))

    assert not failed.maybe_sent
    assert failed.reason == "twilio: HTTP 401 (code 20003)"
    assert [request.status for request in twilio.requests] == [401]


async def test_a_refused_connection_is_tried_again_then_not_sent(
    make_sender: OpenSender, sleep: RecordingSleep
) -> None:
    sender = make_sender(api_base=f"http://127.0.0.1:{free_port()}")
    failed = await failure(sender.send(SMS))

    assert not failed.maybe_sent
    assert failed.reason == "twilio: cannot connect to 127.0.0.1; gave up after 3 tries"
    assert sleep.waits == [0.5, 1.0]


async def test_no_answer_in_time_may_have_sent(
    twilio: TwilioStandIn, make_sender: OpenSender, sleep: RecordingSleep
) -> None:
    twilio.hold_next()
    failed = await failure(make_sender(timeout=0.2).send(SMS))

    assert twilio.held.is_set()
    assert failed.maybe_sent
    assert failed.reason == "twilio: no answer within 0.2 s"
    assert len(twilio.requests) == 1
    assert sleep.waits == []


@contextmanager
def port_that_never_connects() -> Iterator[int]:
    """A 127.0.0.1 port whose listener never accepts and whose accept queue is full, so
    the kernel leaves a new connection waiting, as a firewall that drops packets would."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                with suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
            yield port
        finally:
            for filler in fillers:
                filler.close()


async def test_no_connection_in_time_is_not_sent_and_not_repeated(
    make_sender: OpenSender, sleep: RecordingSleep
) -> None:
    with port_that_never_connects() as port:
        sender = make_sender(api_base=f"http://127.0.0.1:{port}", timeout=0.2)
        failed = await failure(sender.send(SMS))

    assert not failed.maybe_sent
    assert failed.reason == "twilio: no connection to 127.0.0.1 within 0.2 s"
    assert sleep.waits == []


async def test_email_and_calls_without_a_number_are_refused_before_sending(
    twilio: TwilioStandIn, make_sender: OpenSender
) -> None:
    email = Message("email", "alice@contoso.com", "Your code", body=SMS.body)
    failed = await failure(make_sender().send(email))
    assert failed.reason == "twilio: carries sms and voice, not email"

    service_only = make_sender(from_number=None, messaging_service_sid=twilio.messaging_service_sid)
    failed = await failure(service_only.send(CALL))
    assert failed.reason == "twilio: voice calls need from_number in the settings"
    assert not failed.maybe_sent
    assert twilio.requests == []


async def test_the_process_environment_is_never_read(
    twilio: TwilioStandIn, make_sender: OpenSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-token-from-elsewhere")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    await make_sender().send(SMS)
    [request] = twilio.requests
    assert (request.username, request.password) == (twilio.account_sid, twilio.auth_token)


async def test_a_ca_file_trusts_a_private_certificate_authority(tmp_path: Path) -> None:
    tls = write_tls_files(tmp_path / "tls")
    retry = RetryPolicy(tries=3, sleep=RecordingSleep())
    async with running_twilio_stand_in(tls) as twilio:
        assert twilio.api_base.startswith("https://")
        trusting = open_twilio_sender(
            TwilioSettings.model_validate(twilio.settings(ca_file="tls/ca.pem")),
            twilio.environ(),
            retry=retry,
            base_dir=tmp_path,
        )
        untrusting = open_twilio_sender(
            TwilioSettings.model_validate(twilio.settings()), twilio.environ(), retry=retry
        )
        try:
            receipt = await trusting.send(SMS)
            failed = await failure(untrusting.send(SMS))
        finally:
            await trusting.close()
            await untrusting.close()
    assert receipt.id == twilio.requests[0].answer["sid"]
    assert len(twilio.requests) == 1
    assert not failed.maybe_sent
    assert failed.reason.startswith("twilio: TLS certificate not trusted (")


def test_an_unreadable_ca_file_stops_the_start(tmp_path: Path) -> None:
    settings = TwilioSettings(kind="twilio", account_sid=ACCOUNT, from_number=NUMBER)
    (tmp_path / "not-pem.txt").write_text("hello")
    for name, problem in (("missing.pem", "cannot be read"), ("not-pem.txt", "not a PEM")):
        with pytest.raises(DeliveryUnavailable, match=problem):
            open_twilio_sender(
                settings.model_copy(update={"ca_file": name}),
                {"TWILIO_AUTH_TOKEN": "t"},
                retry=RetryPolicy(),
                base_dir=tmp_path,
            )


def test_a_missing_secret_stops_the_start() -> None:
    settings = TwilioSettings(kind="twilio", account_sid=ACCOUNT, from_number=NUMBER)
    with pytest.raises(DeliveryUnavailable, match="TWILIO_AUTH_TOKEN"):
        open_twilio_sender(settings, {}, retry=RetryPolicy())
    with pytest.raises(DeliveryUnavailable, match="TWILIO_AUTH_TOKEN"):
        open_twilio_sender(settings, {"TWILIO_AUTH_TOKEN": ""}, retry=RetryPolicy())
    keyed = settings.model_copy(update={"api_key_sid": "SK" + "1" * 32})
    with pytest.raises(DeliveryUnavailable, match="TWILIO_API_SECRET"):
        open_twilio_sender(keyed, {"TWILIO_AUTH_TOKEN": "t"}, retry=RetryPolicy())


async def test_close_is_safe_twice_and_before_any_send(make_sender: OpenSender) -> None:
    unused = make_sender()
    await unused.close()
    await unused.close()
    used = make_sender()
    await used.send(SMS)
    await used.close()
    await used.close()


async def test_neither_the_secret_nor_the_code_reaches_logs_or_reasons(
    twilio: TwilioStandIn, make_sender: OpenSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    keyed = make_sender(twilio.environ(api_key=True), api_key_sid=twilio.api_key_sid)
    plain = make_sender()
    reasons: list[str] = []
    await plain.send(SMS)
    await keyed.send(CALL)
    twilio.fail_next(429, times=3)
    twilio.fail_next(500)
    for message in (SMS, CALL):
        reasons.append((await failure(plain.send(message))).reason)
    reasons.append((await failure(plain.send(Message("sms", "+1", "", body=SMS.body)))).reason)
    twilio.hold_next()
    reasons.append((await failure(make_sender(timeout=0.2).send(CALL))).reason)

    assert len(reasons) == 4
    secrets = (twilio.auth_token, twilio.api_secret, CODE, DIGITS, SMS.body)
    for text in (caplog.text, *reasons, repr(plain), repr(keyed)):
        for secret in secrets:
            assert secret not in text
    assert not [record for record in caplog.records if record.name.startswith("twilio")]


# -- settings ---------------------------------------------------------------------------


def settings(**fields: Any) -> TwilioSettings:
    return TwilioSettings.model_validate(
        {"kind": "twilio", "account_sid": ACCOUNT, "from_number": NUMBER, **fields}
    )


def test_settings_defaults_and_descriptions() -> None:
    chosen = settings()
    assert chosen.api_base == "https://api.twilio.com"
    assert (chosen.timeout, chosen.voice, chosen.api_key_sid, chosen.ca_file) == (
        10.0,
        None,
        None,
        None,
    )
    assert next(iter(TwilioSettings.model_fields)) == "kind"
    assert all(field.description for field in TwilioSettings.model_fields.values())
    with pytest.raises(ValidationError, match="frozen"):
        chosen.timeout = 1.0  # type: ignore[misc]


def test_api_base_must_protect_the_secret() -> None:
    with pytest.raises(ValidationError, match="must use https"):
        settings(api_base="http://api.twilio.com")
    with pytest.raises(ValidationError, match="credentials"):
        settings(api_base="https://user:pass@api.twilio.com")
    with pytest.raises(ValidationError, match="absolute https URL"):
        settings(api_base="api.twilio.com")
    assert settings(api_base="http://127.0.0.1:8080/").api_base == "http://127.0.0.1:8080"
    assert settings(api_base="https://api.dublin.ie1.twilio.com").api_base.endswith(
        "ie1.twilio.com"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"account_sid": "AC123"},
        {"from_number": "4255550100"},
        {"from_number": "+0425555"},
        {"messaging_service_sid": "MG12"},
        {"api_key_sid": "AC" + "1" * 32},
        {"timeout": 0},
        {"voice": "Polly Joanna"},
        {"auth_token": "not here"},
    ],
)
def test_settings_refuse(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        settings(**fields)


def test_a_sender_number_or_service_is_required() -> None:
    with pytest.raises(ValidationError, match="from_number or messaging_service_sid"):
        TwilioSettings(kind="twilio", account_sid=ACCOUNT)
    assert (
        TwilioSettings(
            kind="twilio", account_sid=ACCOUNT, messaging_service_sid="MG" + "a" * 32
        ).from_number
        is None
    )
