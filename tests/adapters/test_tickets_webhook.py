"""The signed ticket webhook against a local receiver that checks the signature as a
helpdesk would (tests/stand_ins/ticket_webhook.py)."""

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.tickets.base import TicketUpdate
from adapters.tickets.http import TicketHttp, trusting
from adapters.tickets.opening import open_ticket_system
from adapters.tickets.settings import WebhookTicketSettings
from adapters.tickets.webhook import WebhookTickets
from tests.stand_ins.ticket_webhook import (
    CALLBACK_PATH,
    PATH,
    TicketWebhookStandIn,
    running_ticket_webhook_stand_in,
)
from tests.support.ports import free_port
from tests.support.tickets import NEW, OpenTickets, RecordingSleep, ticket_systems, unavailable

NOTE = "Password reset by the user after two verifications (email, authenticator)."
RESOLVED = TicketUpdate("INC0010001", resolved=True, event="reset", note=NOTE)
HANDED_BACK = TicketUpdate("INC0010002", resolved=False, event="locked", note=NOTE)


@pytest.fixture
async def receiver() -> AsyncIterator[TicketWebhookStandIn]:
    async with running_ticket_webhook_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
async def make_tickets(
    receiver: TicketWebhookStandIn, sleep: RecordingSleep, tmp_path: Path
) -> AsyncIterator[OpenTickets]:
    async with ticket_systems(receiver, sleep, tmp_path) as make:
        yield make


async def test_a_resolved_ticket_is_posted_signed(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets
) -> None:
    await make_tickets().update(RESOLVED)

    [request] = receiver.requests
    assert request.signed
    assert request.headers["Content-Type"] == "application/json"
    assert receiver.verified[0].path == PATH
    assert receiver.verified[0].body == {
        "type": "ticket.updated",
        "ticket": "INC0010001",
        "resolved": True,
        "event": "reset",
        "note": NOTE,
    }


async def test_a_ticket_handed_back_says_it_is_not_resolved(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets
) -> None:
    await make_tickets().update(HANDED_BACK)

    [verified] = receiver.verified
    assert verified.body == {
        "type": "ticket.updated",
        "ticket": "INC0010002",
        "resolved": False,
        "event": "locked",
        "note": NOTE,
    }


async def test_a_new_ticket_gets_the_receivers_number(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets
) -> None:
    number = await make_tickets().create(NEW)

    assert number == "WH-1"
    [verified] = receiver.verified
    assert verified.body == {
        "type": "ticket.create",
        "summary": NEW.summary,
        "description": NEW.description,
        "user": NEW.user,
        "event": "locked",
    }


async def test_the_hand_off_secret_signs_when_the_webhook_has_none(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets
) -> None:
    await make_tickets({"SSPR_HANDOFF_SECRET": receiver.secret}).update(RESOLVED)

    assert [request.signed for request in receiver.requests] == [True]


async def test_the_webhooks_own_secret_wins_over_the_hand_offs(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets
) -> None:
    environ = {**receiver.environ(), "SSPR_HANDOFF_SECRET": "another-secret-entirely"}
    await make_tickets(environ).update(RESOLVED)

    assert [request.signed for request in receiver.requests] == [True]


async def test_a_wrong_secret_is_refused_and_never_quoted(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets
) -> None:
    wrong = "wrong-secret-0123456789abcdef"
    failure = await unavailable(
        make_tickets({"SSPR_TICKET_WEBHOOK_SECRET": wrong}).update(RESOLVED)
    )

    assert [request.status for request in receiver.requests] == [401]
    assert "401" in failure.reason
    assert wrong not in str(failure)
    assert receiver.secret not in str(failure)
    assert NOTE not in str(failure)


async def test_a_stale_clock_makes_a_signature_the_receiver_refuses(
    receiver: TicketWebhookStandIn, tmp_path: Path
) -> None:
    http = TicketHttp(timeout=5, tls_context=trusting(None, tmp_path, "webhook"), headers={})
    tickets = WebhookTickets(receiver.url, receiver.secret, http=http, now=lambda: 1_000_000.0)
    try:
        await unavailable(tickets.update(RESOLVED))
    finally:
        await tickets.close()

    assert [(request.status, request.signed) for request in receiver.requests] == [(401, False)]


async def test_a_protected_callback_takes_the_update(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets
) -> None:
    update = TicketUpdate(
        "T-7", resolved=True, event="unlock", note=NOTE, callback=receiver.callback
    )
    await make_tickets().update(update)

    assert [verified.path for verified in receiver.verified] == [CALLBACK_PATH]
    assert receiver.verified[0].body["ticket"] == "T-7"


