"""A local Slack Web API: the methods the bot calls, in Slack's wire format.

`AsyncWebClient(base_url=stand_in.api_url)` talks to it unchanged. Like Slack it answers
HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error": ...}`, refuses a request
without the bot token (`not_authed`, `invalid_auth`), reads arguments from the query, a
form or a JSON body, and checks what Slack checks of a message (a channel, a text or blocks,
well-formed buttons). It records every call, so tests assert on what reached Slack.
`users_info_gate`, when cleared, holds `users.info` answers back: a deterministic slow turn.
`users.lookupByEmail` finds the first user whose profile email matches, case-insensitively.

Files arrive as slack_sdk's `files_upload_v2` sends them, in Slack's three steps:
`files.getUploadURLExternal` (a file name and a length; it answers a file id and an upload
URL, here on this stand-in, as Slack's is on files.slack.com and needs no token), a POST of
the bytes to that URL (answered `OK - <length>` as Slack does, refused unless the length is
the one announced), then `files.completeUploadExternal` (the ids and titles as a JSON list,
the channel to share them in), which fails for a file whose bytes never came. Each file is
kept in `files`; `uploads` lists the ones completed.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.support.serving import serving

BOT_TOKEN = "xoxb-1111-2222-standinbottoken"
TEAM = "TCONTOSO"
BOT_USER = "UBOT0001"

# Slack users by id, as users.info describes them.
USERS: dict[str, dict[str, Any]] = {
    "UALICE001": {
        "id": "UALICE001",
        "team_id": TEAM,
        "name": "alice",
        "real_name": "Alice Wilber",
        "locale": "en-US",
        "profile": {"email": "alice@contoso.com", "real_name": "Alice Wilber"},
    },
    "UNOMAIL01": {
        "id": "UNOMAIL01",
        "team_id": TEAM,
        "name": "guest",
        "locale": "en-US",
        "profile": {"real_name": "No Mail"},
    },
    "USTRANGER": {
        "id": "USTRANGER",
        "team_id": "TOTHERORG",
        "is_stranger": True,
        "profile": {"email": "alice@contoso.com"},
    },
}


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    authorization: str | None
    answer: dict[str, Any] = field(default_factory=dict)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class UploadedFile:
    """One file as Slack keeps it: what `files.getUploadURLExternal` announced, the bytes
    posted to its upload URL, and where `files.completeUploadExternal` shared it."""

    id: str
    filename: str
    length: int
    alt_txt: str | None
    content: bytes | None = None
    completed: bool = False
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None

    @property
    def mimetype(self) -> str:
        """What Slack makes of the bytes (it looks at them, not at the name)."""
        if self.content is not None and self.content.startswith(PNG_SIGNATURE):
            return "image/png"
        return "application/octet-stream"


@dataclass
class SlackApiStandIn:
    api_url: str = ""
    calls: list[Call] = field(default_factory=list)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(USERS))
    failing: dict[str, str] = field(default_factory=dict)  # method -> the error it answers
    users_info_gate: asyncio.Event = field(default_factory=asyncio.Event)
    users_info_waiting: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.users_info_gate.set()

    def called(self, method: str, since: int = 0) -> list[Call]:
        return [call for call in self.calls[since:] if call.method == method]

    def uploads(self) -> list[UploadedFile]:
        """The files uploaded and completed, in the order they were announced."""
        return [file for file in self.files.values() if file.completed]

    def posts(self, since: int = 0) -> list[dict[str, Any]]:
        """The messages posted since call number `since`: the arguments, with the `ts`
        Slack gave each."""
        return [
            {**call.args, "ts": call.answer.get("ts")}
            for call in self.called("chat.postMessage", since)
        ]


def _buttons_problem(blocks: object) -> str | None:
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    action_ids: set[str] = set()
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            return "invalid_blocks"
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            text = element.get("text") or {}
            if element.get("type") != "button" or text.get("type") != "plain_text":
                return "invalid_blocks"
            if not 0 < len(text.get("text", "")) <= 75 or len(element.get("value", "")) > 2000:
                return "invalid_blocks"
            if element.get("action_id") in action_ids:
                return "invalid_blocks"
            action_ids.add(element.get("action_id"))
    return None


def _app(stand_in: SlackApiStandIn) -> web.Application:
    timestamps = count(1)

    async def api(request: web.Request) -> web.Response:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.method == "POST":
            args.update(await request.post())
        call = Call(request.match_info["method"], args, request.headers.get("Authorization"))
        stand_in.calls.append(call)
        call.answer = await answer(call)
        return web.json_response(call.answer)

    async def answer(call: Call) -> dict[str, Any]:
        if not call.authorization:
            return {"ok": False, "error": "not_authed"}
        if call.authorization != f"Bearer {BOT_TOKEN}":
            return {"ok": False, "error": "invalid_auth"}
        if call.method in stand_in.failing:
            return {"ok": False, "error": stand_in.failing[call.method]}
        handler = methods.get(call.method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return await handler(call.args)

    async def users_info(args: dict[str, Any]) -> dict[str, Any]:
        stand_in.users_info_waiting.set()
        await stand_in.users_info_gate.wait()
        user = stand_in.users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    async def lookup_by_email(args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email") or "").casefold()
        if not email:
            return {"ok": False, "error": "invalid_arguments"}
        for user in stand_in.users.values():
            if str((user.get("profile") or {}).get("email", "")).casefold() == email:
                return {"ok": True, "user": user}
        return {"ok": False, "error": "users_not_found"}

    async def auth_test(args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://contoso.slack.com/",
            "team": "Contoso",
            "user": "sspr-bot",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": "BBOT0001",
            "is_enterprise_install": False,
        }

    async def post_message(args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if "blocks" in args and (problem := _buttons_problem(args["blocks"])):
            return {"ok": False, "error": problem}
        ts = f"1700000000.{next(timestamps):06d}"
        message = {"type": "message", "ts": ts, "text": args.get("text"), "bot_id": "BBOT0001"}
        if "blocks" in args:
            message["blocks"] = args["blocks"]
        return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}

    async def update(args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel") or not args.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        if "blocks" in args and (problem := _buttons_problem(args["blocks"])):
            return {"ok": False, "error": problem}
        return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": args.get("text")}

    async def conversations_open(args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "")
        if users not in stand_in.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": f"D{users}"}}

    file_ids = count(1)

    async def get_upload_url(args: dict[str, Any]) -> dict[str, Any]:
        filename = str(args.get("filename") or "")
        length = str(args.get("length") or "")
        if not filename or not length.isdigit() or int(length) < 1:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(file_ids):010d}"
        alt_txt = args.get("alt_txt")
        stand_in.files[file_id] = UploadedFile(
            file_id, filename, int(length), str(alt_txt) if alt_txt is not None else None
        )
        upload_url = f"{stand_in.api_url.removesuffix('/api/')}/upload/v1/{file_id}"
        return {"ok": True, "upload_url": upload_url, "file_id": file_id}

    async def upload(request: web.Request) -> web.Response:
        file = stand_in.files.get(request.match_info["file_id"])
        content = await request.read()
        if file is None or file.completed:
            return web.Response(status=404, text="file not found")
        if len(content) != file.length:
            return web.Response(status=400, text="length does not match")
        file.content = content
        return web.Response(text=f"OK - {len(content)}")

    async def complete_upload(args: dict[str, Any]) -> dict[str, Any]:
        try:
            listed = json.loads(str(args.get("files") or ""))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(listed, list) or not listed:
            return {"ok": False, "error": "invalid_arguments"}
        completed = []
        for entry in listed:
            file = stand_in.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if file is None or file.content is None or file.completed:
                return {"ok": False, "error": "file_not_found"}
            completed.append((file, entry.get("title")))
        answers = []
        for file, title in completed:
            file.completed = True
            file.title = str(title) if title is not None else file.filename
            file.channel = args.get("channel_id")
            file.thread_ts = args.get("thread_ts")
            file.initial_comment = args.get("initial_comment")
            answers.append(
                {
                    "id": file.id,
                    "name": file.filename,
                    "title": file.title,
                    "mimetype": file.mimetype,
                    "size": file.length,
                    "user": BOT_USER,
                    "alt_txt": file.alt_txt,
                }
            )
        return {"ok": True, "files": answers}

    methods = {
        "auth.test": auth_test,
        "users.info": users_info,
        "users.lookupByEmail": lookup_by_email,
        "chat.postMessage": post_message,
        "chat.update": update,
        "conversations.open": conversations_open,
        "files.getUploadURLExternal": get_upload_url,
        "files.completeUploadExternal": complete_upload,
    }
    app = web.Application()
    app.router.add_route("*", "/api/{method}", api)
    app.router.add_post("/upload/v1/{file_id}", upload)
    return app


@asynccontextmanager
async def slack_api_stand_in() -> AsyncIterator[SlackApiStandIn]:
    """A running stand-in on a free loopback port; `api_url` is the client's `base_url`."""
    stand_in = SlackApiStandIn()
    async with serving(_app(stand_in)) as url:
        stand_in.api_url = f"{url}/api/"
        try:
            yield stand_in
        finally:
            stand_in.users_info_gate.set()


def form_payload(payload: dict[str, Any]) -> bytes:
    """An interactivity request body as Slack sends it: `payload=<url-encoded JSON>`."""
    return urlencode({"payload": json.dumps(payload)}).encode()
