"""The bot's own check of a new password, before the directory applies its policy; the one
check the chat, the password page and `sspr-bot password check` share.

NIST SP 800-63B: a length floor, a generous ceiling, no composition rules, a blocklist of
common and breached passwords and of context words, and a reason the user can act on. A
password must also be something a person can type and a directory can store: no control
characters anywhere, and more than blanks.

The rules, each with its reason, in the order they are applied:

1. Length: `min_length` to `max_length` characters.
2. Characters: no control character, not only blanks.
3. The organisation's banned words (`banned_words`) and the account's own names (username,
   display name, the email's local part and its pieces) may not appear anywhere, once both
   are normalised: accents dropped, case folded, a letter written once or many times, and
   each letter also as the digits and symbols that stand for it (`@` and `4` for a, `0` for
   o, `$` and `5` for s, `1` for i or l ..., zxcvbn's table), forwards or backwards. So
   `C0nt0s0!!2024` contains contoso and `Al1ce` contains alice. This is stricter than
   Entra, which scores an organisation's words like common passwords (rule 4): here a
   password that names the company or the person is refused whatever else it holds.
4. Common passwords, scored the way Microsoft Entra's banned-password check scores them: the
   normalised password is read as fragments, where a fragment is a common or breached
   password (zxcvbn's frequency list of 30,000, the bot's own `config/common-passwords.txt`
   and the files in `common_lists`, found in any case, with look-alike characters or
   reversed), a keyboard walk (`qwerty`, `1q2w3e4r`), a repeat (`aaaa`, `Password1Password1`),
   a sequence (`abcd`, `1234`) or a date or year; each fragment is worth one point and
   every other character one point. A password worth fewer than five points in the reading
   that gives it the fewest is refused: `Summer2024!!` is summer + 2024 + ! + ! = 4
   points, `Password1Password1` one repeat = 1, `Correct horse battery staple 42` 27.
   Only the first 72 characters are read (zxcvbn's own limit): a longer password that
   passes on them passes, and the time taken stays small.
5. Breaches: with `pwned.enabled`, a password Have I Been Pwned knows is refused
   (`adapters.pwned`); when the service does not answer, the rules above decide alone.
"""

import re
import secrets
import string
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from zxcvbn import matching  # type: ignore[import-untyped]

from adapters.directory import Account
from adapters.pwned import BreachCheck
from dialogs.settings import PasswordSettings

ENOUGH = 5
"""Points a password needs (Entra's banned-password check asks for 5)."""
ANALYSED = 72
"""Characters scored against the common lists; zxcvbn's own limit."""
_SHORTEST_FRAGMENT = 3
_SHORTEST_WALK = 4
_SHORTEST_NAME = 3

# Refused anywhere: C0 and C1 controls and DEL (Cc: NUL, tab, line breaks, escape), which
# directories and the protocols on the way cut, drop or reject (a C string ends at NUL), and
# lone surrogates (Cs), which no directory can encode.
_NEVER = frozenset({"Cc", "Cs"})
# A password of nothing but these is blank to the eye: spaces and invisible format marks.
_BLANK = frozenset({"Zs", "Zl", "Zp", "Cf"})
# What separates the pieces of an email's local part: alice.wilber, alice_w, alice+hr.
_PIECES = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class PolicyRefusal:
    """Why a password was refused: a catalog message key and its values."""

    message: str
    values: dict[str, int]


class PasswordPolicy:
    def __init__(self, settings: PasswordSettings, breaches: BreachCheck) -> None:
        """Reads the common lists once: the packaged ones and `settings.common_lists`."""
        self._settings = settings
        self._breaches = breaches
        self._common = {"passwords": _common_passwords(settings.common_lists)}
        self._banned = _WordSearch(settings.banned_words)

    async def refusal(self, password: str, context_words: Sequence[str]) -> PolicyRefusal | None:
        """The first reason to refuse `password`, or None when it may go to the directory.
        `context_words`: the account's own names, as the module's `context_words` gives
        them. The breach check is asked last, only about a password nothing else refused."""
        refusal = self._offline_refusal(password, context_words)
        if refusal is not None:
            return refusal
        if await self._breaches.times_seen(password):
            return PolicyRefusal("password_breached", {})
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

    def _offline_refusal(self, password: str, context_words: Sequence[str]) -> PolicyRefusal | None:
        settings = self._settings
        if len(password) < settings.min_length:
            return PolicyRefusal("password_too_short", {"min": settings.min_length})
        if len(password) > settings.max_length:
            return PolicyRefusal("password_too_long", {"max": settings.max_length})
        if not _typeable(password):
            return PolicyRefusal("password_characters", {})
        folded = _folded(password)
        if self._banned.found_in(folded):
            return PolicyRefusal("password_banned", {})
        if _WordSearch(context_words).found_in(folded):
            return PolicyRefusal("password_personal", {})
        if points(folded[:ANALYSED], self._common) < ENOUGH:
            return PolicyRefusal("password_common", {})
        return None


