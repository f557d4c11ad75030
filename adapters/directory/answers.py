"""Security answers: normalised, then hashed; the only way an answer is ever compared.

A person types "  New   York" on a phone today and "new york" on a laptop years after
enrolling; both must match, so answers are normalised before hashing. The hash functions
are CPU-heavy on purpose: call them through `asyncio.to_thread`, never on the event loop.
"""

import unicodedata
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER: Final = PasswordHasher()


def normalise_answer(text: str) -> str:
    """Compatibility-normalised (NFKC), case-folded, whitespace runs collapsed and stripped.

    NFKC runs again after case folding because folding can produce characters that NFKC
    would have composed ("Unicode caseless identifier matching").
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def hash_answer(text: str) -> str:
    """The argon2id hash of the normalised answer, safe to store."""
    return _HASHER.hash(normalise_answer(text))


def answer_matches(answer_hash: str, text: str) -> bool:
    """Whether `text` is the enrolled answer; False, never an exception, for a bad hash."""
    try:
        return _HASHER.verify(answer_hash, normalise_answer(text))
    except (VerificationError, InvalidHashError):
        return False
