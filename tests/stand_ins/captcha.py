"""A local CAPTCHA siteverify endpoint, answering like Cloudflare Turnstile and hCaptcha.

It checks what the real service checks (the form-encoded `secret`, `response` and
`remoteip`), treats each token as single use (`timeout-or-duplicate` the second time), and
records every request so a test asserts on what the bot sent.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.serving import serving

SECRET = "captcha-secret-for-tests"
SITE_KEY = "1x00000000000000000000AA"


@dataclass
class CaptchaStandIn:
    url: str
    secret: str = SECRET
    good_tokens: set[str] = field(default_factory=set)
    remote_ip: str = "127.0.0.1"
    received: list[dict[str, str]] = field(default_factory=list)
    _used: set[str] = field(default_factory=set)

    def solve(self, token: str) -> str:
        """A token the widget would hand the page once a person solved it."""
        self.good_tokens.add(token)
        return token

    def answer(self, form: dict[str, str]) -> dict[str, object]:
        codes: list[str] = []
        secret = form.get("secret")
        response = form.get("response")
        if not secret:
            codes.append("missing-input-secret")
        elif secret != self.secret:
            codes.append("invalid-input-secret")
        if not response:
            codes.append("missing-input-response")
        elif response in self._used:
            codes.append("timeout-or-duplicate")
        elif response not in self.good_tokens:
            codes.append("invalid-input-response")
        if form.get("remoteip") != self.remote_ip:
            codes.append("invalid-remoteip")  # the client's address, as the bot saw it
        if codes:
            return {"success": False, "error-codes": codes}
        assert response is not None
        self._used.add(response)
        return {
            "success": True,
            "challenge_ts": "2025-01-01T00:00:00.000Z",
            "hostname": "127.0.0.1",
            "error-codes": [],
        }


def _app(stand_in: CaptchaStandIn) -> web.Application:
    async def siteverify(request: web.Request) -> web.Response:
        if request.content_type not in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            return web.json_response({"success": False, "error-codes": ["bad-request"]})
        form = {key: str(value) for key, value in (await request.post()).items()}
        stand_in.received.append(form)
        return web.json_response(stand_in.answer(form))

    app = web.Application()
    app.router.add_post("/siteverify", siteverify)
    return app


@asynccontextmanager
async def captcha_stand_in() -> AsyncIterator[CaptchaStandIn]:
    """A running stand-in on a free loopback port; `url` is the siteverify endpoint."""
    stand_in = CaptchaStandIn(url="")
    async with serving(_app(stand_in)) as url:
        stand_in.url = f"{url}/siteverify"
        yield stand_in
