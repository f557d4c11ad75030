"""The words of what the bot sends outside the chat: a code by email (text and HTML), text
message or call, and the notices after a reset or an unlock, all from the message catalog.

One place composes them so the rules hold for every medium: a code message carries the code
and nothing else of the account; a notice (after a reset, an unlock, or a method registered
in chat) says what happened, when, from which channel and whom to contact, and never carries
a code, a link, a password, a key or an answer.
"""

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from adapters.delivery import Medium, Message
from dialogs.catalog import Catalog

Notice = Literal["reset", "unlock", "admin_reset", "enrolled_authenticator", "enrolled_questions"]

# Channel ids as the channels report them, and the catalog key that names each for people.
_CHANNEL_NAMES = {
    "msteams": "channel_msteams",
    "slack": "channel_slack",
    "webchat": "channel_webchat",
    "console": "channel_console",
    "emulator": "channel_emulator",
    "directline": "channel_webchat",
}
_NOTICE_KEYS: dict[Notice, tuple[str, str]] = {
    "reset": ("notify_subject", "notify_body"),
    "unlock": ("notify_unlock_subject", "notify_unlock_body"),
    "admin_reset": ("notify_admin_subject", "notify_admin_body"),
    "enrolled_authenticator": ("notify_authenticator_subject", "notify_authenticator_body"),
    "enrolled_questions": ("notify_questions_subject", "notify_questions_body"),
}
_MARK = "\x00"


@dataclass(frozen=True)
class Happened:
    """What a notice reports: which account, when (epoch seconds), on which channel, in
    which language."""

    username: str
    at: float
    channel: str
    locale: str


class Composer:
    """Messages in the recipient's language; `helpdesk` is who to call if it was not them."""

    def __init__(self, catalog: Catalog, helpdesk: str) -> None:
        self._catalog = catalog
        self._helpdesk = helpdesk

    def code(self, medium: Medium, to: str, code: str, minutes: int, locale: str) -> Message:
        """The one-time code for `medium`: an email with text and HTML parts, a text
        message, or a call that reads the digits one by one, twice, with pauses."""
        subject = self._catalog.text("code_subject", locale)
        if medium == "voice":
            digits = ", ".join(code)
            speech = tuple(
                self._catalog.text(key, locale)
                for key in ("voice_intro", "voice_again", "voice_outro")
            )
            said = (speech[0], digits, speech[1], digits, speech[2])
            return Message(medium, to, subject, body=" ".join(said), speech=said, locale=locale)
        key = f"{medium}_message"
        body = self._catalog.text(key, locale, code=code, minutes=minutes)
        if medium == "sms":
            return Message(medium, to, subject, body=body, locale=locale)
        marked = self._catalog.text(key, locale, code=_MARK, minutes=minutes)
        return Message(
            medium, to, subject, body=body, html=_code_html(marked, code, locale), locale=locale
        )

    def notice(self, notice: Notice, to: str, happened: Happened) -> Message:
        """The email after a reset, an unlock or a registration (to the owner, or to an
        admin)."""
        subject_key = _NOTICE_KEYS[notice][0]
        body = self.notice_text(notice, happened)
        paragraphs = "".join(f"<p>{html.escape(part)}</p>" for part in body.split("\n\n"))
        return Message(
            "email",
            to,
            self._catalog.text(subject_key, happened.locale),
            body=body,
            html=_page(paragraphs, happened.locale),
            locale=happened.locale,
        )

    def notice_text(self, notice: Notice, happened: Happened) -> str:
        """The notice's words alone, for a chat message on another channel."""
        when = datetime.fromtimestamp(happened.at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return self._catalog.text(
            _NOTICE_KEYS[notice][1],
            happened.locale,
            username=happened.username,
            when=when,
            channel=self.channel_name(happened.channel, happened.locale),
            helpdesk=self._helpdesk,
        )

    def channel_name(self, channel: str, locale: str) -> str:
        """A channel id ("msteams") as people know it ("Microsoft Teams")."""
        return self._catalog.text(_CHANNEL_NAMES.get(channel, "channel_other"), locale)


def _code_html(marked: str, code: str, locale: str) -> str:
    """The code email's HTML: the catalog's words, with the code set large and apart so a
    reader on a phone finds it (and a screen reader spells it)."""
    shown = (
        '<span style="font-size:28px;font-weight:600;letter-spacing:4px;'
        'font-family:Consolas,Menlo,monospace">'
        f"{html.escape(code)}</span>"
    )
    paragraphs = "".join(
        f"<p>{html.escape(part).replace(_MARK, shown)}</p>" for part in marked.split("\n\n")
    )
    return _page(paragraphs, locale)


def _page(paragraphs: str, locale: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="{html.escape(locale)}"><head><meta charset="utf-8"></head>'
        '<body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:15px;'
        f'color:#222">{paragraphs}</body></html>'
    )
