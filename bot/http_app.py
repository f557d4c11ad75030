"""The HTTP surface: the Bot Framework channel's `/api/messages`, `/healthz` (the process
lives) and `/readyz` (it can serve a turn: the state store answers). The other channels
and the password page add their own routes to the same app."""

from aiohttp import web

from bot.botframework.agent import ResetAgent
from bot.botframework.auth import ChannelCloudAdapter
from bot.botframework.credentials import BotFrameworkAuth
from bot.botframework.outbound import Outbound
from bot.botframework.routes import add_bot_framework_routes
from dialogs import Catalog
from state import Store, StoreUnavailable

MAX_BODY = 256 * 1024

STORE_KEY = web.AppKey("store", Store)


def create_app(
    *,
    adapter: ChannelCloudAdapter,
    agent: ResetAgent,
    auth: BotFrameworkAuth,
    catalog: Catalog,
    store: Store,
    outbound: Outbound,
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    add_bot_framework_routes(
        app, adapter=adapter, agent=agent, auth=auth, catalog=catalog, outbound=outbound
    )
    app[STORE_KEY] = store
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[STORE_KEY].ping()
    except StoreUnavailable:
        return web.json_response({"status": "not ready", "reason": "state store"}, status=503)
    return web.json_response({"status": "ready"})
