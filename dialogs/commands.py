"""What a message says before any step reads it: cleaned text, a command word, the
account a request names."""

import re
import unicodedata

MAX_MESSAGE = 1000
MAX_ACCOUNT_NAME = 256
_COMMANDS = {
    "cancel": "cancel",
    "stop": "cancel",
    "quit": "cancel",
    "exit": "cancel",
    "help": "help",
    "?": "help",
    "agent": "agent",
    "human": "agent",
    "helpdesk": "agent",
    "person": "agent",
    "other": "other",
    "resend": "resend",
    "register": "register",
    "set up": "register",
    "setup": "register",
    "enrol": "register",
    "enroll": "register",
}
_OWN = {"my", "me", "mine", "password", "pw", "pwd"}
_RESET_TARGET = re.compile(
    r"^(?:please\s+)?reset\s+(?:the\s+)?(?:password\s+(?:for|of)\s+)?"
    r"(?P<name>[^\s']+?)(?:'s)?(?:\s+password)?[.!]?$"
)


def clean(text: str) -> str:
    """Drop control characters (a pasted NUL or escape must not reach a directory query)."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t").strip()


def command(text: str) -> str | None:
    """The command a whole message is ("stop" and "quit" are both "cancel"), if any."""
    return _COMMANDS.get(text.casefold())


def requested_account(text: str) -> str | None:
    """The account named in "reset bob" / "reset password for bob", if any other than 'my'."""
    match = _RESET_TARGET.match(text.casefold())
    if not match or match.group("name") in _OWN:
        return None
    return match.group("name")
