"""`GET /admin/report`: the usage report page for admins, behind a bearer token.

The route is served only when `SSPR_ADMIN_TOKEN` is set (else the path is unknown: 404,
so an instance without it shows no admin surface at all). A request must then carry
`Authorization: Bearer <the token>`, compared in constant time over digests of equal
length; without it the answer is 401 with a `WWW-Authenticate` challenge (RFC 6750), and
a wrong token is logged with the client's address, never with what it sent. `?since=`
takes what `sspr-bot report --since` takes (30d when absent).

The page is read fresh from the audit trail at each request and sent with the password
page's security headers, its strict Content-Security-Policy among them.
"""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.http import HttpAnswer, HttpRequest
from bot.http.bearer import BearerToken, presented_token
from bot.password_page.page import SECURITY_HEADERS
from bot.report.page_html import usage_page
from bot.report.trail import TrailUnreadable, usage_from_trail
from bot.report.usage import window_start

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "SSPR_ADMIN_TOKEN"  # noqa: S105 - the variable's name
PATH = "/admin/report"
DEFAULT_SINCE = "30d"
_REALM = 'Bearer realm="sspr-bot admin"'


class AdminReport:
    def __init__(self, settings: "Settings", secrets: Mapping[str, str], token: str) -> None:
        """`secrets`: the environment the bot started with, for the Redis stream's URL."""
        self._settings = settings
        self._secrets = secrets
        self._token = BearerToken(token)

    async def show(self, request: HttpRequest) -> HttpAnswer:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        now = datetime.now(UTC)
        try:
            since = window_start(request.query.get("since", DEFAULT_SINCE), now)
        except ValueError as error:
            return _plain(400, f"since: {error}")
        try:
            usage = await usage_from_trail(self._settings, self._secrets, since=since, until=now)
        except TrailUnreadable as error:
            log.error("the usage report cannot read the audit trail", extra={"error": str(error)})
            return _plain(503, "The audit trail cannot be read now; the log says why.")
        return HttpAnswer(200, usage_page(usage).encode(), "text/html", SECURITY_HEADERS)

    def _refusal(self, request: HttpRequest) -> HttpAnswer | None:
        """None for a request that carries the token; else the 401 to answer it with."""
        presented = presented_token(request.headers.get("authorization", ""))
        if presented is None:
            return _plain(401, "Admin sign-in needed.", challenge=_REALM)
        if self._token.matches(presented):
            return None
        log.warning("admin report refused: wrong token", extra={"client": request.peer})
        return _plain(401, "Admin sign-in needed.", challenge=f'{_REALM}, error="invalid_token"')


def admin_report(settings: "Settings", secrets: Mapping[str, str]) -> AdminReport | None:
    """The admin report page when `SSPR_ADMIN_TOKEN` is set (and not empty), else None."""
    token = secrets.get(TOKEN_VARIABLE, "").strip()
    return AdminReport(settings, secrets, token) if token else None


def _plain(status: int, text: str, *, challenge: str | None = None) -> HttpAnswer:
    headers = dict(SECURITY_HEADERS)
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    return HttpAnswer(status, text.encode(), "text/plain", headers)
