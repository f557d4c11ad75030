"""Reading a request body without letting a sender make the bot hold more than it allows."""

from aiohttp import web

CHUNK = 64 * 1024


async def bounded_body(request: web.Request, limit: int) -> bytes | None:
    """The body as sent, or None past `limit` bytes (read no further than that)."""
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
