"""The one-time password page: the new password is chosen here, never in the chat."""

from bot.password_page.notify import ChatNotifier, Notice, RecordingNotifier
from bot.password_page.routes import SECURITY_HEADERS, PasswordPage, add_password_page_routes

__all__ = [
    "SECURITY_HEADERS",
    "ChatNotifier",
    "Notice",
    "PasswordPage",
    "RecordingNotifier",
    "add_password_page_routes",
]
