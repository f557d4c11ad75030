"""The `slack` section of the config file, and the two secrets that stay in the environment.

Slack reaches the bot directly (no Azure Bot Service): a Slack app whose Events API and
interactivity requests come to `/api/slack/...`, and whose bot token posts the replies.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.addresses import protected_url_problem

SIGNING_SECRET_VARIABLE = "SLACK_SIGNING_SECRET"  # noqa: S105 - the variable's name
BOT_TOKEN_VARIABLE = "SLACK_BOT_TOKEN"  # noqa: S105 - the variable's name


class SlackMisconfigured(ValueError):
    """The Slack channel cannot start as configured; the message says what to change."""


class SlackSettings(BaseModel):
    """Slack, talked to directly through a Slack app (see `sspr-bot slack-manifest`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        False,
        description=(
            "Serve Slack on /api/slack/events and /api/slack/interactivity. Needs the "
            "SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN environment variables."
        ),
    )
    api_url: str = Field(
        "https://slack.com/api/",
        description=(
            "Base URL of the Slack Web API. Change it only for GovSlack "
            "(https://slack-gov.com/api/) or a test server; the bot token travels to it, so "
            "it must be https (plain http only on a loopback address)."
        ),
    )
    app_name: str = Field(
        "Password Reset",
        min_length=1,
        max_length=35,
        description="The Slack app's name and its bot's display name in the generated manifest.",
    )
    allowed_team_ids: list[str] = Field(
        default_factory=list,
        description=(
            "Slack workspace (team) ids the bot answers, e.g. [T0123ABCD]. Empty: any "
            "workspace the app is installed in. Set it when the app could be installed "
            "outside your organisation."
        ),
    )
    event_dedup_seconds: float = Field(
        3600,
        ge=300,
        le=86400,
        description=(
            "How long an event id (and a pressed button) is remembered, so a delivery Slack "
            "repeats is handled once. Slack retries for about 5 minutes; keep it above that."
        ),
    )
    user_cache_seconds: float = Field(
        300,
        ge=0,
        le=3600,
        description="Seconds a Slack user's email (users.info) is reused before asking again.",
    )
    timeout: float = Field(
        10, gt=0, le=60, description="Seconds to wait for one Slack Web API call."
    )

    @field_validator("api_url")
    @classmethod
    def _api_url_protects_the_token(cls, value: str) -> str:
        problem = protected_url_problem(value, "the bot token")
        if problem:
            raise ValueError(f"api_url {problem}")
        return value if value.endswith("/") else value + "/"

    @field_validator("allowed_team_ids")
    @classmethod
    def _team_ids(cls, value: list[str]) -> list[str]:
        for team in value:
            if not team or not team.isalnum():
                raise ValueError(f"not a Slack team id: {team!r}")
        return value


@dataclass(frozen=True)
class SlackSecrets:
    signing_secret: str
    bot_token: str

    def __repr__(self) -> str:
        return "SlackSecrets(...)"

    @classmethod
    def from_env(cls, secrets: Mapping[str, str]) -> "SlackSecrets":
        """Both secrets, or SlackMisconfigured naming the variable that is missing or wrong."""
        signing_secret = secrets.get(SIGNING_SECRET_VARIABLE, "").strip()
        bot_token = secrets.get(BOT_TOKEN_VARIABLE, "").strip()
        if not signing_secret:
            raise SlackMisconfigured(
                f"Slack is enabled but {SIGNING_SECRET_VARIABLE} is not set "
                "(the app's Basic Information page, App Credentials)"
            )
        if not bot_token.startswith("xoxb-"):
            raise SlackMisconfigured(
                f"Slack is enabled but {BOT_TOKEN_VARIABLE} is not a bot token (xoxb-...; "
                "the app's OAuth & Permissions page, after installing it)"
            )
        return cls(signing_secret, bot_token)
