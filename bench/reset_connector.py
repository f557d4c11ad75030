"""The stand-in Bot Connector of the reset benchmark: `connector.py`, plus the replies of
each conversation for the load generator to read.

A reset's next step depends on the bot's last answer (the password link is in it, the
final confirmation comes after the page's post), so the load generator must read what was
said in one conversation. `connector.py` only counts; this server counts the same way (its
handlers, unchanged) and also keeps each conversation's reply texts, which a long poll
hands out as they arrive: the load generator waits on the server's own event, not on a
timer.

Usage: python -m bench.reset_connector PORT (from the project's root, or with it on
PYTHONPATH: it imports connector.py)

    the routes of connector.py (/count, /reset, /healthz, the activity posts), and
    GET /conversations/{id}/replies?after=N&wait=S
        -> {"replies": [texts after the first N]}, answered once there is one (at most S
           seconds later; then possibly empty)
"""

import asyncio
import contextlib
import sys
from collections import Counter
from typing import Any

from aiohttp import web

from bench.connector import REPLIES, count, healthz, reset
from bench.connector import receive as count_reply

MAX_WAIT = 30.0  # seconds a long poll may be held


class Conversations:
    """Reply texts by conversation, and one condition that wakes every waiting poll."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}
        self.changed = asyncio.Condition()

    async def add(self, conversation: str, text: str) -> None:
        self.texts.setdefault(conversation, []).append(text)
        async with self.changed:
            self.changed.notify_all()

    async def after(self, conversation: str, seen: int, wait: float) -> list[str]:
        def more() -> bool:
            return len(self.texts.get(conversation, ())) > seen

        async with self.changed:
            with contextlib.suppress(TimeoutError):  # then answer with what there is
                await asyncio.wait_for(self.changed.wait_for(more), wait)
        return self.texts.get(conversation, [])[seen:]

    def clear(self) -> None:
        self.texts.clear()


CONVERSATIONS = web.AppKey("conversations", Conversations)


async def receive(request: web.Request) -> web.Response:
    response = await count_reply(request)  # the body is cached: read again below
    body: dict[str, Any] = await request.json()
    text = str(body.get("text") or body.get("type") or "?")
    await request.app[CONVERSATIONS].add(request.match_info["conversation"], text)
    return response


async def replies(request: web.Request) -> web.Response:
    seen = int(request.query.get("after", "0"))
    wait = min(MAX_WAIT, float(request.query.get("wait", "10")))
    texts = await request.app[CONVERSATIONS].after(request.match_info["conversation"], seen, wait)
    return web.json_response({"replies": texts})


async def forget(request: web.Request) -> web.Response:
    request.app[CONVERSATIONS].clear()
    return await reset(request)


def create_app() -> web.Application:
    app = web.Application()
    app[REPLIES] = Counter()
    app[CONVERSATIONS] = Conversations()
    app.router.add_post("/v3/conversations/{conversation}/activities", receive)
    app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", receive)
    app.router.add_get("/conversations/{conversation}/replies", replies)
    app.router.add_get("/count", count)
    app.router.add_post("/reset", forget)
    app.router.add_get("/healthz", healthz)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
