"""Every verification method by name, built from the settings: the one table the dialog
and the admin's `enrolment status` both judge accounts by."""

from collections.abc import Mapping

from adapters.delivery import Medium
from dialogs.methods.authenticator import AuthenticatorMethod
from dialogs.methods.base import VerificationMethod
from dialogs.methods.codes import CodeMethod
from dialogs.methods.questions import QuestionsMethod
from dialogs.settings import DialogSettings

CODE_MEDIA: tuple[Medium, ...] = ("email", "sms", "voice")


def code_methods() -> dict[str, CodeMethod]:
    return {medium: CodeMethod(medium) for medium in CODE_MEDIA}


def verification_methods(
    settings: DialogSettings, codes: Mapping[str, CodeMethod]
) -> dict[str, VerificationMethod]:
    """`codes`: the code methods (`code_methods()`), kept by a caller that also needs them
    as what they are."""
    return {
        **codes,
        "authenticator": AuthenticatorMethod(),
        "questions": QuestionsMethod(settings.questions.asked),
    }