@pytest.mark.parametrize(
    "callback",
    ["http://helpdesk.contoso.example/hook", "ftp://127.0.0.1/hook", "/relative/hook"],
)
async def test_an_unprotected_callback_falls_back_to_the_configured_url(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets, callback: str
) -> None:
    update = TicketUpdate("T-8", resolved=False, event="escalated", note=NOTE, callback=callback)
    await make_tickets().update(update)

    assert [verified.path for verified in receiver.verified] == [PATH]


async def test_an_unknown_ticket_is_unavailable(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets
) -> None:
    receiver.fail_next(404)
    failure = await unavailable(make_tickets().update(RESOLVED))

    assert "404" in failure.reason
    assert "not found" in failure.reason
    assert "INC0010001" in failure.reason


async def test_a_busy_receiver_is_asked_once_more(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    receiver.fail_next(503)
    await make_tickets().update(RESOLVED)

    assert [request.status for request in receiver.requests] == [503, 204]
    assert sleep.waits == [1.0]


async def test_a_retry_after_is_honoured(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    receiver.fail_next(429, retry_after=3)
    number = await make_tickets().create(NEW)

    assert number == "WH-1"
    assert [request.status for request in receiver.requests] == [429, 201]
    assert sleep.waits == [3.0]


async def test_a_retry_after_past_five_seconds_is_not_waited_for(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    receiver.fail_next(503, retry_after=120)
    failure = await unavailable(make_tickets().update(RESOLVED))

    assert [request.status for request in receiver.requests] == [503]
    assert sleep.waits == []
    assert "asked to wait 120 s" in failure.reason


async def test_a_server_error_is_not_repeated(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    receiver.fail_next(500)
    failure = await unavailable(make_tickets().update(RESOLVED))

    assert [request.status for request in receiver.requests] == [500]
    assert sleep.waits == []
    assert "500" in failure.reason


async def test_busy_twice_gives_up_after_two_tries(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    receiver.fail_next(503, times=3)
    failure = await unavailable(make_tickets().create(NEW))

    assert [request.status for request in receiver.requests] == [503, 503]
    assert sleep.waits == [1.0]
    assert "2 tries" in failure.reason


async def test_an_unreachable_receiver_is_tried_twice(
    sleep: RecordingSleep, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}/tickets"
    settings = WebhookTicketSettings(kind="webhook", url=url)
    environ = {"SSPR_TICKET_WEBHOOK_SECRET": "s" * 32}
    tickets = open_ticket_system(settings, environ, base_dir=tmp_path, sleep=sleep)
    try:
        failure = await unavailable(tickets.update(RESOLVED))
    finally:
        await tickets.close()

    assert "cannot connect" in failure.reason
    assert "2 tries" in failure.reason
    assert sleep.waits == [1.0]


async def test_a_post_that_timed_out_is_not_repeated(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    receiver.hold_next()
    failure = await unavailable(make_tickets(timeout=0.2).update(RESOLVED))

    assert len(receiver.requests) == 1
    assert sleep.waits == []
    assert "no answer within 0.2 s" in failure.reason


@pytest.mark.parametrize(
    "answer",
    [{"ticket": ""}, {"ticket": "x" * 65}, {"ticket": "WH\n1"}, {"ticket": 7}, {}, ["WH-1"]],
)
async def test_a_new_tickets_number_must_be_a_short_printable_string(
    receiver: TicketWebhookStandIn, make_tickets: OpenTickets, answer: Any
) -> None:
    receiver.fail_next(201, body=answer)
    failure = await unavailable(make_tickets().create(NEW))

    assert "no ticket" in failure.reason


async def test_logs_name_the_ticket_and_event_but_no_secret_or_note(
    receiver: TicketWebhookStandIn,
    make_tickets: OpenTickets,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tickets = make_tickets()
    await tickets.update(RESOLVED)
    await tickets.create(NEW)
    receiver.fail_next(401)
    await unavailable(tickets.update(HANDED_BACK))

    lines = [vars(record) for record in caplog.records if record.name.startswith("adapters")]
    assert [(line["kind"], line["ticket"], line["event"]) for line in lines] == [
        ("webhook", "INC0010001", "reset"),
        ("webhook", "WH-1", "locked"),
    ]
    everything = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    for secret in (receiver.secret, NOTE, NEW.description):
        assert secret not in everything
