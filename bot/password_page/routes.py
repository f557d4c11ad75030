"""The aiohttp face of the password page: `/password/{token}` read (bounded) through the HTTP
boundary and handed to `PasswordPage`, and the page's script and style sheet."""

from importlib.resources import files

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.http import HttpAnswer
from bot.http.aiohttp_adapter import aiohttp_response, http_request
from bot.password_page.page import SECURITY_HEADERS, PasswordPage
from bot.password_page.render import SCRIPT, STYLE

# The form is a token and the password twice; a post as large as the app lets any request be.
MAX_FORM = 256 * 1024

PAGE_KEY = web.AppKey("password_page", PasswordPage)
_STATIC = {SCRIPT: ("page.js", "text/javascript"), STYLE: ("page.css", "text/css")}


def add_password_page_routes(app: web.Application, page: PasswordPage) -> None:
    """The page, its form post, and its script and style (served with the same headers)."""
    app[PAGE_KEY] = page
    app.router.add_get("/password/{token}", _show)
    app.router.add_post("/password/{token}", _submit)
    folder = files("bot.password_page").joinpath("static")
    for path, (name, content_type) in _STATIC.items():
        body = folder.joinpath(name).read_bytes()
        app.router.add_get(path, _static_file(body, content_type))


async def _show(request: web.Request) -> web.StreamResponse:
    page, token = request.app[PAGE_KEY], request.match_info["token"]
    return aiohttp_response(await page.show(await http_request(request, max_body=0), token))


async def _submit(request: web.Request) -> web.StreamResponse:
    page, token = request.app[PAGE_KEY], request.match_info["token"]
    form = await http_request(request, max_body=MAX_FORM)
    return aiohttp_response(await page.submit(form, token))


def _static_file(body: bytes, content_type: str) -> Handler:
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    answer = HttpAnswer(200, body, content_type, headers)

    async def serve(request: web.Request) -> web.StreamResponse:
        return aiohttp_response(answer)

    return serve
