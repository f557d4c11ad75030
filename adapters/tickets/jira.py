"""Jira Service Management: the handed-off request gets an internal comment and goes
through the configured transition, and new requests are raised on the user's behalf, all
through the service desk REST API (`/rest/servicedeskapi`).

A request is raised on the person's behalf by their Atlassian account id, which Jira Cloud
requires there: it is looked up by their email (`/rest/api/3/user/search`), and a request
is raised by the bot's own account when exactly one account is not found.

Transitions are found by name among those the request offers now, because their ids
differ between workflows and sites; a name the request does not offer is reported with
the names it does, so the operator can correct the setting.
"""

import json
import logging
import re
from typing import Any

from yarl import URL

from adapters.tickets.base import NewTicket, TicketUnavailable, TicketUpdate
from adapters.tickets.http import Reply, TicketHttp
from adapters.tickets.settings import JiraSettings

log = logging.getLogger(__name__)

# An issue key (HD-12) or a numeric issue id, the two forms the API takes in its paths.
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}-[0-9]{1,18}|[0-9]{1,18}")
_SHOWN_TRANSITIONS = 10
# The service desk API marks several of its endpoints experimental and answers them only
# with this header.
EXPERIMENTAL = {"X-ExperimentalApi": "opt-in"}


class JiraTickets:
    """A TicketSystem on one Jira Service Management site and service desk."""

    kind = "jira"

    def __init__(self, settings: JiraSettings, *, http: TicketHttp) -> None:
        self._settings = settings
        self._api = URL(settings.base_url) / "rest" / "servicedeskapi"
        self._user_search = URL(settings.base_url) / "rest" / "api" / "3" / "user" / "search"
        self._http = http

    async def update(self, update: TicketUpdate) -> None:
        """Add the note as an internal comment, then resolve the request, or hand it back
        when a transition for that is configured."""
        key = update.ticket
        if not _KEY.fullmatch(key):
            raise TicketUnavailable("jira: update: not a Jira issue key")
        where = f"jira: update of {key}"
        request = self._api / "request" / key
        reply = await self._post(request / "comment", {"body": update.note, "public": False}, where)
        if reply.status != 201:
            raise reply.refused()
        settings = self._settings
        name = settings.resolve_transition if update.resolved else settings.reassign_transition
        if name is not None:
            transition = await self._transition(request, name, where)
            reply = await self._post(request / "transition", {"id": transition}, where)
            if not reply.ok:
                raise reply.refused()
        log.info(
            "ticket updated",
            extra={
                "kind": self.kind,
                "ticket": key,
                "event": update.event,
                "resolved": update.resolved,
            },
        )

    async def create(self, ticket: NewTicket) -> str:
        """Raise a request in the service desk; its issue key (HD-12)."""
        settings = self._settings
        where = "jira: new ticket"
        body: dict[str, Any] = {
            "serviceDeskId": settings.service_desk_id,
            "requestTypeId": settings.request_type_id,
            "requestFieldValues": {"summary": ticket.summary, "description": ticket.description},
        }
        if settings.raise_on_behalf and (account := await self._account_id(ticket.user)):
            body["raiseOnBehalfOf"] = account
        reply = await self._post(self._api / "request", body, where)
        if reply.status != 201:
            raise reply.refused()
        answer = reply.json()
        key = answer.get("issueKey") if isinstance(answer, dict) else None
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise TicketUnavailable(f"{where}: the answer has no issue key")
        log.info("ticket created", extra={"kind": self.kind, "ticket": key, "event": ticket.event})
        return key

    async def close(self) -> None:
        await self._http.close()

    async def _account_id(self, email: str) -> str | None:
        """The account id of the one user with this email, or None."""
        url = self._user_search.with_query(query=email, maxResults="2")
        reply = await self._http.send("GET", url, where="jira: account lookup")
        if reply.status != 200:
            raise reply.refused()
        found = reply.json()
        if not isinstance(found, list) or len(found) != 1 or not isinstance(found[0], dict):
            return None
        account = found[0].get("accountId")
        return account if isinstance(account, str) and account else None

    async def _transition(self, request: URL, name: str, where: str) -> str:
        """The id of the transition called `name` (in any case) the request offers now."""
        reply = await self._http.send(
            "GET", request / "transition", where=where, headers=EXPERIMENTAL
        )
        if reply.status != 200:
            raise reply.refused()
        answer = reply.json()
        values = answer.get("values") if isinstance(answer, dict) else None
        if not isinstance(values, list):
            raise TicketUnavailable(f"{where}: the transitions answer has no values")
        offered = {
            str(value["name"]): str(value["id"])
            for value in values
            if isinstance(value, dict)
            and isinstance(value.get("name"), str)
            and isinstance(value.get("id"), str | int)
        }
        for offered_name, transition in offered.items():
            if offered_name.casefold() == name.casefold():
                return transition
        names = ", ".join(repr(n[:80]) for n in list(offered)[:_SHOWN_TRANSITIONS]) or "none"
        raise TicketUnavailable(
            f"{where}: the request offers no transition {name!r} (it offers {names})"
        )

    async def _post(self, url: URL, body: dict[str, Any], where: str) -> Reply:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **EXPERIMENTAL}
        return await self._http.send("POST", url, where=where, data=data, headers=headers)
