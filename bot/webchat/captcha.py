"""Server-side CAPTCHA verification: the token the page got from the provider's widget is
checked with the provider's siteverify endpoint (Turnstile, hCaptcha and reCAPTCHA share
the form: `secret`, `response`, `remoteip` in; `success` and `error-codes` out)."""

import logging
from dataclasses import dataclass

from aiohttp import BaseConnector, ClientError, ClientSession, ClientTimeout

from bot.webchat.settings import CaptchaSettings

log = logging.getLogger(__name__)

MAX_TOKEN = 4096  # Turnstile documents 2048; reCAPTCHA tokens run a little longer

# What the page loads, and the origins its CSP must allow for that.
WIDGETS: dict[str, tuple[str, str]] = {  # provider: (script, widget class)
    "turnstile": ("https://challenges.cloudflare.com/turnstile/v0/api.js", "cf-turnstile"),
    "hcaptcha": ("https://js.hcaptcha.com/1/api.js", "h-captcha"),
    "recaptcha": ("https://www.google.com/recaptcha/api.js", "g-recaptcha"),
}
CSP_SOURCES: dict[str, dict[str, str]] = {  # provider: directive: sources
    "turnstile": {
        "script-src": "https://challenges.cloudflare.com",
        "frame-src": "https://challenges.cloudflare.com",
    },
    "hcaptcha": {
        "script-src": "https://hcaptcha.com https://*.hcaptcha.com",
        "frame-src": "https://hcaptcha.com https://*.hcaptcha.com",
        "style-src": "https://hcaptcha.com https://*.hcaptcha.com",
        "connect-src": "https://hcaptcha.com https://*.hcaptcha.com",
    },
    "recaptcha": {
        "script-src": "https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/",
        "frame-src": "https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/",
    },
}


class CaptchaUnavailable(Exception):
    """The provider could not be asked; nothing is let through."""


@dataclass(frozen=True)
class CaptchaVerifier:
    settings: CaptchaSettings
    secret: str
    session: ClientSession

    def __repr__(self) -> str:
        return f"CaptchaVerifier({self.settings.provider})"

    @classmethod
    def create(
        cls, settings: CaptchaSettings, secret: str, connector: BaseConnector
    ) -> "CaptchaVerifier":
        """`connector` is the bot's shared pool: it is not closed with the verifier."""
        session = ClientSession(
            connector=connector,
            connector_owner=False,
            timeout=ClientTimeout(total=settings.timeout),
        )
        return cls(settings, secret, session)

    async def passes(self, token: str, remote_ip: str) -> bool:
        """True when the provider vouches for `token` (single use: the provider refuses it
        the second time); CaptchaUnavailable when it cannot be asked."""
        if not token or len(token) > MAX_TOKEN:
            return False
        form = {"secret": self.secret, "response": token, "remoteip": remote_ip}
        try:
            async with self.session.post(self.settings.siteverify_url, data=form) as response:
                if response.status != 200:
                    raise CaptchaUnavailable(f"siteverify answered {response.status}")
                answer = await response.json(content_type=None)
        except (ClientError, TimeoutError, ValueError) as error:
            raise CaptchaUnavailable(type(error).__name__) from error
        if not isinstance(answer, dict) or answer.get("success") is not True:
            codes = answer.get("error-codes") if isinstance(answer, dict) else None
            log.info("CAPTCHA refused", extra={"codes": codes if isinstance(codes, list) else []})
            return False
        minimum = self.settings.min_score
        if minimum is not None:
            score = answer.get("score")
            if not isinstance(score, int | float) or isinstance(score, bool) or score < minimum:
                log.info("CAPTCHA score too low", extra={"score": score})
                return False
        return True

    async def close(self) -> None:
        await self.session.close()
