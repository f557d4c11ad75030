"""The HTTP surface: `/api/messages` for Bot Framework channels, `/healthz` (the process
lives) and `/readyz` (it can serve a turn: the state store answers)."""

import logging
import warnings

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_decorator
from microsoft_agents.hosting.core import TurnContext
from pydantic import ValidationError

from bot.agent import ResetAgent
from bot.bot_framework import BotFrameworkAuth
from bot.render import to_activity
from bot.teams.activity_body import NOT_AN_ACTIVITY
from dialogs import ResetDialog
from state import Store, StoreUnavailable

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024

ADAPTER_KEY = web.AppKey("adapter", CloudAdapter)
AGENT_KEY = web.AppKey("agent", ResetAgent)
STORE_KEY = web.AppKey("store", Store)


def create_app(
    *,
    adapter: CloudAdapter,
    agent: ResetAgent,
    auth: BotFrameworkAuth,
    dialog: ResetDialog,
    store: Store,
) -> web.Application:
    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        log.error("turn failed", extra={"error": type(error).__name__})
        locale = context.activity.locale or "en"
        await context.send_activity(to_activity(dialog.message("unavailable", locale)))

    adapter.on_turn_error = on_turn_error
    app = web.Application(client_max_size=MAX_BODY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["agent_configuration"] = auth.configuration  # the key the SDK's JWT check reads
    app[ADAPTER_KEY] = adapter
    app[AGENT_KEY] = agent
    app[STORE_KEY] = store
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


@jwt_authorization_decorator  # type: ignore[untyped-decorator]
async def messages(request: web.Request) -> web.StreamResponse:
    await request.read()  # an oversized body fails here as 413, before it is read as JSON
    try:
        response = await request.app[ADAPTER_KEY].process(request, request.app[AGENT_KEY])
    except ValidationError:
        return web.json_response({"error": NOT_AN_ACTIVITY}, status=400)
    return response or web.Response(status=202)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[STORE_KEY].ping()
    except StoreUnavailable:
        return web.json_response({"status": "not ready", "reason": "state store"}, status=503)
    return web.json_response({"status": "ready"})
