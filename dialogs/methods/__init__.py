"""Verification methods: each offers itself, issues a challenge and checks the answer."""

from dialogs.methods.authenticator import AuthenticatorMethod
from dialogs.methods.base import (
    FlowLocked,
    MethodKit,
    PhoneBudgetSpent,
    Result,
    Verdict,
    VerificationMethod,
)
from dialogs.methods.codes import CodeMethod
from dialogs.methods.questions import QuestionsMethod
from dialogs.methods.table import CODE_MEDIA, code_methods, verification_methods

__all__ = [
    "CODE_MEDIA",
    "AuthenticatorMethod",
    "CodeMethod",
    "FlowLocked",
    "MethodKit",
    "PhoneBudgetSpent",
    "QuestionsMethod",
    "Result",
    "Verdict",
    "VerificationMethod",
    "code_methods",
    "verification_methods",
]
