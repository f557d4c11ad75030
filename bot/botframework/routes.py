"""`/api/messages`: where every Bot Framework channel (Teams, the Emulator, Azure Bot
Service's others) posts its activities.

The token is checked first (`token_check`: the SDK's validator, each token once), then the
body (`activity_body`) and the channel's rules (`ChannelCloudAdapter.refusal`). A message
then runs the direct way (`direct`); any other activity goes through the SDK's adapter.
"""

import logging
import warnings
from dataclasses import dataclass

from aiohttp import web
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext
from pydantic import ValidationError

from bot.botframework.activity_body import NOT_AN_ACTIVITY, parse_activity_body
from bot.botframework.agent import MessageTurn, ResetAgent
from bot.botframework.auth import ChannelCloudAdapter
from bot.botframework.credentials import BotFrameworkAuth
from bot.botframework.direct import DirectTurns, takes
from bot.botframework.outbound import Outbound
from bot.botframework.render import to_activity
from bot.botframework.token_check import TokenCheck, TokenRefused
from dialogs import Catalog

log = logging.getLogger(__name__)

NO_CONVERSATION = "Activity must have type and conversation.id"


@dataclass(frozen=True)
class BotFrameworkChannel:
    tokens: TokenCheck
    adapter: ChannelCloudAdapter
    agent: ResetAgent
    direct: DirectTurns


CHANNEL_KEY = web.AppKey("bot framework channel", BotFrameworkChannel)


def add_bot_framework_routes(
    app: web.Application,
    *,
    adapter: ChannelCloudAdapter,
    agent: ResetAgent,
    auth: BotFrameworkAuth,
    catalog: Catalog,
    outbound: Outbound,
) -> None:
    async def apologise(turn: MessageTurn, error: Exception) -> None:
        """A failed turn: logged by the error's type only (its text may carry what the
        user typed), and the user told the service is briefly unavailable."""
        log.error("turn failed", extra={"error": type(error).__name__})
        locale = turn.activity.locale or ""
        await turn.send_activity(to_activity(catalog.reply("unavailable", locale)))

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        await apologise(context, error)

    adapter.on_turn_error = on_turn_error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["agent_configuration"] = auth.configuration  # what the SDK's adapter reads
    direct = DirectTurns(agent.handle_message, outbound, apologise)
    app[CHANNEL_KEY] = BotFrameworkChannel(TokenCheck(auth.configuration), adapter, agent, direct)
    app.router.add_post("/api/messages", messages)


async def messages(request: web.Request) -> web.StreamResponse:
    channel = request.app[CHANNEL_KEY]
    claims = await channel.tokens.claims(request.headers.get("Authorization"))
    if isinstance(claims, TokenRefused):
        return web.json_response({"error": claims.error}, status=claims.status)
    raw = await request.read()  # an oversized body fails here as 413, before it is parsed
    body = parse_activity_body(raw)
    if body is None:
        log.warning("activity body refused: not JSON or nested too deep")
        return web.json_response({"error": NOT_AN_ACTIVITY}, status=400)
    if isinstance(body, dict) and takes(body):
        refusal = await channel.adapter.refusal(claims, body)
        if refusal is not None:
            return web.json_response(refusal.body, status=refusal.status_code)
        try:
            activity = Activity.model_validate(body)
        except ValidationError:
            return web.json_response({"error": NOT_AN_ACTIVITY}, status=400)
        if not activity.conversation or not activity.conversation.id:
            return web.json_response({"error": NO_CONVERSATION}, status=400)
        await channel.direct.run(claims, activity)
        return web.Response(status=202)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        request["claims_identity"] = claims  # the key the SDK's adapter reads
    try:
        response = await channel.adapter.process(request, channel.agent)
    except ValidationError:
        return web.json_response({"error": NOT_AN_ACTIVITY}, status=400)
    return response or web.Response(status=202)
