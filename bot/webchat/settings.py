"""The `webchat` section of the config file, and the CAPTCHA secret that stays in the
environment.

The web chat is the way in for people signed out of Teams and Slack: a page at `/` and a
JSON API under `/webchat/api/`. Nobody is identified there, so the account name is typed,
and the section's knobs are the ones that matter for an anonymous endpoint on the
internet: a CAPTCHA, a rate limit per client address, and how that address is found behind
a reverse proxy.
"""

import ipaddress
from collections.abc import Mapping
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.addresses import protected_url_problem

CAPTCHA_SECRET_VARIABLE = "SSPR_CAPTCHA_SECRET"  # noqa: S105 - the variable's name

Provider = Literal["none", "turnstile", "hcaptcha", "recaptcha"]

SITEVERIFY_URLS: dict[str, str] = {
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    "hcaptcha": "https://api.hcaptcha.com/siteverify",
    "recaptcha": "https://www.google.com/recaptcha/api/siteverify",
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class WebChatMisconfigured(ValueError):
    """The web chat cannot start as configured; the message says what to change."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaptchaSettings(_Section):
    """Server-side checked CAPTCHA: Cloudflare Turnstile, hCaptcha or Google reCAPTCHA."""

    provider: Provider = Field(
        "none",
        description=(
            "none (the default; fine on 127.0.0.1), turnstile (Cloudflare), hcaptcha or "
            "recaptcha (Google reCAPTCHA v2 checkbox). Any other needs site_key here and the "
            "secret key in the SSPR_CAPTCHA_SECRET environment variable. The message that "
            "starts a reset in the web chat must then carry a solved CAPTCHA: one per reset."
        ),
    )
    site_key: str = Field(
        "",
        max_length=200,
        description="The provider's public site key (shown in the page).",
    )
    verify_url: str | None = Field(
        None,
        description=(
            "The provider's siteverify endpoint. Leave it unset for the provider's own; set "
            "it only for a test server. The secret is sent to it, so it must be https (plain "
            "http only on a loopback address)."
        ),
    )
    min_score: float | None = Field(
        None,
        ge=0,
        le=1,
        description=(
            "For score-based keys (reCAPTCHA v3, hCaptcha Enterprise): the lowest score "
            "accepted; an answer without a score is then refused. Unset: scores are ignored."
        ),
    )
    remember_seconds: float = Field(
        3600,
        ge=60,
        le=86400,
        description=(
            "How long a solved CAPTCHA is kept for the one reset it covers (the reset under "
            "way, or else the next one started); the next reset needs a new one."
        ),
    )
    timeout: float = Field(
        10, gt=0, le=60, description="Seconds to wait for the provider's siteverify answer."
    )

    @field_validator("site_key")
    @classmethod
    def _plain_key(cls, value: str) -> str:
        if value and not all(c.isalnum() or c in "-_." for c in value):
            raise ValueError("a site key has only letters, digits, '-', '_' and '.'")
        return value

    @field_validator("verify_url")
    @classmethod
    def _verify_url_protects_the_secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = protected_url_problem(value, "the CAPTCHA secret")
        if problem:
            raise ValueError(f"verify_url {problem}")
        return value

    @model_validator(mode="after")
    def _site_key_when_enabled(self) -> Self:
        if self.provider != "none" and not self.site_key:
            raise ValueError(f"captcha provider {self.provider} needs site_key")
        return self

    @property
    def enabled(self) -> bool:
        return self.provider != "none"

    @property
    def siteverify_url(self) -> str:
        return self.verify_url or SITEVERIFY_URLS[self.provider]

    def secret(self, secrets: Mapping[str, str]) -> str:
        """The secret key, or WebChatMisconfigured naming the variable."""
        secret = secrets.get(CAPTCHA_SECRET_VARIABLE, "").strip()
        if not secret:
            raise WebChatMisconfigured(
                f"the web chat CAPTCHA ({self.provider}) is enabled but "
                f"{CAPTCHA_SECRET_VARIABLE} is not set (the provider's secret key)"
            )
        return secret


class RateLimitSettings(_Section):
    """How many API requests one client address may make in a sliding window."""

    requests: int = Field(
        30,
        ge=1,
        le=10_000,
        description="Messages one client address may send to the web chat API per window.",
    )
    window: float = Field(60, ge=1, le=86400, description="The window, in seconds.")


class WebChatSettings(_Section):
    """The web chat for signed-out users: a page at `/` and its API under `/webchat/`."""

    enabled: bool = Field(
        True,
        description=(
            "Serve the web chat: the page at / and its API at /webchat/api/messages. The "
            "account name is typed there, so every answer is the same whether the account "
            "exists or not; set up the CAPTCHA before exposing it to the internet."
        ),
    )
    captcha: CaptchaSettings = Field(
        default_factory=CaptchaSettings,
        description="A CAPTCHA each reset started in the web chat must pass (off by default).",
    )
    rate_limit: RateLimitSettings = Field(
        default_factory=RateLimitSettings,
        description=(
            "Messages per client address and window, counted in the state store (so the limit "
            "holds across bot instances); over it the API answers 429 with Retry-After. Each "
            "instance refuses an address over its rate without asking the store."
        ),
    )
    trusted_proxy_header: str | None = Field(
        None,
        description=(
            "Unset (the default): a client's address is the address that connected. Set it "
            "(e.g. X-Forwarded-For) only behind a reverse proxy that appends the address it "
            "saw to that header. The header's comma-separated addresses, followed by the "
            "connecting address, are read from the right; addresses inside trusted_proxies "
            "are skipped, and the first one outside them is the client (so addresses a client "
            "writes into the header itself, on the left, are never used). When every address "
            "is trusted, the left-most one is the client. The RFC 7239 Forwarded header is "
            "not read."
        ),
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description=(
            "Addresses and networks of your reverse proxies (e.g. [10.0.0.0/8]); used only "
            "with trusted_proxy_header."
        ),
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Page origins allowed to call the API (e.g. [https://sspr.contoso.com]). Empty: "
            "the origin must match the Host header the request came with. Set it when a "
            "proxy rewrites Host."
        ),
    )
    max_message_chars: int = Field(
        1000,
        ge=1,
        le=1000,
        description="Longest message the web chat accepts; longer ones are answered politely.",
    )

    @field_validator("trusted_proxy_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value or not all(c.isalnum() or c == "-" for c in value):
            raise ValueError("must be a header name such as X-Forwarded-For")
        if value.casefold() == "forwarded":
            raise ValueError("the RFC 7239 Forwarded header is not supported; use X-Forwarded-For")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as error:
                raise ValueError(f"not an address or network: {network!r}") from error
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        cleaned = []
        for origin in value:
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path.strip("/"):
                raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
            cleaned.append(f"{parts.scheme}://{parts.netloc}".casefold())
        return cleaned

    def proxy_networks(self) -> tuple[Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.trusted_proxies)
