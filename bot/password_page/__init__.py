"""The one-time password page: the new password is chosen here, never in the chat."""

from bot.password_page.notify import ChatNotifier
from bot.password_page.page import SECURITY_HEADERS, PasswordPage
from bot.password_page.routes import add_password_page_routes

__all__ = [
    "SECURITY_HEADERS",
    "ChatNotifier",
    "PasswordPage",
    "add_password_page_routes",
]
