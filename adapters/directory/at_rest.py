"""How the embedded directory keeps credentials on disk.

TOTP secrets must be read back, so they are encrypted (Fernet); passwords only need to be
checked, so they are hashed (argon2id). The hashing functions are CPU-heavy on purpose:
call them through `asyncio.to_thread`, never on the event loop.
"""

import base64
import binascii
from collections.abc import Mapping
from typing import Final

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

ENCRYPTION_KEY_VARIABLE: Final = "SSPR_ENCRYPTION_KEY"

DEMO_ENCRYPTION_KEY: Final = "c3Nwci1ib3QtZGVtby1rZXktcHVibGlzaGVkLW9wZW4="
"""Published with the source so that the demo directory works out of the box.

Anything encrypted with it is readable by anyone: it protects nothing, and the composition
root warns loudly whenever it is in use.
"""

_HASHER: Final = PasswordHasher()


class InvalidEncryptionKey(ValueError):
    """The configured key is not a Fernet key. The message never contains the value."""


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with this key (wrong key, or the token is damaged)."""


class EncryptionKey:
    """The key that encrypts enrolled TOTP secrets; `is_demo` says it is the published one."""

    def __init__(self, fernet_key: str | bytes) -> None:
        raw = fernet_key.encode() if isinstance(fernet_key, str) else fernet_key
        try:
            self._fernet = Fernet(raw)
        except (ValueError, binascii.Error):
            raise InvalidEncryptionKey(
                f"{ENCRYPTION_KEY_VARIABLE} is not a Fernet key (32 bytes, url-safe base64). "
                "Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from None
        self.is_demo = base64.urlsafe_b64decode(raw) == base64.urlsafe_b64decode(
            DEMO_ENCRYPTION_KEY
        )

    @classmethod
    def demo(cls) -> "EncryptionKey":
        return cls(DEMO_ENCRYPTION_KEY)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "EncryptionKey":
        """The key in SSPR_ENCRYPTION_KEY, or the demo key when it is unset or empty.

        Falling back keeps the first run friction-free; the caller must check `is_demo`
        and warn, because the demo key is public.
        """
        value = environ.get(ENCRYPTION_KEY_VARIABLE, "").strip()
        return cls(value) if value else cls.demo()

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretUnreadable(
                f"a stored secret cannot be decrypted with this {ENCRYPTION_KEY_VARIABLE}"
            ) from None


def hash_password(password: str) -> str:
    """An argon2id hash (RFC 9106 parameters) of `password`, salted, safe to store."""
    return _HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether `password` is the one hashed; False (never an exception) for a bad hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def is_argon2id_hash(value: str) -> bool:
    """Whether `value` is an encoded argon2id hash, so bad data is caught when it is loaded."""
    try:
        return extract_parameters(value).type is Type.ID
    except InvalidHashError:
        return False
