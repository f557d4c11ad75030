"""A local ServiceNow Table API (`/api/now/table/<table>`), in ServiceNow's wire format.

Like an instance it takes HTTP Basic auth (a user and password) or a Bearer OAuth token and
answers 401 with its error body otherwise; it keeps records by sys_id with numbers
INC0010001, INC0010002, ...; a GET takes an encoded query on `number=` (the only kind the
bot sends), with sysparm_fields and sysparm_limit; a PATCH merges the fields into the
record, work notes appended to the record's journal (`work_notes`, a list) as an instance
keeps them; a POST creates a record (201); users (`sys_user`) are found by `email=`. Every
request is recorded, so tests assert on what reached the instance.

`fail_next(status, times, retry_after)` answers the next authenticated requests with an
error instead.
"""

import base64
import binascii
import json
import secrets
import ssl
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.serving import serving
from tests.support.tls import TlsFiles

NOT_AUTHENTICATED = {
    "error": {
        "message": "User Not Authenticated",
        "detail": "Required to provide Auth information",
    },
    "status": "failure",
}
NOT_FOUND = {
    "error": {
        "message": "No Record found",
        "detail": "Record doesn't exist or ACL restricts the record retrieval",
    },
    "status": "failure",
}


@dataclass
class Received:
    """One request as it reached the stand-in, and the status it was answered with."""

    method: str
    table: str
    sys_id: str | None
    query: dict[str, str]
    authorization: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: str | None


@dataclass
class ServiceNowStandIn:
    user: str = "sspr.bot"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    table: str = "incident"
    instance_url: str = ""
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # sys_user: email -> sys_id
    requests: list[Received] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)

    def fail_next(
        self, status: int, times: int = 1, retry_after: str | float | None = None
    ) -> None:
        """Answer the next `times` authenticated requests with `status` and ServiceNow's
        error body, with Retry-After when given."""
        after = None if retry_after is None else str(retry_after)
        self.faults.extend(Fault(status, after) for _ in range(times))

    def add(self, **fields: Any) -> dict[str, Any]:
        """A new record with the next number, state 1 (New) unless `fields` say otherwise."""
        sys_id = secrets.token_hex(16)
        record: dict[str, Any] = {
            "sys_id": sys_id,
            "number": f"INC{10000 + len(self.records) + 1:07d}",
            "state": "1",
            "work_notes": [],
            **fields,
        }
        self.records[sys_id] = record
        return record

    def add_user(self, email: str) -> str:
        """A `sys_user` with this email; its sys_id."""
        self.users[email] = secrets.token_hex(16)
        return self.users[email]

    def by_number(self, number: str) -> dict[str, Any]:
        [record] = [r for r in self.records.values() if r["number"] == number]
        return record

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The `servicenow` settings section that points the adapter here."""
        return {"kind": "servicenow", "instance_url": self.instance_url, **overrides}

    def environ(self, *, token: bool = False) -> dict[str, str]:
        if token:
            return {"SSPR_SERVICENOW_TOKEN": self.token}
        return {"SSPR_SERVICENOW_USER": self.user, "SSPR_SERVICENOW_PASSWORD": self.password}

    def authenticated(self, authorization: str) -> bool:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return secrets.compare_digest(value, self.token)
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.user and secrets.compare_digest(password, self.password)


def _shown(record: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """The record as the Table API returns it: the journal field reads as text."""
    shown = {**record, "work_notes": "\n\n".join(reversed(record["work_notes"]))}
    if not fields:
        return shown
    return {name: shown.get(name, "") for name in fields.split(",")}


def _app(stand_in: ServiceNowStandIn) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        received = Received(
            method=request.method,
            table=request.match_info["table"],
            sys_id=request.match_info.get("sys_id"),
            query=dict(request.query),
            authorization=request.headers.get("Authorization", ""),
            headers=dict(request.headers),
            body=body,
        )
        stand_in.requests.append(received)
        answer = respond(received)
        received.status = answer.status
        return answer

    def respond(received: Received) -> web.Response:
        if not stand_in.authenticated(received.authorization):
            return web.json_response(NOT_AUTHENTICATED, status=401)
        if stand_in.faults:
            fault = stand_in.faults.popleft()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            error = {"error": {"message": "Error", "detail": None}, "status": "failure"}
            return web.json_response(error, status=fault.status, headers=headers)
        if received.table == "sys_user" and received.method == "GET":
            return users(received.query)
        if received.table != stand_in.table:
            return web.json_response(
                {"error": {"message": "Invalid table", "detail": None}, "status": "failure"},
                status=400,
            )
        fields = received.query.get("sysparm_fields")
        if received.method == "GET":
            return query(received.query, fields)
        if not isinstance(received.body, dict):
            return web.json_response(
                {"error": {"message": "Exception while reading request", "detail": None}},
                status=400,
            )
        if received.method == "POST":
            created = stand_in.add(**{k: v for k, v in received.body.items() if k != "work_notes"})
            return web.json_response({"result": _shown(created, fields)}, status=201)
        record = stand_in.records.get(received.sys_id or "")
        if record is None:
            return web.json_response(NOT_FOUND, status=404)
        for name, value in received.body.items():
            if name == "work_notes":
                record["work_notes"].append(value)
            else:
                record[name] = value
        return web.json_response({"result": _shown(record, fields)})

    def query(parameters: dict[str, str], fields: str | None) -> web.Response:
        name, _, number = parameters.get("sysparm_query", "").partition("=")
        found = [
            _shown(record, fields)
            for record in stand_in.records.values()
            if name == "number" and record["number"] == number
        ]
        limit = int(parameters.get("sysparm_limit", "10000"))
        return web.json_response({"result": found[:limit]})

    def users(parameters: dict[str, str]) -> web.Response:
        name, _, email = parameters.get("sysparm_query", "").partition("=")
        sys_id = stand_in.users.get(email) if name == "email" else None
        return web.json_response({"result": [] if sys_id is None else [{"sys_id": sys_id}]})

    app = web.Application()
    app.router.add_get("/api/now/table/{table}", handle, allow_head=False)
    app.router.add_post("/api/now/table/{table}", handle)
    app.router.add_patch("/api/now/table/{table}/{sys_id}", handle)
    return app


@asynccontextmanager
async def running_servicenow_stand_in(
    tls: TlsFiles | None = None,
) -> AsyncIterator[ServiceNowStandIn]:
    """A stand-in on a free 127.0.0.1 port (plain http, or TLS with `tls`'s certificate);
    `instance_url` is its base URL."""
    stand_in = ServiceNowStandIn()
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.certificate, tls.key)
    async with serving(_app(stand_in), ssl_context=context) as url:
        stand_in.instance_url = url
        yield stand_in
