"""Baseline (b): the smallest Microsoft 365 Agents SDK bot, echoing every message.

The stock CloudAdapter, anonymous (development) authentication and the SDK's own connector
client, which posts the reply to the activity's serviceUrl before the 202 goes back. The
gap between this and the bare handler is what the SDK costs; the gap between this and
sspr-bot is what the reset logic, the state store and the pooled reply client cost.

Usage: python bench/echo_sdk.py PORT
"""

import sys
import warnings
from typing import Any

from aiohttp import web
from microsoft_agents.activity import TurnContextProtocol
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware
from microsoft_agents.hosting.core import ActivityHandler, MessageFactory
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration

ADAPTER = web.AppKey("adapter", CloudAdapter)
AGENT = web.AppKey("agent", ActivityHandler)


class EchoAgent(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContextProtocol[Any]) -> None:
        text = turn_context.activity.text or ""
        await turn_context.send_activity(MessageFactory.text(f"echo: {text}"))


async def messages(request: web.Request) -> web.StreamResponse:
    response = await request.app[ADAPTER].process(request, request.app[AGENT])
    return response or web.Response(status=202)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app() -> web.Application:
    # No app id: the SDK's development mode, which checks no token (loopback only here).
    connections = MsalConnectionManager(CONNECTIONS={"SERVICE_CONNECTION": {"SETTINGS": {}}})
    app = web.Application(middlewares=[jwt_authorization_middleware])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["agent_configuration"] = AgentAuthConfiguration(anonymous_allowed=True)
    app[ADAPTER] = CloudAdapter(connection_manager=connections)
    app[AGENT] = EchoAgent()
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
