"""The web chat for signed-out users: a page at `/` and a JSON API under `/webchat/`, the
account name typed, rate-limited per client address, optionally behind a CAPTCHA. See
`channel.py` for what is checked and why."""

from bot.webchat.channel import WebChat
from bot.webchat.routes import add_webchat_routes
from bot.webchat.settings import (
    CAPTCHA_SECRET_VARIABLE,
    CaptchaSettings,
    RateLimitSettings,
    WebChatMisconfigured,
    WebChatSettings,
)

__all__ = [
    "CAPTCHA_SECRET_VARIABLE",
    "CaptchaSettings",
    "RateLimitSettings",
    "WebChat",
    "WebChatMisconfigured",
    "WebChatSettings",
    "add_webchat_routes",
]
