"""What a passed check proves: the mailbox, the mobile phone, the office phone, the app or
the answers, never the way a code travelled.

Entra counts the mobile phone as one method whether it texts or calls, so two checks that
reach the same phone are one verification, and `verification.required: 2` needs two
different proofs. A call proves the office phone when it rings there: the account has no
mobile phone, or its mobile phone is proven already and the office number is another one.
"""

from collections.abc import Iterable, Sequence
from typing import Literal

MethodName = Literal["email", "sms", "voice", "authenticator", "questions"]
Proof = Literal["email", "mobile_phone", "office_phone", "authenticator", "questions"]

# What each method can prove at best, in the order it tries them for an account.
PROOFS: dict[MethodName, tuple[Proof, ...]] = {
    "email": ("email",),
    "sms": ("mobile_phone",),
    "voice": ("mobile_phone", "office_phone"),
    "authenticator": ("authenticator",),
    "questions": ("questions",),
}

_SAID: dict[Proof, str] = {
    "email": "the mailbox",
    "mobile_phone": "the mobile phone",
    "office_phone": "the office phone",
    "authenticator": "the authenticator app",
    "questions": "the security questions",
}


def provable(methods: Iterable[MethodName]) -> set[Proof]:
    """Everything `methods` can prove together, for an account that has every contact."""
    return {proof for method in methods for proof in PROOFS[method]}


def shortfall(methods: Sequence[MethodName], required: int) -> str | None:
    """Why no account at all could pass `required` different checks with `methods` (None
    when one with every contact could): the reason an admin reads at the setting."""
    if len(provable(methods)) >= required:
        return None
    return (
        f"no one can pass {required} different checks: {_only(methods)} (a text and a call "
        "to the same phone count once); enable another method or set 1"
    )


def admin_shortfall(methods: Sequence[MethodName]) -> str | None:
    """Why no administrator could reset under the two-gate rule (two different proofs,
    never security questions), or None."""
    besides = [method for method in methods if method != "questions"]
    if len(provable(besides)) >= 2:
        return None
    return (
        "administrators need 2 different checks besides security questions, but "
        f"{_only(besides)}: every administrator is sent to the helpdesk"
    )


def _only(methods: Sequence[MethodName]) -> str:
    said = " and ".join(_SAID[proof] for proof in sorted(provable(methods)))
    return f"checks by {', '.join(methods) or 'no method'} prove only {said or 'nothing'}"
