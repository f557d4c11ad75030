"""aiohttp in, aiohttp out: the only place that turns an aiohttp request into an
`HttpRequest` (headers normalised, the body read no further than the route allows) and an
`HttpAnswer` into a response."""

from types import MappingProxyType

from aiohttp import web

from bot.http.request import Headers, HttpAnswer, HttpRequest

CHUNK = 64 * 1024


async def http_request(request: web.Request, *, max_body: int) -> HttpRequest:
    """`request` as plain data; its body None past `max_body` bytes (0 for a route that
    takes none)."""
    return HttpRequest(
        method=request.method,
        path=request.path,
        query=MappingProxyType(dict(request.query)),
        headers=Headers(request.headers.items()),
        cookies=MappingProxyType(dict(request.cookies)),
        peer=request.remote,
        host=request.host,
        content_type=request.content_type,
        charset=request.charset,
        body=await _bounded_body(request, max_body),
    )


def aiohttp_response(answer: HttpAnswer) -> web.Response:
    response = web.Response(
        status=answer.status,
        body=answer.body,
        content_type=answer.content_type,
        charset="utf-8" if answer.content_type is not None else None,
        headers=answer.headers,
    )
    for cookie in answer.cookies:
        if cookie.value is None:
            response.del_cookie(
                cookie.name,
                path=cookie.path,
                secure=cookie.secure,
                httponly=True,
                samesite="Strict",
            )
        else:
            response.set_cookie(
                cookie.name,
                cookie.value,
                path=cookie.path,
                secure=cookie.secure,
                httponly=True,
                samesite="Strict",
            )
    return response


async def _bounded_body(request: web.Request, limit: int) -> bytes | None:
    """The body as sent, or None past `limit` bytes: a declared length over it is refused
    unread, and a body without one is read no further than the chunk that crosses it."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
