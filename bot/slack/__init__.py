"""Slack, directly (no Azure Bot Service): a signed Events API and interactivity endpoint,
replies through the Slack Web API. See `channel.py` for how a message is handled."""

from bot.slack.channel import SlackChannel
from bot.slack.manifest import PublicUrlInvalid, manifest_problems, slack_manifest
from bot.slack.routes import add_slack_routes
from bot.slack.settings import SlackMisconfigured, SlackSettings

__all__ = [
    "PublicUrlInvalid",
    "SlackChannel",
    "SlackMisconfigured",
    "SlackSettings",
    "add_slack_routes",
    "manifest_problems",
    "slack_manifest",
]
