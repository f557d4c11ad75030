"""The aiohttp face of the web chat: the page at `/`, its script and style sheet, and the
JSON API (messages, and the password page's outcome); bodies are read bounded, the
conversation cookie set here."""

from aiohttp import web

from bot.request_body import bounded_body
from bot.webchat.channel import COOKIE_NAME, COOKIE_PATH, WebChat, WebChatAnswer, WebChatRequest
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
    page = request.app[WEBCHAT_KEY].page(request.headers)
    return web.Response(
        text=page.html, content_type="text/html", charset="utf-8", headers=page.headers
    )


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.path.removeprefix(STATIC_PREFIX)
    headers = {**COMMON_HEADERS, "Cache-Control": "no-cache"}
    return web.Response(
        body=request.app[STATIC_KEY][name],
        content_type=STATIC_TYPES[name],
        charset="utf-8",
        headers=headers,
    )


async def _messages(request: web.Request) -> web.StreamResponse:
    webchat = request.app[WEBCHAT_KEY]
    answer = await webchat.message(await _webchat_request(request, webchat.max_body))
    return _response(answer, secure=webchat.secure_cookies)


async def _outcome(request: web.Request) -> web.StreamResponse:
    webchat = request.app[WEBCHAT_KEY]
    answer = await webchat.outcome(await _webchat_request(request, OUTCOME_MAX_BODY))
    return _response(answer, secure=webchat.secure_cookies)


async def _webchat_request(request: web.Request, max_body: int) -> WebChatRequest:
    return WebChatRequest(
        body=await bounded_body(request, max_body),
        headers=request.headers,
        peer=request.remote,
        cookie=request.cookies.get(COOKIE_NAME),
        host=request.host,
    )


def _response(answer: WebChatAnswer, *, secure: bool) -> web.Response:
    response = web.Response(
        body=answer.json_bytes(),
        status=answer.status,
        content_type="application/json",
        charset="utf-8",
        headers=answer.headers,
    )
    if answer.new_cookie is not None:
        response.set_cookie(
            COOKIE_NAME,
            answer.new_cookie,
            path=COOKIE_PATH,
            httponly=True,
            samesite="Strict",
            secure=secure,
        )
    return response
