"""Tickets handed from the helpdesk to the bot: a signed request naming a user, who is
offered the reset in their own chat."""

from adapters.tickets.signature import is_signed, signature_headers
from bot.handoff.routes import HANDOFF_PATH, add_handoff_routes
from bot.handoff.service import SECRET_VARIABLE, HandOff, HandOffRequest, handoff_secret

__all__ = [
    "HANDOFF_PATH",
    "SECRET_VARIABLE",
    "HandOff",
    "HandOffRequest",
    "add_handoff_routes",
    "handoff_secret",
    "is_signed",
    "signature_headers",
]
