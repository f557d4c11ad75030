"""A local Bot Connector: the REST endpoints a bot posts its replies to, recording each one.

It speaks the wire format of the real service (`POST /v3/conversations/{id}/activities` and
`.../activities/{activityId}`, answering `{"id": ...}`) so the real Agents SDK client talks
to it unchanged, and it keeps what a test needs to assert on: the activity JSON, the
Authorization header and which TCP connection (client port) carried the request.
`refuse_with`, when set, is the status every activity is then refused with (as Teams
answers 403 once the user has removed the app), and nothing is recorded.

`POST /v3/conversations` opens a 1:1 conversation as Teams does: one member, not a group, a
tenant named; the same member gets the same conversation again (`a:new-<n>`), and what was
asked is recorded in `opened`. Members in `not_installed_for` are refused with 403, as Teams
refuses a user the app is not installed for.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from aiohttp import web

from tests.support.serving import serving


@dataclass(frozen=True)
class Received:
    conversation_id: str
    reply_to_id: str | None
    activity: dict[str, Any]
    authorization: str | None
    client_port: int

    @property
    def text(self) -> str:
        return str(self.activity.get("text") or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        suggested = self.activity.get("suggestedActions") or {}
        return list(suggested.get("actions") or [])


@dataclass(frozen=True)
class Opened:
    """A `POST /v3/conversations` the stand-in answered 201."""

    conversation_id: str
    members: list[str]
    tenant: str | None  # channelData.tenant.id
    tenant_id: str | None  # the top-level tenantId
    bot: str | None
    is_group: bool | None
    authorization: str | None


@dataclass
class ConnectorStandIn:
    url: str
    received: list[Received] = field(default_factory=list)
    refuse_with: int | None = None
    opened: list[Opened] = field(default_factory=list)
    not_installed_for: set[str] = field(default_factory=set)

    def texts_since(self, mark: int) -> list[str]:
        return [entry.text for entry in self.received[mark:]]

    def client_ports(self) -> set[int]:
        return {entry.client_port for entry in self.received}


def _app(stand_in: ConnectorStandIn) -> web.Application:
    ids = count(1)

    async def activities(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.json_response({"error": {"code": "BadSyntax"}}, status=400)
        body = await request.json()
        if not isinstance(body, dict) or not body.get("type"):
            return web.json_response({"error": {"code": "BadArgument"}}, status=400)
        if stand_in.refuse_with is not None:
            error = {
                "code": "BotNotInConversationRoster",
                "message": "The bot is not part of the conversation roster.",
            }
            return web.json_response({"error": error}, status=stand_in.refuse_with)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        stand_in.received.append(
            Received(
                conversation_id=request.match_info["conversation_id"],
                reply_to_id=request.match_info.get("activity_id"),
                activity=body,
                authorization=request.headers.get("Authorization"),
                client_port=int(peer[1]) if peer else -1,
            )
        )
        return web.json_response({"id": f"connector-activity-{next(ids)}"}, status=201)

    conversations: dict[str, str] = {}

    async def open_conversation(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.json_response({"error": {"code": "BadSyntax"}}, status=400)
        body = await request.json()
        members = body.get("members") if isinstance(body, dict) else None
        if not isinstance(members, list) or len(members) != 1 or body.get("isGroup"):
            error = {"code": "BadArgument", "message": "A 1:1 conversation has one member."}
            return web.json_response({"error": error}, status=400)
        member = members[0].get("id") if isinstance(members[0], dict) else None
        tenant = ((body.get("channelData") or {}).get("tenant") or {}).get("id")
        if not isinstance(member, str) or not (tenant or body.get("tenantId")):
            error = {"code": "BadArgument", "message": "A member id and a tenant are required."}
            return web.json_response({"error": error}, status=400)
        if member in stand_in.not_installed_for:
            error = {"code": "Forbidden", "message": "The bot is not installed for the user."}
            return web.json_response({"error": error}, status=403)
        conversation_id = conversations.setdefault(member, f"a:new-{len(conversations) + 1}")
        stand_in.opened.append(
            Opened(
                conversation_id=conversation_id,
                members=[member],
                tenant=tenant,
                tenant_id=body.get("tenantId"),
                bot=(body.get("bot") or {}).get("id"),
                is_group=body.get("isGroup"),
                authorization=request.headers.get("Authorization"),
            )
        )
        return web.json_response({"id": conversation_id}, status=201)

    app = web.Application()
    app.router.add_post("/v3/conversations", open_conversation)
    app.router.add_post("/v3/conversations/{conversation_id}/activities", activities)
    app.router.add_post("/v3/conversations/{conversation_id}/activities/{activity_id}", activities)
    return app


@asynccontextmanager
async def connector_stand_in() -> AsyncIterator[ConnectorStandIn]:
    """A running stand-in on a free loopback port; `url` is what goes in `serviceUrl`."""
    stand_in = ConnectorStandIn(url="")
    async with serving(_app(stand_in)) as url:
        stand_in.url = f"{url}/"
        yield stand_in
