"""The web chat: anonymous people type to the bot from a page the bot serves.

Framework-neutral like the Slack channel: it takes an `HttpRequest` (its body, headers,
connecting address and conversation cookie) and gives an `HttpAnswer` (a JSON body, headers
and maybe a new cookie); `bot.webchat.routes` is the thin aiohttp layer around it.

Nobody is identified here, so the account name is always typed (`Inbound.user` None) and
this layer must not tell accounts apart either: every check below happens before, and
independently of, what was typed; the rate limit is keyed by client address only; and the
JSON of the replies depends only on the dialog's replies, which are the same for every
account until a first verification passed.

Cross-site requests (CSRF). The conversation cookie is `SameSite=Strict` and `HttpOnly`,
so another site cannot make a browser send it. On top, the API accepts only
`Content-Type: application/json` (which a form or a "simple" cross-origin fetch cannot
send without a CORS preflight, and this API answers no preflight), an `Origin` equal to the
page's own origin (the Host the request came to, or `allowed_origins`), and refuses a
`Sec-Fetch-Site` other than same-origin when the browser sends one. A per-conversation
token would add nothing the origin check does not already give for a JSON API, and would
cost a state write on every page view.

Conversations. A cookie speaks for a conversation only when this server issued it, and it
is replaced at the reset's first passed check; one message of a conversation is answered
at a time (`bot.webchat.conversations`).

CAPTCHA. When configured, a solved CAPTCHA covers one reset: the first message of a
conversation, and the first one after a reset ended, carries the provider's token, checked
server-side; the pass is kept with the conversation's id in the shared store, so the other
messages of that reset need none, on any instance, and the next typed name needs a new one.

Rate limit. Per client address, with a token bucket in this process in front of the shared
counter, so refusing a flood costs no store round trips (`bot.webchat.rate_limit`).

Deeply nested JSON gets the same 400 as any other body that is not the flat object the page
sends.

What comes next. Each answer says what the reset waits for (`awaiting`: a code that was sent,
a code from the authenticator app, the password page, or nothing in particular), read from
the conversation's record as the turn left it, so the page can offer `resend` and `other` as
buttons and a numeric keyboard for codes. Like the replies, it is the same for every typed
name until a check passed.

The password page's result. Nothing can be sent to a web chat page, so while the reset waits
for the password page, the page asks `POST /webchat/api/outcome` every few seconds until the
reset has ended, and shows what the password page said (`bot.conversations`). It is a
POST for the same reasons as a message (the JSON content type and the Origin a browser sends
with it), it reads and never writes the conversation, and it has a rate limit of its own, so
waiting never uses up what a person may type.
"""

import base64
import json
import logging
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import BaseConnector

from bot.conversations import Conversation
from bot.http import Cookie, HttpAnswer, HttpRequest
from bot.turns import TurnRunner
from bot.webchat.captcha import MAX_TOKEN, CaptchaUnavailable, CaptchaVerifier
from bot.webchat.client_address import ClientAddresses, rate_key
from bot.webchat.conversations import Claim, ConversationBusy, ConversationIds, session_in
from bot.webchat.locale import best_locale
from bot.webchat.page import API_CSP, COMMON_HEADERS, page_headers, render_page
from bot.webchat.rate_limit import ClientRateLimit
from bot.webchat.settings import WebChatSettings
from dialogs import Catalog, Inbound, Reply
from dialogs.machine import ENDS
from state import Clock, Store, StoreUnavailable, SystemClock

log = logging.getLogger(__name__)

CHANNEL = "webchat"
COOKIE_NAME = "sspr_webchat"
COOKIE_PATH = "/webchat"
# Asking for the password page's result: the page asks every few seconds (`POLL_SECONDS` in
# `bot.webchat.page`); this leaves room for two tabs and a reload.
OUTCOME_REQUESTS = 40
OUTCOME_WINDOW = 60.0
# What a reset that ended without a word from the password page is answered with.
_ENDED = {"done": "password_link_done", "cancelled": "cancelled", "expired": "expired"}

"""A catalog message by key and locale (`ResetDialog.message`)."""


def reply_json(reply: Reply) -> dict[str, Any]:
    """A reply as the page shows it; `link` (the password page's) becomes a button, and
    `image` a picture inline (a `data:` URL: the page's policy takes no other images from
    anywhere but its own origin, and a picture with a secret in it is never hosted)."""
    body: dict[str, Any] = {
        "text": reply.text,
        "choices": [{"value": c.value, "label": c.label} for c in reply.choices],
        "sensitive": reply.sensitive,
    }
    if reply.link is not None:
        body["link"] = {"label": reply.link.label, "url": reply.link.url}
    if reply.image is not None:
        encoded = base64.b64encode(reply.image.png).decode("ascii")
        body["image"] = {"src": f"data:image/png;base64,{encoded}", "alt": reply.image.alt}
    return body


