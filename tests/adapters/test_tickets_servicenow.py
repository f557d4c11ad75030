"""ServiceNow tickets through the Table API, against a local stand-in that speaks its wire
format (tests/stand_ins/servicenow.py)."""

import base64
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.tickets.base import TicketUpdate
from adapters.tickets.opening import open_ticket_system
from adapters.tickets.settings import ServiceNowSettings
from tests.stand_ins.servicenow import ServiceNowStandIn, running_servicenow_stand_in
from tests.support.tickets import NEW, OpenTickets, RecordingSleep, ticket_systems, unavailable
from tests.support.tls import write_tls_files

NOTE = "Password reset by the user after two verifications (email, authenticator)."


@pytest.fixture
async def servicenow() -> AsyncIterator[ServiceNowStandIn]:
    async with running_servicenow_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
async def make_tickets(
    servicenow: ServiceNowStandIn, sleep: RecordingSleep, tmp_path: Path
) -> AsyncIterator[OpenTickets]:
    async with ticket_systems(servicenow, sleep, tmp_path) as make:
        yield make


def update(number: str, *, resolved: bool) -> TicketUpdate:
    return TicketUpdate(
        number, resolved=resolved, event="reset" if resolved else "locked", note=NOTE
    )


async def test_a_resolved_ticket_is_found_noted_and_resolved(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets
) -> None:
    record = servicenow.add(short_description="Forgot my password")
    await make_tickets().update(update(record["number"], resolved=True))

    find, write = servicenow.requests
    assert (find.method, find.sys_id) == ("GET", None)
    assert find.query == {
        "sysparm_query": f"number={record['number']}",
        "sysparm_fields": "sys_id,number,state",
        "sysparm_limit": "1",
    }
    assert (write.method, write.sys_id) == ("PATCH", record["sys_id"])
    assert write.query["sysparm_input_display_value"] == "true"
    assert write.body == {
        "work_notes": NOTE,
        "state": "6",
        "close_code": "Solved (Permanently)",
        "close_notes": NOTE,
    }
    assert write.headers["Accept"] == "application/json"
    assert write.headers["Content-Type"] == "application/json"
    assert record["state"] == "6"
    assert record["work_notes"] == [NOTE]


async def test_a_handed_back_ticket_goes_to_the_group_in_progress(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets
) -> None:
    record = servicenow.add()
    tickets = make_tickets(assignment_group="Service Desk")
    await tickets.update(update(record["number"], resolved=False))

    assert servicenow.requests[-1].body == {
        "work_notes": NOTE,
        "assignment_group": "Service Desk",
        "state": "2",
    }
    assert (record["assignment_group"], record["state"]) == ("Service Desk", "2")


async def test_without_a_group_or_state_a_handed_back_ticket_gets_only_the_note(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets
) -> None:
    record = servicenow.add()
    await make_tickets(reassigned_state=None).update(update(record["number"], resolved=False))

    assert servicenow.requests[-1].body == {"work_notes": NOTE}
    assert record["state"] == "1"


async def test_custom_resolution_values_are_used(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets
) -> None:
    record = servicenow.add()
    tickets = make_tickets(resolved_state="7", close_code="Resolved by caller")
    await tickets.update(update(record["number"], resolved=True))

    body = servicenow.requests[-1].body
    assert (body["state"], body["close_code"]) == ("7", "Resolved by caller")


async def test_a_new_ticket_returns_its_number(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets
) -> None:
    caller = servicenow.add_user(NEW.user)
    number = await make_tickets(assignment_group="Service Desk").create(NEW)

    [lookup, request] = servicenow.requests
    assert (lookup.method, lookup.table) == ("GET", "sys_user")
    assert lookup.query["sysparm_query"] == f"email={NEW.user}"
    assert request.method == "POST"
    assert request.query["sysparm_input_display_value"] == "true"
    assert request.body == {
        "short_description": NEW.summary,
        "description": NEW.description,
        "category": "password",
        "assignment_group": "Service Desk",
        "caller_id": caller,
        "contact_type": "self-service",
    }
    assert number == "INC0010001"
    assert servicenow.by_number(number)["short_description"] == NEW.summary


@pytest.mark.parametrize("user", ["nobody@contoso.example", "x@contoso.example^active=true"])
async def test_a_caller_not_found_or_not_queryable_opens_the_ticket_without_one(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets, user: str
) -> None:
    servicenow.add_user("x@contoso.example")
    await make_tickets().create(replace(NEW, user=user))

    created = servicenow.requests[-1]
    assert created.method == "POST"
    assert "caller_id" not in created.body
    queries = [r.query.get("sysparm_query", "") for r in servicenow.requests]
    assert not [query for query in queries if "^" in query]


async def test_a_new_ticket_leaves_out_what_is_not_configured(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets
) -> None:
    await make_tickets(category=None, caller_lookup=False).create(NEW)

    assert servicenow.requests[-1].body == {
        "short_description": NEW.summary,
        "description": NEW.description,
        "contact_type": "self-service",
    }


