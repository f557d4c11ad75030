"""The aiohttp face of the web chat: the page at `/`, its script and style sheet, and the
JSON API (messages, and the password page's outcome), each request read (bounded) through
the HTTP boundary."""

from aiohttp import web

from bot.http import HttpAnswer
from bot.http.aiohttp_adapter import aiohttp_response, http_request
from bot.webchat.channel import WebChat
from bot.webchat.page import (
    API_PATH,
    COMMON_HEADERS,
    OUTCOME_PATH,
    STATIC_PREFIX,
    STATIC_TYPES,
    static_files,
)

PAGE_PATH = "/"
OUTCOME_MAX_BODY = 64  # the page sends `{}`

WEBCHAT_KEY = web.AppKey("webchat", WebChat)
STATIC_KEY = web.AppKey("webchat_static", dict[str, bytes])


def add_webchat_routes(app: web.Application, webchat: WebChat) -> None:
    """Serve the web chat on `app`; its CAPTCHA client is closed on app cleanup."""
    app[WEBCHAT_KEY] = webchat
    app[STATIC_KEY] = static_files()
    app.router.add_get(PAGE_PATH, _page)
    for name in STATIC_TYPES:
        app.router.add_get(f"{STATIC_PREFIX}{name}", _static)
    app.router.add_post(API_PATH, _messages)
    app.router.add_post(OUTCOME_PATH, _outcome)

    async def close_webchat(app: web.Application) -> None:
        await app[WEBCHAT_KEY].close()

    app.on_cleanup.append(close_webchat)


async def _page(request: web.Request) -> web.StreamResponse:
    webchat = request.app[WEBCHAT_KEY]
    return aiohttp_response(webchat.page(await http_request(request, max_body=0)))


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.path.removeprefix(STATIC_PREFIX)
    headers = {**COMMON_HEADERS, "Cache-Control": "no-cache"}
    body = request.app[STATIC_KEY][name]
    return aiohttp_response(HttpAnswer(200, body, STATIC_TYPES[name], headers))


async def _messages(request: web.Request) -> web.StreamResponse:
    webchat = request.app[WEBCHAT_KEY]
    answer = await webchat.message(await http_request(request, max_body=webchat.max_body))
    return aiohttp_response(answer)


async def _outcome(request: web.Request) -> web.StreamResponse:
    webchat = request.app[WEBCHAT_KEY]
    answer = await webchat.outcome(await http_request(request, max_body=OUTCOME_MAX_BODY))
    return aiohttp_response(answer)
