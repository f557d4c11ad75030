"""The Slack app manifest: paste it at api.slack.com/apps ("Create New App", "From an app
manifest") to get an app with exactly the scopes, events and URLs the bot uses.

Slack publishes no JSON Schema for manifests that ships with slack_sdk (or anything else
installed here), so `manifest_problems` checks the structure Slack requires and the values
this bot depends on: names and their lengths, the bot scopes, the `message.im` event, https
request URLs, socket mode off and the Messages tab open for writing.
"""

from typing import Any
from urllib.parse import urlsplit

from bot.slack.routes import EVENTS_PATH, INTERACTIVITY_PATH
from bot.slack.settings import SlackSettings

BOT_SCOPES = (
    "chat:write",  # post replies, edit a message whose button was pressed
    "files:write",  # upload a reply's picture (an authenticator app's QR code)
    "im:history",  # receive message.im events
    "im:read",  # know the bot's direct messages
    "im:write",  # open a direct message for a proactive message
    "users:read",  # users.info
    "users:read.email",  # emails (users.info, users.lookupByEmail): the directory identity
)
BOT_EVENTS = ("message.im",)
DESCRIPTION = "Reset a forgotten password after checking it's you."

_TOP_LEVEL = {"_metadata", "display_information", "features", "oauth_config", "settings"}
_EVENT_SCOPES = {"message.im": "im:history"}


class PublicUrlInvalid(ValueError):
    """The bot's public URL cannot be a Slack request URL."""


def public_base(url: str) -> str:
    """The bot's public https base URL, without a trailing slash (PublicUrlInvalid if not)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise PublicUrlInvalid("the public URL must be an absolute https URL (Slack requires it)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise PublicUrlInvalid("the public URL must not carry credentials, a query or a fragment")
    return f"https://{parts.netloc}{parts.path.rstrip('/')}"


def slack_manifest(settings: SlackSettings, public_base_url: str) -> dict[str, Any]:
    """The manifest for the bot served at `public_base_url` (its configured public URL)."""
    base = public_base(public_base_url)
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": settings.app_name,
            "description": DESCRIPTION,
            "background_color": "#1d4f91",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": settings.app_name, "always_online": True},
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": {
                "request_url": f"{base}{EVENTS_PATH}",
                "bot_events": list(BOT_EVENTS),
            },
            "interactivity": {
                "is_enabled": True,
                "request_url": f"{base}{INTERACTIVITY_PATH}",
            },
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """What is missing or wrong in a manifest, one line each (empty when it is usable)."""
    problems: list[str] = []
    unknown = set(manifest) - _TOP_LEVEL
    if unknown:
        problems.append(f"unknown top-level keys: {', '.join(sorted(unknown))}")

    def text(path: str, maximum: int) -> None:
        value = _at(manifest, path)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{path}: required text")
        elif len(value) > maximum:
            problems.append(f"{path}: at most {maximum} characters")

    def flag(path: str, expected: bool) -> None:
        if _at(manifest, path) is not expected:
            problems.append(f"{path}: must be {str(expected).lower()}")

    def request_url(path: str, route: str) -> None:
        value = _at(manifest, path)
        if not isinstance(value, str):
            problems.append(f"{path}: required URL")
            return
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            problems.append(f"{path}: must be an https URL")
        elif not parts.path.endswith(route):
            problems.append(f"{path}: must end with {route}")

    text("display_information.name", 35)
    description = _at(manifest, "display_information.description")
    if description is not None and (not isinstance(description, str) or len(description) > 140):
        problems.append("display_information.description: text of at most 140 characters")
    text("features.bot_user.display_name", 80)
    flag("features.app_home.messages_tab_enabled", True)
    flag("features.app_home.messages_tab_read_only_enabled", False)

    scopes = _at(manifest, "oauth_config.scopes.bot")
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        problems.append("oauth_config.scopes.bot: required list of scopes")
        scopes = []
    missing = [scope for scope in BOT_SCOPES if scope not in scopes]
    if missing:
        problems.append(f"oauth_config.scopes.bot: missing {', '.join(missing)}")

    events = _at(manifest, "settings.event_subscriptions.bot_events")
    if not isinstance(events, list) or "message.im" not in events:
        problems.append("settings.event_subscriptions.bot_events: must include message.im")
    else:
        for event in events:
            needed = _EVENT_SCOPES.get(event)
            if needed and needed not in scopes:
                problems.append(f"settings.event_subscriptions.bot_events: {event} needs {needed}")
    request_url("settings.event_subscriptions.request_url", EVENTS_PATH)
    flag("settings.interactivity.is_enabled", True)
    request_url("settings.interactivity.request_url", INTERACTIVITY_PATH)
    flag("settings.socket_mode_enabled", False)
    org_deploy = _at(manifest, "settings.org_deploy_enabled")
    if org_deploy is not None and not isinstance(org_deploy, bool):
        problems.append("settings.org_deploy_enabled: must be true or false")
    return problems


def _at(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
