"""The password page's HTML, rendered on the server with every value escaped.

No inline script or style (the CSP allows neither); every word comes from the message
catalog in the session's locale, the dialog's and the page's own alike (`page_*`).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from dialogs.settings import PasswordSettings

SCRIPT = "/static/password-page/page.js"
STYLE = "/static/password-page/page.css"

Text = Callable[..., str]
"""A catalog text by key, locale and placeholder values (`Catalog.text`)."""


@dataclass(frozen=True)
class WayBack:
    """How to get back to the chat from a result: a link to the web chat (`href`), or a
    sentence naming where to go."""

    text: str
    href: str | None = None


def _lang(locale: str) -> str:
    cleaned = "".join(ch for ch in locale if ch.isalnum() or ch == "-")
    return cleaned[:35] or "en"


def _document(locale: str, title: str, body: str, *, script: bool = False) -> str:
    scripts = f'\n<script src="{SCRIPT}" defer></script>' if script else ""
    return (
        "<!doctype html>\n"
        f'<html lang="{escape(_lang(locale))}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="stylesheet" href="{STYLE}">{scripts}\n</head>\n'
        f'<body>\n<main>\n<div class="card">\n{body}\n</div>\n</main>\n</body>\n</html>\n'
    )


def form_page(
    text: Text,
    locale: str,
    settings: PasswordSettings,
    *,
    action: str,
    csrf: str,
    username: str,
    error: str | None = None,
) -> str:
    """The form: rules (checked live by page.js, `aria-live`), the password twice."""

    def t(key: str, **values: Any) -> str:
        return escape(text(key, locale, **values))

    rules = [
        ("length", t("page_rule_length", min=settings.min_length, max=settings.max_length)),
        ("match", t("page_rule_match")),
        ("guess", t("page_rule_guess")),
    ]
    items = "\n".join(
        f'<li data-rule="{name}" data-met="false">{label}<span class="visually-hidden"></span></li>'
        for name, label in rules
    )
    alert = f'<p class="error" role="alert" id="form-error">{escape(error)}</p>\n' if error else ""
    described = "rules form-error" if error else "rules"
    body = (
        f"<h1>{t('page_title')}</h1>\n"
        f"<p>{t('page_intro', username=username)}</p>\n"
        f"{alert}"
        f'<form id="password-form" method="post" action="{escape(action)}" '
        f'data-min="{settings.min_length}" data-max="{settings.max_length}" novalidate>\n'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">\n'
        f'<p id="rules-heading">{t("page_rules")}</p>\n'
        f'<ul class="rules" id="rules" aria-labelledby="rules-heading" aria-live="polite" '
        f'data-met-text="{t("page_met")}" data-unmet-text="{t("page_unmet")}">\n'
        f"{items}\n</ul>\n"
        f'<p class="hint">{t("page_hint")}</p>\n'
        f'<label for="new-password">{t("page_new_password")}</label>\n'
        f'<input type="password" id="new-password" name="password" required '
        f'autocomplete="new-password" maxlength="{settings.max_length}" '
        f'aria-describedby="{described}" autofocus>\n'
        f'<label for="confirm-password">{t("page_confirm_password")}</label>\n'
        f'<input type="password" id="confirm-password" name="confirm" required '
        f'autocomplete="new-password" maxlength="{settings.max_length}">\n'
        '<button type="button" id="show-password" class="toggle" aria-pressed="false" '
        f'aria-controls="new-password confirm-password" hidden>'
        f"{t('page_show_password')}</button>\n"
        f'<button type="submit">{t("page_submit")}</button>\n'
        "</form>"
    )
    return _document(locale, text("page_title", locale), body, script=True)


def message_page(
    text: Text,
    locale: str,
    title: str,
    message: str,
    *,
    steps: Sequence[str] = (),
    back: WayBack | None = None,
) -> str:
    """A result or refusal, nothing to fill in: a heading, what happened, the next steps
    and the way back to the chat."""
    parts = [f"<h1>{escape(title)}</h1>", f'<p role="status">{escape(message)}</p>']
    if steps:
        items = "\n".join(f"<li>{escape(step)}</li>" for step in steps)
        heading = escape(text("page_next_heading", locale))
        parts.append(f'<h2 id="next-heading">{heading}</h2>')
        parts.append(f'<ul class="next" aria-labelledby="next-heading">\n{items}\n</ul>')
    if back is not None and back.href is not None:
        parts.append(f'<p class="back"><a href="{escape(back.href)}">{escape(back.text)}</a></p>')
    elif back is not None:
        parts.append(f'<p class="back">{escape(back.text)}</p>')
    return _document(locale, title, "\n".join(parts))
