"""The `twilio` settings section, and the environment variables its secrets come from."""

from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.addresses import protected_url_problem

# Twilio's own names for the secrets, as its tools and documentation use them.
AUTH_TOKEN_VARIABLE = "TWILIO_AUTH_TOKEN"  # noqa: S105 - the variable's name
API_SECRET_VARIABLE = "TWILIO_API_SECRET"  # noqa: S105 - the variable's name

DEFAULT_API_BASE = "https://api.twilio.com"
E164 = r"^\+[1-9][0-9]{6,14}$"


class TwilioSettings(BaseModel):
    """The `twilio` section of delivery.sms or delivery.voice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["twilio"] = Field(description="Selects Twilio for text messages or calls.")
    account_sid: str = Field(
        pattern=r"^AC[0-9a-fA-F]{32}$",
        description="The Twilio account (AC followed by 32 hexadecimal digits).",
    )
    from_number: str | None = Field(
        default=None,
        pattern=E164,
        description=(
            "The Twilio number messages and calls come from, in E.164 (+14255550100). "
            "Voice calls need it; text messages use messaging_service_sid instead when set."
        ),
    )
    messaging_service_sid: str | None = Field(
        default=None,
        pattern=r"^MG[0-9a-fA-F]{32}$",
        description=(
            "A Messaging Service (MG...) that picks the sender of text messages from its pool; "
            "used for text messages instead of from_number when set."
        ),
    )
    api_key_sid: str | None = Field(
        default=None,
        pattern=r"^SK[0-9a-fA-F]{32}$",
        description=(
            f"An API key (SK...) to log in with; its secret is read from the environment "
            f"variable {API_SECRET_VARIABLE}. When unset the bot logs in with the account's "
            f"auth token, read from {AUTH_TOKEN_VARIABLE}."
        ),
    )
    api_base: str = Field(
        default=DEFAULT_API_BASE,
        description=(
            "Base URL of Twilio's REST API; for a region or edge name its host, for example "
            "https://api.dublin.ie1.twilio.com. Must be https (http only to this machine)."
        ),
    )
    timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for Twilio's answer to one request, connecting included.",
    )
    voice: str | None = Field(
        default=None,
        min_length=1,
        pattern=r"^[A-Za-z0-9._-]+$",
        description=(
            'The <Say> voice calls speak with, such as "Polly.Joanna" or '
            '"Google.en-US-Standard-C"; a voice speaks its own language, so set one only '
            "when every user shares it. Unset: Twilio's default voice for the user's language."
        ),
    )
    ca_file: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "PEM file of extra certificate authorities to trust besides the system's, for a "
            "proxy with an internal CA. A relative path is taken from the data directory."
        ),
    )

    @field_validator("api_base")
    @classmethod
    def _protected(cls, value: str) -> str:
        problem = protected_url_problem(value, "the auth token or API secret")
        if problem is not None:
            raise ValueError(problem)
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials (they come from the environment)")
        if parts.query or parts.fragment:
            raise ValueError("must have no query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _has_a_sender(self) -> Self:
        if self.from_number is None and self.messaging_service_sid is None:
            raise ValueError("set from_number or messaging_service_sid (calls need from_number)")
        return self
