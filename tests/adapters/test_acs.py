"""Texts through Azure Communication Services: the real SDK against the HTTPS stand-in."""

import base64
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.delivery import DeliveryFailed, DeliveryUnavailable, Message, Receipt, RetryPolicy
from adapters.delivery.acs import (
    ACCESS_KEY_VARIABLE,
    CONNECTION_STRING_VARIABLE,
    HTTP_LOGGER,
    AcsSender,
    AcsSettings,
    open_acs_sender,
)
from tests.stand_ins.acs import API_VERSION, AcsStandIn, new_access_key, running_acs_stand_in
from tests.support.ports import free_port

SENDER = "+14255550100"
RECIPIENT = "+14255550123"
CODE = "739204"
TEXT = f"Your password reset code is {CODE}"


@pytest.fixture
async def acs(tmp_path: Path) -> AsyncIterator[AcsStandIn]:
    async with running_acs_stand_in(tmp_path) as stand_in:
        yield stand_in


class Pauses:
    """RetryPolicy's sleep: records each pause instead of waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@pytest.fixture
def pauses() -> Pauses:
    return Pauses()


def text(to: str = RECIPIENT) -> Message:
    return Message("sms", to, "", TEXT)


def settings_for(acs: AcsStandIn, **overrides: Any) -> AcsSettings:
    fields: dict[str, Any] = {
        "kind": "acs",
        "endpoint": acs.url,
        "from_number": SENDER,
        "ca_file": str(acs.tls.ca),
        **overrides,
    }
    return AcsSettings.model_validate(fields)


@asynccontextmanager
async def sender_for(
    settings: AcsSettings,
    environ: Mapping[str, str],
    pauses: Pauses,
    *,
    tries: int = 3,
    max_wait: float = 5.0,
    base_dir: Path | None = None,
) -> AsyncIterator[AcsSender]:
    retry = RetryPolicy(tries=tries, max_wait=max_wait, sleep=pauses)
    sender = open_acs_sender(settings, environ, retry=retry, base_dir=base_dir)
    try:
        yield sender
    finally:
        await sender.close()


async def send(
    acs: AcsStandIn, pauses: Pauses, message: Message | None = None, **overrides: Any
) -> Receipt:
    environ = {ACCESS_KEY_VARIABLE: acs.access_key}
    async with sender_for(settings_for(acs, **overrides), environ, pauses) as sender:
        return await sender.send(message or text())


async def failure(
    acs: AcsStandIn, pauses: Pauses, message: Message | None = None, **overrides: Any
) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as raised:
        await send(acs, pauses, message, **overrides)
    return raised.value


# Sent


async def test_sent_with_an_access_key(acs: AcsStandIn, pauses: Pauses) -> None:
    receipt = await send(acs, pauses, enable_delivery_report=True, tag="sspr-bot")

    (sms,) = acs.messages
    assert receipt == Receipt("acs", sms.message_id)
    assert sms.message_id.startswith("Outgoing_")
    assert (sms.sender, sms.to, sms.text) == (SENDER, RECIPIENT, TEXT)
    assert sms.options == {"enableDeliveryReport": True, "tag": "sspr-bot"}
    (request,) = acs.requests
    assert request.authorized
    assert request.status == 202
    assert request.path_qs == f"/sms?api-version={API_VERSION}"
    assert pauses.seconds == []


async def test_sent_with_a_connection_string(acs: AcsStandIn, pauses: Pauses) -> None:
    settings = settings_for(acs, endpoint=None)
    environ = {CONNECTION_STRING_VARIABLE: acs.connection_string}
    async with sender_for(settings, environ, pauses) as sender:
        receipt = await sender.send(text())

    (sms,) = acs.messages
    assert receipt.id == sms.message_id
    assert acs.requests[0].authorized


async def test_a_connection_string_may_repeat_the_configured_endpoint(
    acs: AcsStandIn, pauses: Pauses
) -> None:
    settings = settings_for(acs, endpoint=f"{acs.url}/")
    environ = {CONNECTION_STRING_VARIABLE: acs.connection_string}
    async with sender_for(settings, environ, pauses) as sender:
        await sender.send(text())
    assert len(acs.messages) == 1


async def test_a_relative_ca_file_is_taken_from_the_data_directory(
    acs: AcsStandIn, pauses: Pauses, tmp_path: Path
) -> None:
    settings = settings_for(acs, ca_file="tls/ca.pem")
    environ = {ACCESS_KEY_VARIABLE: acs.access_key}
    async with sender_for(settings, environ, pauses, base_dir=tmp_path) as sender:
        await sender.send(text())
    assert len(acs.messages) == 1


async def test_one_sender_sends_many_texts_and_closes_twice(
    acs: AcsStandIn, pauses: Pauses
) -> None:
    environ = {ACCESS_KEY_VARIABLE: acs.access_key}
    async with sender_for(settings_for(acs), environ, pauses) as sender:
        first = await sender.send(text())
        second = await sender.send(text("+14255550124"))
        await sender.close()
    assert first.id != second.id
    assert [sms.to for sms in acs.messages] == [RECIPIENT, "+14255550124"]


# Refused


async def test_a_wrong_access_key_is_refused_and_not_repeated(
    acs: AcsStandIn, pauses: Pauses
) -> None:
    wrong = new_access_key()
    async with sender_for(settings_for(acs), {ACCESS_KEY_VARIABLE: wrong}, pauses) as sender:
        with pytest.raises(DeliveryFailed) as raised:
            await sender.send(text())

    assert not raised.value.maybe_sent
    assert "access key refused (401 Denied)" in raised.value.reason
    (request,) = acs.requests
    assert not request.authorized
    assert acs.messages == []


async def test_a_number_that_is_not_e164_is_refused_for_that_recipient(
    acs: AcsStandIn, pauses: Pauses
) -> None:
    failed = await failure(acs, pauses, text("425-555-0123"))

    assert not failed.maybe_sent
    assert "text refused (400: Invalid To phone number format.)" in failed.reason
    assert acs.messages == []
    assert len(acs.requests) == 1


async def test_only_sms_is_sent(acs: AcsStandIn, pauses: Pauses) -> None:
    failed = await failure(acs, pauses, Message("email", "alice@contoso.com", "Code", TEXT))
    assert "sends only sms, not email" in failed.reason
    assert acs.requests == []


# Repeated, and sent once


async def test_a_503_is_repeated_with_the_same_repeatability_ids(
    acs: AcsStandIn, pauses: Pauses
) -> None:
    acs.fail_next(503)
    receipt = await send(acs, pauses)

    (sms,) = acs.messages
    assert receipt.id == sms.message_id
    first, second = acs.requests
    assert (first.status, second.status) == (503, 202)
    assert first.repeatability_ids == second.repeatability_ids
    assert first.body == second.body
    assert pauses.seconds == [0.5]


async def test_an_answer_lost_after_the_text_was_taken_sends_it_once(
    acs: AcsStandIn, pauses: Pauses
) -> None:
    acs.fail_next(503, after_taking=True)
    receipt = await send(acs, pauses)

    (sms,) = acs.messages
    assert receipt.id == sms.message_id
    assert [request.status for request in acs.requests] == [503, 202]


async def test_a_service_error_after_every_try_may_have_been_sent(
    acs: AcsStandIn, pauses: Pauses
) -> None:
    acs.fail_next(503, times=3, after_taking=True)
    failed = await failure(acs, pauses)

    assert failed.maybe_sent
    assert "service error (503 ServiceError)" in failed.reason
    assert len(acs.requests) == 3
    assert len(acs.messages) == 1
    assert pauses.seconds == [0.5, 1.0]


async def test_429_waits_as_long_as_retry_after_says(acs: AcsStandIn, pauses: Pauses) -> None:
    acs.fail_next(429, retry_after=2)
    await send(acs, pauses)

    assert [request.status for request in acs.requests] == [429, 202]
    assert pauses.seconds == [2.0]
    assert len(acs.messages) == 1


async def test_429_after_every_try_was_not_sent(acs: AcsStandIn, pauses: Pauses) -> None:
    acs.fail_next(429, times=3, retry_after=0)
    failed = await failure(acs, pauses)

    assert not failed.maybe_sent
    assert "too many requests (429 ServiceError)" in failed.reason
    assert len(acs.requests) == 3
    assert acs.messages == []
    assert pauses.seconds == []


async def test_a_retry_after_beyond_the_wait_budget_ends_the_tries(
    acs: AcsStandIn, pauses: Pauses
) -> None:
    acs.fail_next(429, retry_after=30)
    failed = await failure(acs, pauses)

    assert not failed.maybe_sent
    assert len(acs.requests) == 1
    assert pauses.seconds == []


async def test_one_try_is_not_repeated(acs: AcsStandIn, pauses: Pauses) -> None:
    acs.fail_next(503)
    environ = {ACCESS_KEY_VARIABLE: acs.access_key}
    async with sender_for(settings_for(acs), environ, pauses, tries=1) as sender:
        with pytest.raises(DeliveryFailed) as raised:
            await sender.send(text())
    assert raised.value.maybe_sent
    assert len(acs.requests) == 1


# Not reached


async def test_an_untrusted_certificate_is_refused(acs: AcsStandIn, pauses: Pauses) -> None:
    failed = await failure(acs, pauses, ca_file=None)

    assert not failed.maybe_sent
    assert "TLS certificate not trusted" in failed.reason
    assert acs.requests == []


async def test_no_server_is_not_sent_and_not_repeated(tmp_path: Path, pauses: Pauses) -> None:
    settings = AcsSettings(
        kind="acs", endpoint=f"https://127.0.0.1:{free_port()}", from_number=SENDER
    )
    environ = {ACCESS_KEY_VARIABLE: new_access_key()}
    async with sender_for(settings, environ, pauses) as sender:
        with pytest.raises(DeliveryFailed) as raised:
            await sender.send(text())
    assert not raised.value.maybe_sent
    assert "cannot connect" in raised.value.reason
    assert pauses.seconds == []


async def test_no_answer_within_the_timeout_may_have_been_sent(
    acs: AcsStandIn, pauses: Pauses
) -> None:
    acs.hold_next()
    failed = await failure(acs, pauses, timeout=0.2)

    assert failed.maybe_sent
    assert "no answer within 0.2 s" in failed.reason
    assert len(acs.requests) == 1
    assert len(acs.messages) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "the answer could not be read"),
        (b"not json", "the answer could not be read"),
        (b"{}", "the answer could not be read"),
        (b'{"value": null}', "the answer could not be read"),
        (b'{"value": "x"}', "the answer could not be read"),
        (b'{"value": []}', "0 results for one recipient"),
        (b'{"value": [{"to": "+14255550123"}]}', "text refused (no status)"),
    ],
)
async def test_an_unreadable_answer_may_have_been_sent(
    acs: AcsStandIn, pauses: Pauses, body: bytes, expected: str
) -> None:
    acs.garble_next(body)
    failed = await failure(acs, pauses)

    assert failed.maybe_sent
    assert expected in failed.reason
    assert len(acs.requests) == 1


# Set up


def test_missing_credentials_name_both_variables() -> None:
    settings = AcsSettings(
        kind="acs", endpoint="https://contoso.communication.azure.com", from_number=SENDER
    )
    with pytest.raises(DeliveryUnavailable) as raised:
        open_acs_sender(settings, {}, retry=RetryPolicy())
    assert ACCESS_KEY_VARIABLE in str(raised.value)
    assert CONNECTION_STRING_VARIABLE in str(raised.value)


KEY = base64.b64encode(b"an access key of thirty-two byte").decode()


@pytest.mark.parametrize(
    ("endpoint", "environ", "expected"),
    [
        (
            "https://contoso.communication.azure.com",
            {ACCESS_KEY_VARIABLE: KEY, CONNECTION_STRING_VARIABLE: f"endpoint=x;accesskey={KEY}"},
            "set only one",
        ),
        (None, {ACCESS_KEY_VARIABLE: KEY}, "endpoint is not configured"),
        (
            "https://contoso.communication.azure.com",
            {
                CONNECTION_STRING_VARIABLE: (
                    f"endpoint=https://fabrikam.communication.azure.com/;accesskey={KEY}"
                )
            },
            "is not the configured endpoint",
        ),
        (None, {CONNECTION_STRING_VARIABLE: KEY}, "must read endpoint="),
        (
            None,
            {CONNECTION_STRING_VARIABLE: f"endpoint=http://contoso.example;accesskey={KEY}"},
            "must use https",
        ),
        (
            "https://contoso.communication.azure.com",
            {ACCESS_KEY_VARIABLE: "not base64!" + KEY},
            "is not base64",
        ),
    ],
)
def test_unusable_credentials_are_refused_without_quoting_them(
    endpoint: str | None, environ: dict[str, str], expected: str
) -> None:
    settings = AcsSettings(kind="acs", endpoint=endpoint, from_number=SENDER)
    with pytest.raises(DeliveryUnavailable) as raised:
        open_acs_sender(settings, environ, retry=RetryPolicy())
    assert expected in str(raised.value)
    assert KEY not in str(raised.value)


def test_an_unreadable_ca_file_is_refused(tmp_path: Path) -> None:
    settings = AcsSettings(
        kind="acs",
        endpoint="https://contoso.communication.azure.com",
        from_number=SENDER,
        ca_file="missing.pem",
    )
    with pytest.raises(DeliveryUnavailable) as raised:
        open_acs_sender(
            settings, {ACCESS_KEY_VARIABLE: KEY}, retry=RetryPolicy(), base_dir=tmp_path
        )
    assert f"acs ca_file {tmp_path / 'missing.pem'}: cannot be read" in str(raised.value)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://contoso.communication.azure.com/", "https://contoso.communication.azure.com"),
        ("https://Contoso.Communication.Azure.com:443", "https://contoso.communication.azure.com"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ],
)
def test_the_endpoint_is_kept_as_the_key_signs_it(given: str, kept: str) -> None:
    settings = AcsSettings(kind="acs", endpoint=given, from_number=SENDER)
    assert settings.endpoint == kept


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://contoso.communication.azure.com",
        "contoso.communication.azure.com",
        "https://contoso.communication.azure.com/sms",
        "https://contoso.communication.azure.com?x=1",
        "https://user:pass@contoso.communication.azure.com",
    ],
)
def test_an_endpoint_that_is_not_a_protected_resource_address_is_refused(endpoint: str) -> None:
    with pytest.raises(ValidationError):
        AcsSettings(kind="acs", endpoint=endpoint, from_number=SENDER)


@pytest.mark.parametrize("sender", ["+14255550100", "+442071838750", "12345", "Contoso", "My Co 2"])
def test_a_sender_is_a_number_a_short_code_or_an_alphanumeric_id(sender: str) -> None:
    assert AcsSettings(kind="acs", from_number=sender).from_number == sender


@pytest.mark.parametrize(
    "sender", ["14255550100", "+0425555", "+1 425 555 0100", "ContosoCorp1", "123", " Contoso"]
)
def test_other_senders_are_refused(sender: str) -> None:
    with pytest.raises(ValidationError):
        AcsSettings(kind="acs", from_number=sender)


# Secrets


async def test_the_key_and_the_code_never_reach_logs_or_reasons(
    acs: AcsStandIn, pauses: Pauses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reasons: list[str] = []
    await send(acs, pauses)
    acs.fail_next(503, times=3)
    reasons.append((await failure(acs, pauses)).reason)
    reasons.append((await failure(acs, pauses, text("425-555-0123"))).reason)
    wrong = new_access_key()
    async with sender_for(settings_for(acs), {ACCESS_KEY_VARIABLE: wrong}, pauses) as sender:
        with pytest.raises(DeliveryFailed) as raised:
            await sender.send(text())
        reasons.append(raised.value.reason)
        assert wrong not in repr(sender)

    assert logging.getLogger(HTTP_LOGGER).getEffectiveLevel() >= logging.WARNING
    for secret in (acs.access_key, wrong, CODE):
        assert secret not in caplog.text
        assert all(secret not in reason for reason in reasons)
