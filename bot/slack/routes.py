"""The aiohttp face of the Slack channel: read the raw body (bounded), hand it over, answer."""

from aiohttp import web

from bot.request_body import bounded_body
from bot.slack.channel import SlackAnswer, SlackChannel, SlackRequest

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
    body = await bounded_body(request, MAX_BODY)
    if body is None:
        return _too_large()
    slack = request.app[SLACK_KEY]
    return _response(await slack.events(SlackRequest(body, request.headers)))


async def _interactivity(request: web.Request) -> web.StreamResponse:
    body = await bounded_body(request, MAX_BODY)
    if body is None:
        return _too_large()
    slack = request.app[SLACK_KEY]
    return _response(await slack.interactivity(SlackRequest(body, request.headers)))


def _too_large() -> web.Response:
    return web.json_response({"error": "request too large"}, status=413)


def _response(answer: SlackAnswer) -> web.Response:
    if answer.body is None:
        return web.Response(status=answer.status, headers=answer.headers)
    return web.json_response(answer.body, status=answer.status, headers=answer.headers)
