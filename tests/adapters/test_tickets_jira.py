"""Jira Service Management requests through its REST API, against a local stand-in that
speaks its wire format (tests/stand_ins/jira.py)."""

import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.tickets.base import TicketUpdate
from tests.stand_ins.jira import Comment, JiraStandIn, running_jira_stand_in
from tests.support.tickets import NEW, OpenTickets, RecordingSleep, ticket_systems, unavailable

NOTE = "Password reset by the user after two verifications (email, authenticator)."
API = "/rest/servicedeskapi"


@pytest.fixture
async def jira() -> AsyncIterator[JiraStandIn]:
    async with running_jira_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
async def make_tickets(
    jira: JiraStandIn, sleep: RecordingSleep, tmp_path: Path
) -> AsyncIterator[OpenTickets]:
    async with ticket_systems(jira, sleep, tmp_path) as make:
        yield make


def update(key: str, *, resolved: bool) -> TicketUpdate:
    return TicketUpdate(
        key, resolved=resolved, event="reset" if resolved else "escalated", note=NOTE
    )


async def test_a_resolved_request_gets_an_internal_note_and_the_resolve_transition(
    jira: JiraStandIn, make_tickets: OpenTickets
) -> None:
    issue = jira.add(summary="Forgot my password")
    await make_tickets().update(update(issue.key, resolved=True))

    assert [(r.method, r.path, r.body) for r in jira.requests] == [
        ("POST", f"{API}/request/HD-1/comment", {"body": NOTE, "public": False}),
        ("GET", f"{API}/request/HD-1/transition", None),
        ("POST", f"{API}/request/HD-1/transition", {"id": "11"}),
    ]
    for request in jira.requests:
        assert request.headers["Accept"] == "application/json"
        assert request.headers["X-ExperimentalApi"] == "opt-in"
    assert jira.requests[0].headers["Content-Type"] == "application/json"
    assert issue.comments == [Comment(NOTE, public=False)]
    assert issue.status == "Resolve this issue"


async def test_a_handed_back_request_only_gets_the_note_without_a_reassign_transition(
    jira: JiraStandIn, make_tickets: OpenTickets
) -> None:
    issue = jira.add()
    await make_tickets().update(update(issue.key, resolved=False))

    assert [(r.method, r.path) for r in jira.requests] == [("POST", f"{API}/request/HD-1/comment")]
    assert issue.transitions == []


async def test_a_handed_back_request_takes_the_reassign_transition_in_any_case(
    jira: JiraStandIn, make_tickets: OpenTickets
) -> None:
    issue = jira.add()
    await make_tickets(reassign_transition="ESCALATE").update(update(issue.key, resolved=False))

    assert jira.requests[-1].body == {"id": "21"}
    assert issue.transitions == ["21"]
    assert issue.comments == [Comment(NOTE, public=False)]


async def test_a_transition_the_request_does_not_offer_names_those_it_does(
    jira: JiraStandIn, make_tickets: OpenTickets
) -> None:
    issue = jira.add()
    failure = await unavailable(
        make_tickets(resolve_transition="Close").update(update(issue.key, resolved=True))
    )

    assert "'Close'" in failure.reason
    assert "'Resolve this issue', 'Escalate'" in failure.reason
    assert issue.transitions == []


async def test_a_new_request_is_raised_on_the_users_behalf(
    jira: JiraStandIn, make_tickets: OpenTickets
) -> None:
    account = jira.add_account(NEW.user)
    key = await make_tickets().create(NEW)

    [lookup, request] = jira.requests
    assert (lookup.method, lookup.path) == ("GET", "/rest/api/3/user/search")
    assert lookup.query["query"] == NEW.user
    assert (request.method, request.path) == ("POST", f"{API}/request")
    assert request.body == {
        "serviceDeskId": "1",
        "requestTypeId": "10",
        "requestFieldValues": {"summary": NEW.summary, "description": NEW.description},
        "raiseOnBehalfOf": account,
    }
    assert key == "HD-1"
    assert key in jira.issues