class WebChat:
    def __init__(
        self,
        settings: WebChatSettings,
        *,
        runner: TurnRunner,
        store: Store,
        catalog: Catalog,
        connector: BaseConnector,
        secrets: Mapping[str, str],
        clock: Clock | None = None,
        secure_cookies: bool = False,
    ) -> None:
        """`connector` is the bot's shared pool (not closed here); `catalog` the one the
        dialog speaks from (the page's own words are in it too); `secure_cookies` when the
        public URL is https. WebChatMisconfigured when the CAPTCHA is on but its secret is
        missing."""
        self.settings = settings
        self._secure_cookies = secure_cookies
        self._runner = runner
        self._store = store
        self._catalog = catalog
        self._clock = clock or SystemClock()
        self._conversations = ConversationIds(store, self._clock)
        self._rate_limit = ClientRateLimit(
            store,
            self._clock,
            requests=settings.rate_limit.requests,
            window=settings.rate_limit.window,
        )
        self._outcome_limit = ClientRateLimit(
            store,
            self._clock,
            requests=OUTCOME_REQUESTS,
            window=OUTCOME_WINDOW,
            counter="webchat-outcome-rate",
        )
        self._addresses = ClientAddresses(settings)
        self._captcha: CaptchaVerifier | None = None
        if settings.captcha.enabled:
            secret = settings.captcha.secret(secrets)
            self._captcha = CaptchaVerifier.create(settings.captcha, secret, connector)

    @property
    def max_body(self) -> int:
        """Enough for the longest message even with every character JSON-escaped as
        `\\uXXXX`, plus a CAPTCHA token."""
        return 6 * self.settings.max_message_chars + MAX_TOKEN + 1024

    async def close(self) -> None:
        if self._captcha is not None:
            await self._captcha.close()

    def page(self, request: HttpRequest) -> HttpAnswer:
        locale = self._locale(request)
        captcha = self.settings.captcha
        html = render_page(self._catalog.text, locale, captcha, self.settings.max_message_chars)
        return HttpAnswer.html(200, html, page_headers(captcha))

    async def message(self, request: HttpRequest) -> HttpAnswer:
        """One message typed (or one button pressed) in the page; the dialog's replies."""
        locale = self._locale(request)
        if not self._same_origin(request):
            return self._refusal(403, "forbidden", locale)
        address = self._client(request)
        try:
            if not await self._rate_limit.allows(rate_key(address)):
                log.info("web chat rate limit reached", extra={"client": rate_key(address)})
                retry = str(math.ceil(self.settings.rate_limit.window))
                return self._refusal(429, "rate_limited", locale, {"Retry-After": retry})
            if request.body is None:
                return self._refusal(413, "too_large", locale)
            said = _parse(request.body)
            if said is None:
                return self._refusal(400, "malformed", locale)
            return await self._converse(request.cookies.get(COOKIE_NAME), *said, address, locale)
        except ConversationBusy:
            return self._refusal(409, "busy", locale)
        except StoreUnavailable:
            log.error("web chat: the state store is unavailable")
            return self._polite(503, "unavailable", self._catalog.text("unavailable", locale))

    async def outcome(self, request: HttpRequest) -> HttpAnswer:
        """Whether the reset still waits for the password page (`waiting`), and once it has
        ended, what to show: what the password page said, or why the reset ended."""
        locale = self._locale(request)
        if not self._same_origin(request):
            return self._refusal(403, "forbidden", locale)
        address = self._client(request)
        try:
            if not await self._outcome_limit.allows(rate_key(address)):
                retry = str(math.ceil(OUTCOME_WINDOW))
                return self._refusal(429, "rate_limited", locale, {"Retry-After": retry})
            if request.body is None:
                return self._refusal(413, "too_large", locale)
            if not _empty_object(request.body):
                return self._refusal(400, "malformed", locale)
            record = await self._conversations.conversation_record(request.cookies.get(COOKIE_NAME))
        except StoreUnavailable:
            log.error("web chat: the state store is unavailable")
            return self._polite(503, "unavailable", self._catalog.text("unavailable", locale))
        waiting, replies = self._ending(record)
        body = {"waiting": waiting, "replies": [reply_json(reply) for reply in replies]}
        return self._answer(200, body)

    def _ending(self, record: Conversation | None) -> tuple[bool, list[Reply]]:
        session = session_in(record)
        if record is None or session is None:
            return False, []
        if session.state == "awaiting_password":
            if self._clock.now() < session.link_expires_at:
                return True, []
            return False, [self._catalog.reply("expired", session.locale)]
        if session.state == "resetting":  # the password page is setting it right now
            return True, []
        if session.state not in ENDS:
            return False, []
        said = [Reply(text) for text in record.page_result]
        if not said and session.state in _ENDED:
            said = [self._catalog.reply(_ENDED[session.state], session.locale)]
        return False, said

    async def _converse(
        self, cookie: str | None, text: str, token: str | None, address: str, locale: str
    ) -> HttpAnswer:
        """The dialog's answer, within the conversation the cookie speaks for (or a new one)."""
        claim = await self._conversations.claim(cookie)
        answered = False
        try:
            refused = await self._check_captcha(claim, token, address, locale)
            if refused is not None:
                return refused
            if len(text) > self.settings.max_message_chars:
                replies = [self._catalog.reply("too_long", locale)]
            else:
                inbound = Inbound(text, CHANNEL, user=None, locale=locale, client=rate_key(address))
                replies = await self._runner.run(claim.conversation, inbound)
            answered = True
        finally:
            await self._conversations.finish(claim, answered=answered)
        awaiting = claim.reset.awaiting if claim.reset is not None else ""
        body = {"replies": [reply_json(reply) for reply in replies], "awaiting": awaiting}
        return self._answer(200, body, new_cookie=claim.new_cookie)

    # -- checks -------------------------------------------------------------------------

    def _same_origin(self, request: HttpRequest) -> bool:
        headers = request.headers
        if request.content_type != "application/json":
            return False
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site.casefold() != "same-origin":
            return False
        origin = headers.get("origin", "").strip().casefold()
        if not origin or origin == "null":
            return False
        if self.settings.allowed_origins:
            return origin in self.settings.allowed_origins
        parts = urlsplit(origin)
        if parts.netloc != request.host.casefold():
            return False
        return parts.scheme == "https" or not self._secure_cookies

    def _client(self, request: HttpRequest) -> str:
        return self._addresses.of(request)

    async def _check_captcha(
        self, claim: Claim, token: str | None, address: str, locale: str
    ) -> HttpAnswer | None:
        """None when the message may go on; else the refusal to answer."""
        if self._captcha is None:
            return None
        now = self._clock.now()
        if claim.captcha_covers(now):
            return None
        if token is None:
            return self._refusal(403, "captcha_required", locale)
        try:
            passed = await self._captcha.passes(token, address)
        except CaptchaUnavailable as error:
            log.error("CAPTCHA provider unavailable", extra={"error": str(error)})
            return self._refusal(503, "captcha_unavailable", locale)
        if not passed:
            return self._refusal(403, "captcha_failed", locale)
        claim.captcha_solved(now + self.settings.captcha.remember_seconds)
        return None

    # -- answers ------------------------------------------------------------------------

    def _locale(self, request: HttpRequest) -> str:
        catalog = self._catalog
        wanted = request.headers.get("accept-language")
        return best_locale(wanted, catalog.locales, catalog.default_locale)

    def _answer(
        self,
        status: int,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        new_cookie: str | None = None,
    ) -> HttpAnswer:
        """The JSON answer of the API, with its headers and maybe a new conversation id."""
        cookies: tuple[Cookie, ...] = ()
        if new_cookie is not None:
            cookies = (Cookie(COOKIE_NAME, new_cookie, COOKIE_PATH, self._secure_cookies),)
        all_headers = {**COMMON_HEADERS, "Content-Security-Policy": API_CSP, **(headers or {})}
        return HttpAnswer(status, _json_bytes(body), "application/json", all_headers, cookies)

    def _refusal(
        self, status: int, error: str, locale: str, headers: Mapping[str, str] | None = None
    ) -> HttpAnswer:
        return self._polite(status, error, self._catalog.text(f"webchat_{error}", locale), headers)

    def _polite(
        self, status: int, error: str, message: str, headers: Mapping[str, str] | None = None
    ) -> HttpAnswer:
        return self._answer(status, {"error": error, "message": message}, headers)


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    """`document` as JSON with `<`, `>` and `&` escaped, so no part of what anybody typed can
    ever be read as markup, whatever a client does with it."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")).encode()


def _empty_object(body: bytes) -> bool:
    """Whether the body is `{}`: what the page sends when it asks for the outcome."""
    try:
        document: object = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(document, dict) and not document


def _parse(body: bytes) -> tuple[str, str | None] | None:
    """(text, CAPTCHA token) from `{"text": ...}` or `{"choice": ...}` (a pressed button's
    value, taken as if typed), or None when the body is not that. The page sends one flat
    object, so anything nested in it is refused as well (however deep: a document deeper
    than the parser goes is a RecursionError, caught here like any other bad body)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    if any(isinstance(value, dict | list) for value in document.values()):
        return None
    said = [document[key] for key in ("text", "choice") if key in document]
    token = document.get("captcha_token")
    if len(said) != 1 or not isinstance(said[0], str):
        return None
    if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN):
        return None
    return said[0], token
