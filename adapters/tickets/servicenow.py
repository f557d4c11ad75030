"""ServiceNow: the handed-off incident gets a work note and is resolved or handed back to
its group, and new incidents are opened, all through the Table API
(`/api/now/table/<table>`).

Writes carry `sysparm_input_display_value=true`, so an assignment group may be given by name
as well as by sys_id; the caller of a new incident is the `sys_user` with the person's email,
looked up first (a reference field matches display values, which for a user is the name);
reads and writes ask only for the fields the bot uses, so no more of the record than that
crosses the wire.
"""

import json
import logging
import re
from typing import Any

from yarl import URL

from adapters.tickets.base import NewTicket, TicketUnavailable, TicketUpdate
from adapters.tickets.http import Reply, TicketHttp
from adapters.tickets.settings import ServiceNowSettings

log = logging.getLogger(__name__)

# A ticket number as ServiceNow makes them (INC0010001); nothing that could add a
# condition to the encoded query it is looked up with (`^` joins conditions there).
_NUMBER = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SYS_ID = re.compile(r"[0-9a-f]{32}")
# An address safe inside an encoded query: no `^` (a condition joiner), no spaces.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?_`{|}~-]+@[A-Za-z0-9.-]+")
_WRITES = {"sysparm_input_display_value": "true", "sysparm_fields": "sys_id,number,state"}


class ServiceNowTickets:
    """A TicketSystem on one ServiceNow instance's table."""

    kind = "servicenow"

    def __init__(self, settings: ServiceNowSettings, *, http: TicketHttp) -> None:
        self._settings = settings
        tables = URL(settings.instance_url) / "api" / "now" / "table"
        self._table = tables / settings.table
        self._users = tables / "sys_user"
        self._http = http

    async def update(self, update: TicketUpdate) -> None:
        """Find the ticket by number, then write the note and resolve or reassign it."""
        if not _NUMBER.fullmatch(update.ticket):
            raise TicketUnavailable("servicenow: update: not a ServiceNow ticket number")
        where = f"servicenow: update of {update.ticket}"
        sys_id = await self._sys_id(update.ticket, where)
        settings = self._settings
        fields: dict[str, str | None] = {"work_notes": update.note}
        if update.resolved:
            fields |= {
                "state": settings.resolved_state,
                "close_code": settings.close_code,
                "close_notes": update.note,
            }
        else:
            fields |= {
                "assignment_group": settings.assignment_group,
                "state": settings.reassigned_state,
            }
        url = (self._table / sys_id).with_query(_WRITES)
        reply = await self._write("PATCH", url, fields, where)
        if reply.status != 200:
            raise reply.refused()
        log.info(
            "ticket updated",
            extra={
                "kind": self.kind,
                "ticket": update.ticket,
                "event": update.event,
                "resolved": update.resolved,
            },
        )

    async def create(self, ticket: NewTicket) -> str:
        """Open an incident for the user; its number (INC...)."""
        settings = self._settings
        where = "servicenow: new ticket"
        fields = {
            "short_description": ticket.summary,
            "description": ticket.description,
            "category": settings.category,
            "assignment_group": settings.assignment_group,
            "caller_id": await self._caller(ticket.user) if settings.caller_lookup else None,
            "contact_type": "self-service",
        }
        reply = await self._write("POST", self._table.with_query(_WRITES), fields, where)
        if reply.status != 201:
            raise reply.refused()
        result = _result(reply)
        number = result.get("number") if isinstance(result, dict) else None
        if not isinstance(number, str) or not _NUMBER.fullmatch(number):
            raise TicketUnavailable(f"{where}: the answer has no ticket number")
        log.info(
            "ticket created", extra={"kind": self.kind, "ticket": number, "event": ticket.event}
        )
        return number

    async def close(self) -> None:
        await self._http.close()

    async def _caller(self, email: str) -> str | None:
        """The sys_id of the user with this email; None (the ticket opened without a
        caller) when there is none or the address cannot be queried safely."""
        if not _EMAIL.fullmatch(email):
            return None
        where = "servicenow: caller lookup"
        url = self._users.with_query(
            sysparm_query=f"email={email}", sysparm_fields="sys_id", sysparm_limit="1"
        )
        reply = await self._http.send("GET", url, where=where)
        if reply.status != 200:
            raise reply.refused()
        found = _result(reply)
        first = found[0] if isinstance(found, list) and found else None
        sys_id = first.get("sys_id") if isinstance(first, dict) else None
        if isinstance(sys_id, str) and _SYS_ID.fullmatch(sys_id):
            return sys_id
        return None

    async def _sys_id(self, number: str, where: str) -> str:
        url = self._table.with_query(
            sysparm_query=f"number={number}",
            sysparm_fields="sys_id,number,state",
            sysparm_limit="1",
        )
        reply = await self._http.send("GET", url, where=where)
        if reply.status != 200:
            raise reply.refused()
        found = _result(reply)
        if not isinstance(found, list):
            raise TicketUnavailable(f"{where}: the answer has no result list")
        if not found:
            raise TicketUnavailable(f"{where}: ticket not found")
        sys_id = found[0].get("sys_id") if isinstance(found[0], dict) else None
        if not isinstance(sys_id, str) or not _SYS_ID.fullmatch(sys_id):
            raise TicketUnavailable(f"{where}: the answer has no sys_id")
        return sys_id

    async def _write(
        self, method: str, url: URL, fields: dict[str, str | None], where: str
    ) -> Reply:
        body = {name: value for name, value in fields.items() if value is not None}
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        return await self._http.send(method, url, where=where, data=data, headers=headers)


def _result(reply: Reply) -> Any:
    """The `result` of a Table API answer (a record, or a list of them)."""
    answer = reply.json()
    return answer.get("result") if isinstance(answer, dict) else None
