"""A local Bot Connector: the REST endpoints a bot posts its replies to, recording each one.

It speaks the wire format of the real service (`POST /v3/conversations/{id}/activities` and
`.../activities/{activityId}`, answering `{"id": ...}`) so the real Agents SDK client talks
to it unchanged, and it keeps what a test needs to assert on: the activity JSON, the
Authorization header and which TCP connection (client port) carried the request.
`refuse_with`, when set, is the status every activity is then refused with (as Teams
answers 403 once the user has removed the app), and nothing is recorded.
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


@dataclass
class ConnectorStandIn:
    url: str
    received: list[Received] = field(default_factory=list)
    refuse_with: int | None = None

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

    app = web.Application()
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
