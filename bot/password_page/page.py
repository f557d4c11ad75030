"""`GET` and `POST /password/{token}`: the one-time password page, behind the HTTP boundary
(`bot.password_page.routes` is its aiohttp face).

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
from typing import Any

from adapters.directory import DirectoryUnavailable
from bot.conversations import Conversations, PasswordLink
from bot.dialog_versions import DialogVersions
from bot.http import TOO_LARGE, HttpAnswer, HttpRequest
from bot.password_page.form import form_fields
from bot.password_page.notify import ChatNotifier
from bot.password_page.render import Text, WayBack, form_page, message_page
from bot.webchat.channel import CHANNEL as WEBCHAT_CHANNEL
from bot.webchat.client_address import ClientAddresses
from bot.webchat.locale import best_locale
from bot.webchat.routes import PAGE_PATH as WEBCHAT_PAGE
from dialogs import Catalog
from state import EtagMismatch, StoreUnavailable

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
    def __init__(
        self,
        versions: DialogVersions,
        conversations: Conversations,
        notifier: ChatNotifier,
        *,
        catalog: Catalog,
        webchat_served: bool = False,
        addresses: ClientAddresses | None = None,
    ) -> None:
        """`versions`: the rules each conversation began under; a link's page states and
        checks its conversation's password rules, so a reload changes them for
        conversations that begin after it. `webchat_served` when the web chat is served
        beside the page: a result then links back to it. `addresses` reads the client's
        address for the audit trail (behind the web chat's trusted proxy, the address the
        proxy names); without it, the peer's."""
        self._versions = versions
        self._conversations = conversations
        self._catalog = catalog
        self._addresses = addresses
        self._notifier = notifier
        self._webchat_served = webchat_served

    async def show(self, request: HttpRequest, token: str) -> HttpAnswer:
        try:
            found = await self._conversations.linked(token)
            if found is None:
                return self._refused(request)
            return await self._form(request, found)
        except (StoreUnavailable, DirectoryUnavailable) as error:
            return self._unavailable(error, request)

    async def submit(self, request: HttpRequest, token: str) -> HttpAnswer:
        if request.body is None:
            return replace(TOO_LARGE, headers=SECURITY_HEADERS)
        form = form_fields(request.content_type, request.charset, request.body)
        try:
            found = await self._conversations.linked(token)
            if found is None:
                return self._refused(request)
            if form is None:
                log.info("password page post that is not a UTF-8 form")
                error = self._catalog.text("password_characters", self._locale(found))
                return await self._form(request, found, error=error, status=400)
            csrf, password, confirm = (
                form.get(name, "") for name in ("csrf", "password", "confirm")
            )
            if not found.issued_here(csrf):
                log.warning("password page post without a valid form token")
                return self._forbidden(found)
            return await self._take(request, found, password, confirm)
        except (StoreUnavailable, DirectoryUnavailable) as error:
            return self._unavailable(error, request)

    def _requester(self, request: HttpRequest) -> str | None:
        return request.peer if self._addresses is None else self._addresses.of(request)

    async def _take(
        self, request: HttpRequest, found: PasswordLink, password: str, confirm: str
    ) -> HttpAnswer:
        dialog = self._versions.of(found.session).dialog
        outcome = await dialog.page_password(
            found.session, password, confirm, requester=self._requester(request)
        )
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
        back = self._way_back(_channel(session), locale)
        words = self._catalog.text
        if session.get("state") == "done":
            try:
                for reply in settled.replies:
                    await self._notifier.notify(conversation, reply)
            except Exception as error:
                log.warning("chat not told of the reset", extra={"error": type(error).__name__})
            steps = [words("page_next_sign_in", locale), words("page_next_close", locale)]
            title = words("page_done_title", locale)
            return _result(words, 200, locale, title, text, steps=steps, back=back)
        title = words("page_refused_title", locale)
        return _result(words, 200, locale, title, text, back=back)

    async def _form(
        self,
        request: HttpRequest,
        found: PasswordLink,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> HttpAnswer:
        """The form with a fresh form token (`Conversations.issue_form_token`)."""
        csrf = await self._conversations.issue_form_token(found)
        if csrf is None:
            return self._refused(request)
        version = self._versions.of(found.session)
        account = await version.dialog.account_name(found.session)
        html = form_page(
            self._catalog.text,
            self._locale(found),
            version.settings.password,
            action=request.path,
            csrf=csrf,
            username=account,
            error=error,
        )
        return _response(status, html)

    @staticmethod
    def _locale(found: PasswordLink) -> str:
        return str(found.session.get("locale", "en"))

    def _forbidden(self, found: PasswordLink) -> HttpAnswer:
        locale = self._locale(found)
        text = self._catalog.text
        back = self._way_back(_channel(found.session), locale)
        title, message = text("page_refused_title", locale), text("page_forbidden", locale)
        return _result(text, 403, locale, title, message, back=back)

    def _refused(self, request: HttpRequest) -> HttpAnswer:
        """The same answer for a link never issued, used, expired or of an ended session."""
        return self._unknown_link(410, "password_link_used", request)

    def _unavailable(self, error: Exception, request: HttpRequest) -> HttpAnswer:
        log.error("password page dependency unavailable", extra={"error": type(error).__name__})
        return self._unknown_link(503, "unavailable", request)

    def _unknown_link(self, status: int, key: str, request: HttpRequest) -> HttpAnswer:
        """A refusal that cannot know whose link it was: in the browser's language (its
        Accept-Language, as the web chat reads it), and the way back to the web chat when
        it is served, else to Teams or Slack."""
        catalog = self._catalog
        locale = best_locale(
            request.headers.get("accept-language"), catalog.locales, catalog.default_locale
        )
        text = catalog.text
        back = self._way_back(None, locale)
        title, message = text("page_refused_title", locale), text(key, locale)
        return _result(text, status, locale, title, message, back=back)

    def _way_back(self, channel: str | None, locale: str) -> WayBack:
        """Back to the chat a reset began in (`channel`; None when it is not known)."""
        text = self._catalog.text
        if self._webchat_served and channel in (WEBCHAT_CHANNEL, None):
            return WayBack(text("page_back_to_chat", locale), WEBCHAT_PAGE)
        if channel is None:
            return WayBack(text("page_start_again_elsewhere", locale))
        if channel in _NAMED_CHANNELS:
            name = text(f"channel_{channel}", locale)
            return WayBack(text("page_back_to_channel", locale, channel=name))
        return WayBack(text("page_back_to_start", locale))


def _channel(session: dict[str, Any]) -> str:
    return str(session.get("channel", ""))


def _result(
    text: Text,
    status: int,
    locale: str,
    title: str,
    message: str,
    *,
    steps: Sequence[str] = (),
    back: WayBack,
) -> HttpAnswer:
    html = message_page(text, locale, title, message, steps=steps, back=back)
    return _response(status, html)


def _response(status: int, html: str) -> HttpAnswer:
    return HttpAnswer.html(status, html, SECURITY_HEADERS)
