"""The chat page: server-rendered HTML (every value escaped), one script and one style
sheet from `/webchat/static/`, and the headers that lock it down."""

from collections.abc import Callable
from html import escape
from importlib.resources import files

from bot.webchat.captcha import CSP_SOURCES, WIDGETS
from bot.webchat.settings import CaptchaSettings

STATIC_PREFIX = "/webchat/static/"
API_PATH = "/webchat/api/messages"
OUTCOME_PATH = "/webchat/api/outcome"
POLL_SECONDS = 3  # how often the page asks whether the password page is done
CAPTCHA_CALLBACK = "ssprCaptchaSolved"
CAPTCHA_EXPIRED = "ssprCaptchaExpired"

STATIC_TYPES = {"chat.js": "text/javascript", "chat.css": "text/css"}
# The words the script shows itself, as `data-text-<name>` (their catalog key is
# `webchat_<name>`).
SCRIPT_WORDS = (
    "you",
    "assistant",
    "choices",
    "sensitive_note",
    "link_note",
    "network",
    "captcha_prompt",
    "resend",
    "other",
)

Text = Callable[[str, str], str]
"""A catalog text by key and locale (`Catalog.text`)."""

_BASE_CSP = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "frame-src": "",
    "img-src": "'self' data:",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# Every answer of the web chat, page or API, carries these.
COMMON_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors 'none' for browsers that predate CSP 2
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def static_files() -> dict[str, bytes]:
    """The page's script and style sheet, read once at start (a missing file fails then)."""
    folder = files("bot.webchat").joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in STATIC_TYPES}


def content_security_policy(captcha: CaptchaSettings) -> str:
    directives = dict(_BASE_CSP)
    if captcha.enabled:
        for directive, sources in CSP_SOURCES[captcha.provider].items():
            directives[directive] = f"{directives[directive]} {sources}".strip()
    if not directives["frame-src"]:
        del directives["frame-src"]  # default-src 'none' already forbids frames
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


def page_headers(captcha: CaptchaSettings) -> dict[str, str]:
    return {**COMMON_HEADERS, "Content-Security-Policy": content_security_policy(captcha)}


def render_page(text: Text, locale: str, captcha: CaptchaSettings, max_chars: int) -> str:
    """The page in `locale`, its words the catalog's `webchat_*` messages."""

    def word(name: str) -> str:
        return text(f"webchat_{name}", locale)

    def t(name: str) -> str:
        return escape(word(name), quote=True)

    data = {
        "api": API_PATH,
        "outcome": OUTCOME_PATH,
        "poll-ms": str(POLL_SECONDS * 1000),
        "captcha": captcha.provider,
        "max-chars": str(max_chars),
        **{f"text-{name}": word(name) for name in SCRIPT_WORDS},
    }
    attributes = " ".join(
        f'data-{name}="{escape(value, quote=True)}"' for name, value in data.items()
    )
    captcha_script = captcha_widget = ""
    if captcha.enabled:
        script, widget_class = WIDGETS[captcha.provider]
        captcha_script = f'\n<script src="{escape(script)}" async defer></script>'
        captcha_widget = (
            f'\n<div id="captcha" class="captcha {widget_class}" '
            f'data-sitekey="{escape(captcha.site_key, quote=True)}" '
            f'data-callback="{CAPTCHA_CALLBACK}" data-expired-callback="{CAPTCHA_EXPIRED}">'
            f'</div>\n<p id="captcha-prompt" class="note">{t("captcha_prompt")}</p>'
        )
    return f"""<!doctype html>
<html lang="{escape(locale, quote=True)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>{t("title")}</title>
<link rel="stylesheet" href="{STATIC_PREFIX}chat.css">
<script src="{STATIC_PREFIX}chat.js" defer></script>{captcha_script}
</head>
<body>
<main id="chat" {attributes}>
<h1>{t("heading")}</h1>
<p class="intro">{t("intro")}</p>
<p id="start" class="start" hidden><button type="button" id="start-button" class="primary"
 data-value="reset">{t("start")}</button></p>
<div id="transcript" class="transcript" role="log" aria-live="polite" aria-relevant="additions"
 aria-label="{t("transcript")}" tabindex="0"></div>{captcha_widget}
<form id="composer" class="composer" action="{API_PATH}" method="post" autocomplete="off">
<div id="quick" class="choices quick" role="group" aria-label="{t("quick")}" hidden></div>
<label for="message">{t("label")}</label>
<div class="row">
<input id="message" name="text" type="text" maxlength="{max_chars}" inputmode="text"
 autocomplete="off" autocapitalize="none" spellcheck="false" enterkeyhint="send" required>
<button type="submit">{t("send")}</button>
</div>
</form>
<noscript><p class="note">{t("noscript")}</p></noscript>
</main>
</body>
</html>
"""
