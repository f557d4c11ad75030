"""Microsoft Teams: who may talk to the bot, how replies look there, and the app package.

The Bot Framework protocol itself (`/api/messages`, tokens) is the Agents SDK's; this
package adds what Teams needs on top: the tenant allow-list, personal scope only, Adaptive
Cards with text fallbacks, typing indicators and the Teams app manifest.
"""

from bot.teams.admission import Admission, admit, allowed_tenants
from bot.teams.auth import ChannelKeys, TeamsCloudAdapter, service_url_validator
from bot.teams.cards import inbound_text, send_typing, teams_activity
from bot.teams.settings import TeamsSettings

__all__ = [
    "Admission",
    "ChannelKeys",
    "TeamsCloudAdapter",
    "TeamsSettings",
    "admit",
    "allowed_tenants",
    "inbound_text",
    "send_typing",
    "service_url_validator",
    "teams_activity",
]