def context_words(account: Account) -> list[str]:
    """Words a password must not be built from: the account's own names, and the pieces of
    its email's local part (alice.wilber@ gives alice.wilber, alice and wilber)."""
    words = [account.username, *account.display_name.split()]
    if account.email:
        local = account.email.partition("@")[0]
        words += [local, *_PIECES.split(local)]
    return words


def points(text: str, dictionaries: dict[str, dict[str, int]]) -> int:
    """The fewest points any reading of `text` gives: one per fragment, one per character
    outside the fragments (see the module's docstring)."""
    ending_at: dict[int, list[int]] = {}
    for start, end in _fragments(text, dictionaries):
        ending_at.setdefault(end, []).append(start)
    fewest = [0] * (len(text) + 1)
    for end in range(1, len(text) + 1):
        fewest[end] = min(
            [fewest[end - 1] + 1, *(fewest[start] + 1 for start in ending_at.get(end, ()))]
        )
    return fewest[-1]


def _fragments(text: str, dictionaries: dict[str, dict[str, int]]) -> set[tuple[int, int]]:
    """Where zxcvbn finds a common password or a pattern, as (start, end) slices; too short
    a find (a two-letter word, a three-key walk) is no fragment."""
    found: set[tuple[int, int]] = set()
    for match in matching.omnimatch(text, dictionaries):
        start, end = match["i"], match["j"] + 1
        shortest = _SHORTEST_WALK if match["pattern"] == "spatial" else _SHORTEST_FRAGMENT
        if end - start >= shortest:
            found.add((start, end))
    return found


class _WordSearch:
    """Words found in a normalised password (`_folded`), written with look-alikes, letters
    doubled, or backwards."""

    def __init__(self, words: Iterable[str]) -> None:
        folded = {_folded(word.strip()) for word in words}
        patterns = [_look_alike(word) for word in sorted(folded) if len(word) >= _SHORTEST_NAME]
        self._pattern = re.compile("|".join(patterns)) if patterns else None

    def found_in(self, folded: str) -> bool:
        if self._pattern is None:
            return False
        return bool(self._pattern.search(folded) or self._pattern.search(folded[::-1]))


def _look_alike(word: str) -> str:
    """A pattern for `word` with each letter once or more, as itself or a look-alike."""
    table: dict[str, list[str]] = matching.L33T_TABLE
    return "".join(f"[{re.escape(ch + ''.join(table.get(ch, ())))}]+" for ch in word)


def _folded(text: str) -> str:
    """`text` as it is compared: compatibility forms unified (full-width letters), accents
    dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return kept.casefold()


def _common_passwords(extra: Sequence[str]) -> dict[str, int]:
    """zxcvbn's passwords ranked by frequency, then the packaged list's and the extra files'
    (ranks are not used: any entry found is a fragment)."""
    ranked: dict[str, int] = dict(matching.RANKED_DICTIONARIES["passwords"])
    texts = [files("config").joinpath("common-passwords.txt").read_text(encoding="utf-8")]
    texts += [
        Path(name).expanduser().read_text(encoding="utf-8", errors="replace") for name in extra
    ]
    for text in texts:
        for entry in _entries(text):
            ranked.setdefault(entry, len(ranked) + 1)
    return ranked


def _entries(text: str) -> Iterable[str]:
    for line in text.splitlines():
        entry = _folded(line.strip())
        if entry and not entry.startswith("#"):
            yield entry


def _typeable(password: str) -> bool:
    """No control character anywhere, and something other than blanks."""
    categories = [unicodedata.category(ch) for ch in password]
    if any(category in _NEVER for category in categories):
        return False
    return not all(category in _BLANK for category in categories)
