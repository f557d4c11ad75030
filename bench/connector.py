"""A stand-in Bot Connector for the turn benchmark: it accepts bot replies and counts them.

The bots under test post every reply to the `serviceUrl` of the activity they answer.
Pointing that at this server keeps the whole benchmark on loopback and counts replies
independently of what a bot answers over HTTP, so a bot that acknowledged a turn without
replying (or replied with an error message) shows up in the figures.

Usage: python bench/connector.py PORT

    POST /v3/conversations/{id}/activities[/{activityId}]  -> {"id": "..."}
    GET  /count    -> {"replies": n, "kinds": {first words of a reply: n}}
    POST /reset    -> forget the counts (between two measured systems)
    GET  /healthz  -> readiness probe
"""

import sys
from collections import Counter
from typing import Any

from aiohttp import web

# How much of a reply's text names its kind: enough to tell a greeting from an error.
KIND_PREFIX = 28

REPLIES = web.AppKey("replies", Counter[str])


async def receive(request: web.Request) -> web.Response:
    """Count one reply, keyed by its opening words so the driver can show the reply mix."""
    body: dict[str, Any] = await request.json()
    replies = request.app[REPLIES]
    text = str(body.get("text") or body.get("type") or "?")
    replies[text.split("\n", 1)[0][:KIND_PREFIX]] += 1
    return web.json_response({"id": f"r{replies.total()}"})


async def count(request: web.Request) -> web.Response:
    replies = request.app[REPLIES]
    return web.json_response({"replies": replies.total(), "kinds": dict(replies)})


async def reset(request: web.Request) -> web.Response:
    request.app[REPLIES].clear()
    return web.json_response({})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app() -> web.Application:
    app = web.Application()
    app[REPLIES] = Counter()
    app.router.add_post("/v3/conversations/{conversation}/activities", receive)
    app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", receive)
    app.router.add_get("/count", count)
    app.router.add_post("/reset", reset)
    app.router.add_get("/healthz", healthz)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
