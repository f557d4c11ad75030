"""Microsoft Teams: who may talk to the bot, how replies look there, and the app package.

The Bot Framework protocol itself (`/api/messages`, tokens, proactive messages) is
`bot.botframework`; this package adds what only Teams has on top: the tenant allow-list,
personal scope only, Adaptive Cards with text fallbacks, typing indicators, the references
kept per Teams user and the Teams app manifest.
"""

from bot.teams.admission import Admission, TenantGate, admit, allowed_tenants
from bot.teams.cards import inbound_text, send_typing, teams_activity
from bot.teams.settings import TeamsSettings

__all__ = [
    "Admission",
    "TeamsSettings",
    "TenantGate",
    "admit",
    "allowed_tenants",
    "inbound_text",
    "send_typing",
    "teams_activity",
]
