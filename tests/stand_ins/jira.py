"""A local Jira Service Management REST API (`/rest/servicedeskapi`), in Jira's wire format.

Like a Jira Cloud site it takes HTTP Basic auth with an account's email and API token and
answers 401 otherwise. It keeps requests by issue key (HD-1, HD-2, ...) with their comments
(body, public) and status; it offers the configured transitions (by default "Resolve this
issue" and "Escalate") and a transition sets the request's status to its name; it raises
new requests (201, with `issueKey`). Every request is recorded, headers included, so tests
assert on what reached the site.

`fail_next(status, times, retry_after)` answers the next authenticated requests with an
error instead.
"""

import base64
import binascii
import json
import secrets
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.serving import serving

PROJECT = "HD"
DEFAULT_TRANSITIONS = ({"id": "11", "name": "Resolve this issue"}, {"id": "21", "name": "Escalate"})


@dataclass
class Received:
    """One request as it reached the stand-in, and the status it was answered with."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Comment:
    body: str
    public: bool


@dataclass
class Request:
    """One service request (a Jira issue) as the stand-in keeps it."""

    key: str
    fields: dict[str, Any]
    status: str = "Waiting for support"
    comments: list[Comment] = field(default_factory=list)
    transitions: list[str] = field(default_factory=list)  # ids, in the order they happened


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: str | None


@dataclass
class JiraStandIn:
    email: str = "sspr-bot@contoso.example"
    api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    service_desk_id: str = "1"
    request_type_id: str = "10"
    base_url: str = ""
    transitions: list[dict[str, str]] = field(
        default_factory=lambda: [dict(offered) for offered in DEFAULT_TRANSITIONS]
    )
    issues: dict[str, Request] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # email -> accountId
    requests: list[Received] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)

    def fail_next(
        self, status: int, times: int = 1, retry_after: str | float | None = None
    ) -> None:
        """Answer the next `times` authenticated requests with `status` and Jira's error
        body, with Retry-After when given."""
        after = None if retry_after is None else str(retry_after)
        self.faults.extend(Fault(status, after) for _ in range(times))

    def add(self, **fields: Any) -> Request:
        key = f"{PROJECT}-{len(self.issues) + 1}"
        self.issues[key] = Request(key, fields)
        return self.issues[key]

    def add_account(self, email: str) -> str:
        """An Atlassian account with this email; its account id."""
        self.accounts[email] = f"5b10ac8d82e05b22cc7d4{len(self.accounts):03d}"
        return self.accounts[email]

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The `jira` settings section that points the adapter here."""
        return {
            "kind": "jira",
            "base_url": self.base_url,
            "service_desk_id": self.service_desk_id,
            "request_type_id": self.request_type_id,
            **overrides,
        }

    def environ(self) -> dict[str, str]:
        return {"SSPR_JIRA_EMAIL": self.email, "SSPR_JIRA_API_TOKEN": self.api_token}

    def authenticated(self, authorization: str) -> bool:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.email and secrets.compare_digest(password, self.api_token)


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"errorMessage": message, "i18nErrorMessage": {"i18nKey": "", "parameters": []}},
        status=status,
    )


def _app(stand_in: JiraStandIn) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        received = Received(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            authorization=request.headers.get("Authorization", ""),
            headers=dict(request.headers),
            body=body,
        )
        stand_in.requests.append(received)
        answer = respond(received, request.match_info)
        received.status = answer.status
        return answer

    def respond(received: Received, match: Any) -> web.Response:
        if not stand_in.authenticated(received.authorization):
            return web.json_response(
                {"errorMessages": ["Client must be authenticated to access this resource."]},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="protected-area"'},
            )
        if stand_in.faults:
            fault = stand_in.faults.popleft()
            answer = _error(fault.status, "The service is unavailable")
            if fault.retry_after is not None:
                answer.headers["Retry-After"] = fault.retry_after
            return answer
        if received.path == "/rest/api/3/user/search":
            email = received.query.get("query", "")
            found = [{"accountId": stand_in.accounts[email]}] if email in stand_in.accounts else []
            return web.json_response(found)
        if "key" not in match:
            return create(received.body)
        issue = stand_in.issues.get(match["key"])
        if issue is None:
            return _error(404, "Request does not exist or you do not have permission to see it.")
        action = match["action"]
        if action == "comment":
            return comment(issue, received.body)
        if received.method == "GET":
            page = {"size": len(stand_in.transitions), "start": 0, "limit": 50}
            return web.json_response({**page, "isLastPage": True, "values": stand_in.transitions})
        return transition(issue, received.body)

    def create(body: Any) -> web.Response:
        if not isinstance(body, dict) or not isinstance(body.get("requestFieldValues"), dict):
            return _error(400, "requestFieldValues is required")
        if (body.get("serviceDeskId"), body.get("requestTypeId")) != (
            stand_in.service_desk_id,
            stand_in.request_type_id,
        ):
            return _error(404, "The service desk or request type does not exist")
        issue = stand_in.add(**body)
        answer = {
            "issueId": str(10000 + len(stand_in.issues)),
            "issueKey": issue.key,
            "requestTypeId": stand_in.request_type_id,
            "serviceDeskId": stand_in.service_desk_id,
            "currentStatus": {"status": issue.status},
        }
        return web.json_response(answer, status=201)

    def comment(issue: Request, body: Any) -> web.Response:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            return _error(400, "The comment body is required")
        issue.comments.append(Comment(body["body"], bool(body.get("public", True))))
        answer = {
            "id": str(len(issue.comments)),
            "body": body["body"],
            "public": issue.comments[-1].public,
        }
        return web.json_response(answer, status=201)

    def transition(issue: Request, body: Any) -> web.Response:
        wanted = body.get("id") if isinstance(body, dict) else None
        for offered in stand_in.transitions:
            if offered["id"] == wanted:
                issue.transitions.append(offered["id"])
                issue.status = offered["name"]
                return web.Response(status=204)
        return _error(400, "The transition is not valid for this request")

    app = web.Application()
    app.router.add_get("/rest/api/3/user/search", handle, allow_head=False)
    app.router.add_post("/rest/servicedeskapi/request", handle)
    app.router.add_post("/rest/servicedeskapi/request/{key}/{action:comment|transition}", handle)
    app.router.add_get("/rest/servicedeskapi/request/{key}/{action:transition}", handle)
    return app


@asynccontextmanager
async def running_jira_stand_in() -> AsyncIterator[JiraStandIn]:
    """A stand-in on a free 127.0.0.1 port; `base_url` is its base URL."""
    stand_in = JiraStandIn()
    async with serving(_app(stand_in)) as url:
        stand_in.base_url = url
        yield stand_in
