"""Baseline (a): a bare aiohttp handler that parses the activity and answers with JSON.

One HTTP exchange and no SDK at all: the floor a Bot Framework turn cannot go below on
this machine with this HTTP stack. It sends nothing to the connector.

Usage: python bench/echo_bare.py PORT
"""

import sys

from aiohttp import web


async def messages(request: web.Request) -> web.Response:
    activity = await request.json()
    return web.json_response({"type": "message", "text": f"echo: {activity.get('text', '')}"})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
