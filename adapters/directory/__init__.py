"""Where accounts live."""

from adapters.directory.base import (
    Account,
    Directory,
    DirectoryUnavailable,
    PasswordRejected,
    ResetNotPermitted,
    SecurityQuestion,
)

__all__ = [
    "Account",
    "Directory",
    "DirectoryUnavailable",
    "PasswordRejected",
    "ResetNotPermitted",
    "SecurityQuestion",
]