async def test_a_person_without_an_account_has_the_request_raised_by_the_bot(
    jira: JiraStandIn, make_tickets: OpenTickets
) -> None:
    key = await make_tickets().create(NEW)

    assert "raiseOnBehalfOf" not in jira.requests[-1].body
    assert key in jira.issues


async def test_a_new_request_can_be_raised_by_the_bots_account(
    jira: JiraStandIn, make_tickets: OpenTickets
) -> None:
    await make_tickets(raise_on_behalf=False).create(NEW)

    assert "raiseOnBehalfOf" not in jira.requests[0].body


async def test_an_unknown_request_is_not_found(
    jira: JiraStandIn, make_tickets: OpenTickets
) -> None:
    failure = await unavailable(make_tickets().update(update("HD-99", resolved=True)))

    assert "HD-99" in failure.reason
    assert "404" in failure.reason
    assert "not found" in failure.reason
    assert len(jira.requests) == 1


@pytest.mark.parametrize("key", ["HD-1/../../x", "HD 1", "", "-1"])
async def test_a_ticket_that_is_no_issue_key_is_never_sent(
    jira: JiraStandIn, make_tickets: OpenTickets, key: str
) -> None:
    failure = await unavailable(make_tickets().update(update(key, resolved=True)))

    assert "not a Jira issue key" in failure.reason
    assert jira.requests == []


async def test_the_email_and_api_token_log_in_as_basic(
    jira: JiraStandIn, make_tickets: OpenTickets
) -> None:
    await make_tickets().create(NEW)

    basic = base64.b64encode(f"{jira.email}:{jira.api_token}".encode()).decode()
    assert jira.requests[0].authorization == f"Basic {basic}"


async def test_a_refused_api_token_is_unavailable_and_never_quoted(
    jira: JiraStandIn, make_tickets: OpenTickets
) -> None:
    wrong = "ATATT-wrong-token-0123456789"
    environ = {"SSPR_JIRA_EMAIL": jira.email, "SSPR_JIRA_API_TOKEN": wrong}
    failure = await unavailable(make_tickets(environ).create(NEW))

    assert [request.status for request in jira.requests] == [401]
    assert "credentials refused" in failure.reason
    basic = base64.b64encode(f"{jira.email}:{wrong}".encode()).decode()
    for secret in (wrong, jira.api_token, basic):
        assert secret not in str(failure)


async def test_a_busy_site_is_asked_once_more(
    jira: JiraStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    issue = jira.add()
    jira.fail_next(429, retry_after=4)
    await make_tickets().update(update(issue.key, resolved=True))

    assert [r.status for r in jira.requests] == [429, 201, 200, 204]
    assert sleep.waits == [4.0]
    assert issue.comments == [Comment(NOTE, public=False)]


async def test_a_server_error_is_not_repeated(
    jira: JiraStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    jira.fail_next(500)
    await unavailable(make_tickets().create(NEW))

    assert [request.status for request in jira.requests] == [500]
    assert sleep.waits == []
    assert jira.issues == {}


async def test_busy_twice_gives_up_after_two_tries(
    jira: JiraStandIn, make_tickets: OpenTickets, sleep: RecordingSleep
) -> None:
    jira.fail_next(503, times=2)
    failure = await unavailable(make_tickets().create(NEW))

    assert [request.status for request in jira.requests] == [503, 503]
    assert sleep.waits == [1.0]
    assert "gave up after 2 tries" in failure.reason


async def test_logs_name_the_ticket_and_event_but_no_credential_or_text(
    jira: JiraStandIn, make_tickets: OpenTickets, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issue = jira.add()
    tickets = make_tickets()
    await tickets.update(update(issue.key, resolved=True))
    key = await tickets.create(NEW)
    jira.fail_next(401)
    await unavailable(tickets.create(NEW))

    lines = [vars(r) for r in caplog.records if r.name.startswith("adapters")]
    assert [(line["kind"], line["ticket"], line["event"]) for line in lines] == [
        ("jira", issue.key, "reset"),
        ("jira", key, "locked"),
    ]
    everything = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    basic = base64.b64encode(f"{jira.email}:{jira.api_token}".encode()).decode()
    for secret in (jira.api_token, basic, NOTE, NEW.description):
        assert secret not in everything