async def test_an_unknown_ticket_is_not_found_and_not_written(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets
) -> None:
    failure = await unavailable(make_tickets().update(update("INC0099999", resolved=True)))

    assert "ticket not found" in failure.reason
    assert [request.method for request in servicenow.requests] == ["GET"]


@pytest.mark.parametrize("number", ["INC1^ORnumber!=x", "INC 1", "", "INC1&sysparm_limit=9"])
async def test_a_ticket_that_is_no_number_is_never_looked_up(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets, number: str
) -> None:
    failure = await unavailable(make_tickets().update(update(number, resolved=True)))

    assert "not a ServiceNow ticket number" in failure.reason
    assert servicenow.requests == []


async def test_an_oauth_token_logs_in_as_bearer(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets
) -> None:
    record = servicenow.add()
    await make_tickets(servicenow.environ(token=True)).update(
        update(record["number"], resolved=True)
    )

    assert {request.authorization for request in servicenow.requests} == {
        f"Bearer {servicenow.token}"
    }


async def test_a_user_and_password_log_in_as_basic(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets
) -> None:
    await make_tickets().create(NEW)

    basic = base64.b64encode(f"{servicenow.user}:{servicenow.password}".encode()).decode()
    assert servicenow.requests[0].authorization == f"Basic {basic}"


async def test_refused_credentials_are_unavailable_and_never_quoted(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets
) -> None:
    wrong = "wrong-password-0123456789"
    environ = {"SSPR_SERVICENOW_USER": servicenow.user, "SSPR_SERVICENOW_PASSWORD": wrong}
    failure = await unavailable(make_tickets(environ).update(update("INC0010001", resolved=True)))

    assert [request.status for request in servicenow.requests] == [401]
    assert "401" in failure.reason
    assert "credentials refused" in failure.reason
    for secret in (wrong, servicenow.password, base64.b64encode(wrong.encode()).decode()):
        assert secret not in str(failure)


async def test_a_busy_instance_is_asked_once_more(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    record = servicenow.add()
    servicenow.fail_next(503, retry_after=2)
    await make_tickets().update(update(record["number"], resolved=True))

    assert [(r.method, r.status) for r in servicenow.requests] == [
        ("GET", 503),
        ("GET", 200),
        ("PATCH", 200),
    ]
    assert sleep.waits == [2.0]


async def test_a_server_error_is_not_repeated(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    servicenow.fail_next(500)
    failure = await unavailable(make_tickets().create(NEW))

    assert [request.status for request in servicenow.requests] == [500]
    assert sleep.waits == []
    assert "HTTP 500" in failure.reason


async def test_busy_twice_gives_up_after_two_tries(
    servicenow: ServiceNowStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    servicenow.fail_next(429, times=5)
    failure = await unavailable(make_tickets().create(NEW))

    assert [request.status for request in servicenow.requests] == [429, 429]
    assert sleep.waits == [1.0]
    assert "gave up after 2 tries" in failure.reason


async def test_the_instance_is_trusted_through_the_configured_ca(
    tmp_path: Path, sleep: RecordingSleep
) -> None:
    tls = write_tls_files(tmp_path / "tls")
    async with running_servicenow_stand_in(tls) as servicenow:
        ca_file = str(tls.ca.relative_to(tmp_path))
        trusted = ServiceNowSettings.model_validate(servicenow.settings(ca_file=ca_file))
        untrusted = ServiceNowSettings.model_validate(servicenow.settings())
        good = open_ticket_system(trusted, servicenow.environ(), base_dir=tmp_path, sleep=sleep)
        bad = open_ticket_system(untrusted, servicenow.environ(), base_dir=tmp_path, sleep=sleep)
        try:
            assert await good.create(NEW) == "INC0010001"
            failure = await unavailable(bad.create(NEW))
        finally:
            await good.close()
            await bad.close()

    assert "TLS certificate not trusted" in failure.reason
    assert sleep.waits == []


async def test_logs_name_the_ticket_and_event_but_no_credential_or_text(
    servicenow: ServiceNowStandIn,
    make_tickets: OpenTickets,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    record = servicenow.add()
    tickets = make_tickets()
    await tickets.update(update(record["number"], resolved=True))
    number = await tickets.create(NEW)
    servicenow.fail_next(401)
    await unavailable(tickets.create(NEW))

    lines = [vars(r) for r in caplog.records if r.name.startswith("adapters")]
    assert [(line["kind"], line["ticket"], line["event"]) for line in lines] == [
        ("servicenow", record["number"], "reset"),
        ("servicenow", number, "locked"),
    ]
    everything = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    basic = base64.b64encode(f"{servicenow.user}:{servicenow.password}".encode()).decode()
    for secret in (servicenow.password, basic, NOTE, NEW.description):
        assert secret not in everything
