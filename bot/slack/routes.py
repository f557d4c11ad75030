"""The aiohttp face of the Slack channel: the request read (bounded) through the HTTP
boundary, handed over, answered."""

from aiohttp import web

from bot.http.aiohttp_adapter import aiohttp_response, http_request
from bot.slack.channel import SlackChannel

MAX_BODY = 256 * 1024
EVENTS_PATH = "/api/slack/events"
INTERACTIVITY_PATH = "/api/slack/interactivity"

SLACK_KEY = web.AppKey("slack", SlackChannel)


def add_slack_routes(app: web.Application, slack: SlackChannel) -> None:
    """Serve Slack on `app`; the channel is closed (its turns finished) on app cleanup."""
    app[SLACK_KEY] = slack
    app.router.add_post(EVENTS_PATH, _events)
    app.router.add_post(INTERACTIVITY_PATH, _interactivity)

    async def close_slack(app: web.Application) -> None:
        await app[SLACK_KEY].close()

    app.on_cleanup.append(close_slack)


async def _events(request: web.Request) -> web.StreamResponse:
    slack = request.app[SLACK_KEY]
    return aiohttp_response(await slack.events(await http_request(request, max_body=MAX_BODY)))


async def _interactivity(request: web.Request) -> web.StreamResponse:
    slack = request.app[SLACK_KEY]
    answer = await slack.interactivity(await http_request(request, max_body=MAX_BODY))
    return aiohttp_response(answer)
