"""`GET` and `POST /password/{token}`: the one-time password page.

A link is looked up by the hash of its token. It works while the session it was sent in
still waits for the password (same nonce, same link, not expired); the post that moves the
session on wins a conditional write, so two posts at once set the password once. The
password goes through the dialog's own checks and its `settle`, exactly as in a chat turn.
Every response carries the security headers below; links are never built here.

Each form shown gets a token of its own, and the hashes of the last few are kept with the
link (`bot.conversations`, which owns the link record and the conversation record).

A result says what to do next and how to get back to the chat: to the web chat by a link
(when the reset began there, or for a refused link when the web chat is served), else to
the channel the reset began in, by name. The chat hears the result too: Teams and Slack as
a message (`ChatNotifier`), the web chat by asking for it (kept in its record,
`bot.conversations`).
"""

import logging
from collections.abc import Sequence
from dataclasses import replace
from importlib.resources import files
from typing import Any

from aiohttp import web

from adapters.directory import DirectoryUnavailable
from bot.conversations import Conversations, PasswordLink
from bot.password_page.form import form_fields
from bot.password_page.notify import ChatNotifier
from bot.password_page.render import SCRIPT, STYLE, WayBack, form_page, message_page
from bot.password_page.texts import text as page_text
from bot.webchat.channel import CHANNEL as WEBCHAT_CHANNEL
from bot.webchat.routes import PAGE_PATH as WEBCHAT_PAGE
from bot.webchat.routes import WEBCHAT_KEY
from dialogs import ResetDialog
from state import EtagMismatch, Store, StoreUnavailable

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Channels a result names as the way back (their names are the catalog's `channel_<name>`).
_NAMED_CHANNELS = frozenset({"msteams", "slack", "console", "emulator"})


class PasswordPage:
    def __init__(self, dialog: ResetDialog, store: Store, notifier: ChatNotifier) -> None:
        self._dialog = dialog
        self._conversations = Conversations(store, dialog)
        self._notifier = notifier

    async def show(self, request: web.Request) -> web.Response:
        try:
            found = await self._conversations.linked(request.match_info["token"])
            if found is None:
                return self._refused(request)
            return await self._form(request, found)
        except (StoreUnavailable, DirectoryUnavailable) as error:
            return self._unavailable(request, error)

    async def submit(self, request: web.Request) -> web.Response:
        form = form_fields(request.content_type, request.charset, await request.read())
        try:
            found = await self._conversations.linked(request.match_info["token"])
            if found is None:
                return self._refused(request)
            if form is None:
                log.info("password page post that is not a UTF-8 form")
                error = self._dialog.text("password_characters", self._locale(found))
                return await self._form(request, found, error=error, status=400)
            csrf, password, confirm = (
                form.get(name, "") for name in ("csrf", "password", "confirm")
            )
            if not found.issued_here(csrf):
                log.warning("password page post without a valid form token")
                return self._forbidden(request, found)
            return await self._take(request, found, password, confirm)
        except (StoreUnavailable, DirectoryUnavailable) as error:
            return self._unavailable(request, error)

    async def _take(
        self, request: web.Request, found: PasswordLink, password: str, confirm: str
    ) -> web.Response:
        outcome = await self._dialog.page_password(found.session, password, confirm)
        if outcome.account_change is None:
            error = outcome.replies[0].text if outcome.replies else None
            return await self._form(request, found, error=error, status=400)
        after = replace(found.conversation, session=outcome.session)
        try:
            settled = await self._conversations.apply(after, outcome, keep_result=True)
        except EtagMismatch:
            log.info("password page post lost to another one", extra={"session": found.key[:19]})
            return self._refused(request)
        session = settled.session or outcome.session or {}
        conversation = found.conversation.id
        text = "\n".join(reply.text for reply in settled.replies)
        locale = str(session.get("locale", "en"))
        if session.get("state") == "awaiting_password":
            fresh = await self._conversations.read(conversation)
            if fresh.etag is not None:
                again = replace(found, conversation=fresh)
                return await self._form(request, again, error=text, status=400)
        await self._conversations.forget_link(found)
        back = self._way_back(request, _channel(session), locale)
        if session.get("state") == "done":
            try:
                for reply in settled.replies:
                    await self._notifier.notify(conversation, reply)
            except Exception as error:
                log.warning("chat not told of the reset", extra={"error": type(error).__name__})
            steps = [page_text("next_sign_in", locale), page_text("next_close", locale)]
            title = self._dialog.text("page_done_title", locale)
            return _result(200, locale, title, text, steps=steps, back=back)
        title = self._dialog.text("page_refused_title", locale)
        return _result(200, locale, title, text, back=back)

    async def _form(
        self,
        request: web.Request,
        found: PasswordLink,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> web.Response:
        """The form with a fresh form token (`Conversations.issue_form_token`)."""
        csrf = await self._conversations.issue_form_token(found)
        if csrf is None:
            return self._refused(request)
        account = await self._dialog.account_name(found.session)
        html = form_page(
            self._dialog.text,
            self._locale(found),
            self._dialog.password_settings,
            action=request.path,
            csrf=csrf,
            username=account,
            error=error,
        )
        return _response(status, html)

    @staticmethod
    def _locale(found: PasswordLink) -> str:
        return str(found.session.get("locale", "en"))

    def _forbidden(self, request: web.Request, found: PasswordLink) -> web.Response:
        locale = self._locale(found)
        text = self._dialog.text
        back = self._way_back(request, _channel(found.session), locale)
        title, message = text("page_refused_title", locale), text("page_forbidden", locale)
        return _result(403, locale, title, message, back=back)

    def _refused(self, request: web.Request) -> web.Response:
        """The same answer for a link never issued, used, expired or of an ended session."""
        return self._unknown_link(request, 410, "password_link_used")

    def _unavailable(self, request: web.Request, error: Exception) -> web.Response:
        log.error("password page dependency unavailable", extra={"error": type(error).__name__})
        return self._unknown_link(request, 503, "unavailable")

    def _unknown_link(self, request: web.Request, status: int, key: str) -> web.Response:
        """A refusal that cannot know whose link it was: in English, and the way back to
        the web chat when it is served, else to Teams or Slack."""
        text = self._dialog.text
        back = self._way_back(request, None, "en")
        return _result(status, "en", text("page_refused_title", "en"), text(key, "en"), back=back)

    def _way_back(self, request: web.Request, channel: str | None, locale: str) -> WayBack:
        """Back to the chat a reset began in (`channel`; None when it is not known)."""
        webchat = WEBCHAT_KEY in request.app
        if webchat and channel in (WEBCHAT_CHANNEL, None):
            return WayBack(page_text("back_to_chat", locale), WEBCHAT_PAGE)
        if channel is None:
            return WayBack(page_text("start_again_elsewhere", locale))
        if channel in _NAMED_CHANNELS:
            name = self._dialog.text(f"channel_{channel}", locale)
            return WayBack(page_text("back_to_channel", locale, channel=name))
        return WayBack(page_text("back_to_start", locale))


def _channel(session: dict[str, Any]) -> str:
    return str(session.get("channel", ""))


def _result(
    status: int,
    locale: str,
    title: str,
    message: str,
    *,
    steps: Sequence[str] = (),
    back: WayBack,
) -> web.Response:
    return _response(status, message_page(locale, title, message, steps=steps, back=back))


def _response(status: int, html: str) -> web.Response:
    return web.Response(
        status=status,
        text=html,
        content_type="text/html",
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )


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


async def _show(request: web.Request) -> web.Response:
    return await request.app[PAGE_KEY].show(request)


async def _submit(request: web.Request) -> web.Response:
    return await request.app[PAGE_KEY].submit(request)


def _static_file(body: bytes, content_type: str) -> Any:
    async def serve(request: web.Request) -> web.Response:
        headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)

    return serve
