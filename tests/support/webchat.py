"""The web chat over real HTTP: the bot's web chat routes served on a free loopback port,
and browsers (each its own cookie jar and, if asked, its own 127.x.y.z address) talking
to its JSON API as the page does."""

import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, CookieJar, TCPConnector, web

from bot.runtime import Runtime, start_runtime
from bot.webchat import WebChat, WebChatSettings, add_webchat_routes
from bot.webchat.channel import COOKIE_NAME
from state import FrozenClock
from tests.support.harness import Outbox, settings_for
from tests.support.serving import serving

API = "/webchat/api/messages"
OUTCOME = "/webchat/api/outcome"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]

    @property
    def json(self) -> dict[str, Any]:
        document = json.loads(self.body)
        assert isinstance(document, dict)
        return document

    @property
    def texts(self) -> list[str]:
        return [reply["text"] for reply in self.json["replies"]]

    @property
    def text(self) -> str:
        return "\n---\n".join(self.texts)


@dataclass
class Browser:
    """One browser: its own cookie jar, talking to the page's origin."""

    url: str
    session: ClientSession

    async def post(
        self,
        body: bytes | dict[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        sent = {"Content-Type": "application/json", "Origin": self.url, **(headers or {})}
        async with self.session.post(f"{self.url}{API}", data=data, headers=sent) as response:
            return Answer(response.status, await response.read(), response.headers)

    async def say(
        self, text: str, *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> Answer:
        """`extra` goes into the JSON beside `text` (e.g. `captcha_token`)."""
        return await self.post({"text": text, **extra}, headers)

    async def outcome(
        self, body: bytes = b"{}", headers: Mapping[str, str] | None = None
    ) -> Answer:
        """Ask, as the page does while the password page is open, whether it is done."""
        sent = {"Content-Type": "application/json", "Origin": self.url, **(headers or {})}
        async with self.session.post(f"{self.url}{OUTCOME}", data=body, headers=sent) as response:
            return Answer(response.status, await response.read(), response.headers)

    async def set_password_on_the_page(self, link: str, password: str) -> str:
        """Open the password page's link, send the form; the result page's HTML."""
        async with self.session.get(link) as response:
            found = CSRF.search(await response.text())
        assert found is not None
        form = {"csrf": found.group(1), "password": password, "confirm": password}
        async with self.session.post(link, data=form) as response:
            assert response.status == 200
            return await response.text()

    async def ok(self, text: str, **extra: Any) -> str:
        answer = await self.say(text, **extra)
        assert answer.status == 200, answer.body
        return answer.text

    @property
    def cookie(self) -> str | None:
        for cookie in self.session.cookie_jar:
            if cookie.key == COOKIE_NAME:
                return cookie.value
        return None


@dataclass
class Served:
    url: str
    runtime: Runtime
    clock: FrozenClock
    outbox: Outbox
    exits: AsyncExitStack

    async def browser(self, *, address: str = "127.0.0.1") -> Browser:
        """A new browser connecting from `address` (any 127.x.y.z is this machine)."""
        connector = TCPConnector(local_addr=(address, 0))
        session = ClientSession(connector=connector, cookie_jar=CookieJar(unsafe=True))
        await self.exits.enter_async_context(session)
        return Browser(self.url, session)

    async def get(self, path: str, headers: Mapping[str, str] | None = None) -> Answer:
        browser = await self.browser()
        async with browser.session.get(f"{self.url}{path}", headers=headers) as response:
            return Answer(response.status, await response.read(), response.headers)


@asynccontextmanager
async def serving_webchat(
    data_dir: Path,
    clock: FrozenClock,
    webchat: Mapping[str, Any],
    environ: Mapping[str, str],
    **config: Any,
) -> AsyncIterator[Served]:
    """The web chat alone, on the bot's runtime (`webchat` is its config section and
    `environ` the secrets it reads), served on a free loopback port."""
    settings = settings_for(data_dir, **config)
    runtime = await start_runtime(settings, secrets=environ, clock=clock, console=None)
    async with AsyncExitStack() as exits:
        exits.push_async_callback(runtime.close)
        app = web.Application()
        add_webchat_routes(
            app,
            WebChat(
                WebChatSettings.model_validate(webchat),
                runner=runtime.runner,
                store=runtime.store,
                catalog=runtime.catalog,
                connector=runtime.connector,
                secrets=environ,
                clock=clock,
            ),
        )
        url = await exits.enter_async_context(serving(app))
        yield Served(url, runtime, clock, Outbox(data_dir / "outbox.jsonl"), exits)
