"""The aiohttp face of the hand-off: the request read (bounded) through the HTTP boundary,
handed over, answered. Added only when the shared secret is set, so without it the path is
as unknown as any other."""

from aiohttp import web

from bot.handoff.service import MAX_BODY, HandOff
from bot.http.aiohttp_adapter import aiohttp_response, http_request

HANDOFF_PATH = "/api/handoff"

HANDOFF_KEY = web.AppKey("handoff", HandOff)


def add_handoff_routes(app: web.Application, handoff: HandOff) -> None:
    app[HANDOFF_KEY] = handoff
    app.router.add_post(HANDOFF_PATH, _handoff)


async def _handoff(request: web.Request) -> web.StreamResponse:
    handoff = request.app[HANDOFF_KEY]
    return aiohttp_response(await handoff.handle(await http_request(request, max_body=MAX_BODY)))
