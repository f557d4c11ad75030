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

__all__ = [
    "AuthenticatorMethod",
    "CodeMethod",
    "FlowLocked",
    "MethodKit",
    "PhoneBudgetSpent",
    "QuestionsMethod",
    "Result",
    "Verdict",
    "VerificationMethod",
]
