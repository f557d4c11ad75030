"""`/api/messages`: where every Bot Framework channel (Teams, the Emulator, Azure Bot
Service's others) posts its activities, behind the Agents SDK's JWT check."""

import logging
import warnings

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_decorator
from microsoft_agents.hosting.core import TurnContext
from pydantic import ValidationError

from bot.botframework.activity_body import NOT_AN_ACTIVITY
from bot.botframework.agent import ResetAgent
from bot.botframework.credentials import BotFrameworkAuth
from bot.botframework.render import to_activity
from dialogs import Catalog

log = logging.getLogger(__name__)

ADAPTER_KEY = web.AppKey("adapter", CloudAdapter)
AGENT_KEY = web.AppKey("agent", ResetAgent)


def add_bot_framework_routes(
    app: web.Application,
    *,
    adapter: CloudAdapter,
    agent: ResetAgent,
    auth: BotFrameworkAuth,
    catalog: Catalog,
) -> None:
    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        log.error("turn failed", extra={"error": type(error).__name__})
        locale = context.activity.locale or "en"
        await context.send_activity(to_activity(catalog.reply("unavailable", locale)))

    adapter.on_turn_error = on_turn_error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["agent_configuration"] = auth.configuration  # the key the SDK's JWT check reads
    app[ADAPTER_KEY] = adapter
    app[AGENT_KEY] = agent
    app.router.add_post("/api/messages", messages)


@jwt_authorization_decorator  # type: ignore[untyped-decorator]
async def messages(request: web.Request) -> web.StreamResponse:
    await request.read()  # an oversized body fails here as 413, before it is read as JSON
    try:
        response = await request.app[ADAPTER_KEY].process(request, request.app[AGENT_KEY])
    except ValidationError:
        return web.json_response({"error": NOT_AN_ACTIVITY}, status=400)
    return response or web.Response(status=202)
