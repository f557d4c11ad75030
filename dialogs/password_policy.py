"""The bot's own check of a new password, before the directory applies its policy.

NIST SP 800-63B: a length floor, a generous ceiling, no composition rules, a blocklist of
common passwords and context words, and a reason the user can act on. Beyond NIST, a
password must be something a person can type and a directory can store: no control
characters anywhere, and more than blanks.
"""

import re
import secrets
import string
import unicodedata
from dataclasses import dataclass
from importlib.resources import files

from dialogs.settings import PasswordSettings

_EDGE = re.compile(r"^[\W\d_]+|[\W\d_]+$")

# Refused anywhere: C0 and C1 controls and DEL (Cc: NUL, tab, line breaks, escape), which
# directories and the protocols on the way cut, drop or reject (a C string ends at NUL), and
# lone surrogates (Cs), which no directory can encode.
_NEVER = frozenset({"Cc", "Cs"})
# A password of nothing but these is blank to the eye: spaces and invisible format marks.
_BLANK = frozenset({"Zs", "Zl", "Zp", "Cf"})


def _common_passwords() -> frozenset[str]:
    text = files("config").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


@dataclass(frozen=True)
class PolicyRefusal:
    """Why a password was refused: a catalog message key and its values."""

    message: str
    values: dict[str, int]


class PasswordPolicy:
    def __init__(self, settings: PasswordSettings) -> None:
        self._settings = settings
        self._common = _common_passwords()
        self._banned = [word.casefold() for word in settings.banned_words if word.strip()]

    def refusal(self, password: str, context_words: list[str]) -> PolicyRefusal | None:
        """The first reason to refuse `password`, or None when it may go to the directory."""
        settings = self._settings
        if len(password) < settings.min_length:
            return PolicyRefusal("password_too_short", {"min": settings.min_length})
        if len(password) > settings.max_length:
            return PolicyRefusal("password_too_long", {"max": settings.max_length})
        if not _typeable(password):
            return PolicyRefusal("password_characters", {})
        folded = password.casefold()
        if folded in self._common or _EDGE.sub("", folded) in self._common:
            return PolicyRefusal("password_common", {})
        if any(word in folded for word in self._banned):
            return PolicyRefusal("password_banned", {})
        personal = (word.casefold() for word in context_words if len(word) >= 3)
        if any(word in folded for word in personal):
            return PolicyRefusal("password_personal", {})
        return None

    def temporary(self) -> str:
        """A generated password that meets common directory rules (Entra: 3 of 4 classes)."""
        classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits, "-_.!#%+="]
        alphabet = "".join(classes)
        length = self._settings.temporary_length
        while True:
            candidate = "".join(secrets.choice(alphabet) for _ in range(length))
            if all(any(ch in group for ch in candidate) for group in classes):
                return candidate


def _typeable(password: str) -> bool:
    """No control character anywhere, and something other than blanks."""
    categories = [unicodedata.category(ch) for ch in password]
    if any(category in _NEVER for category in categories):
        return False
    return not all(category in _BLANK for category in categories)
